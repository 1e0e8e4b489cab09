"""Bounds a client cannot push past (SPEC §10 limits): slow consumers are cut off, pattern
complexity is bounded, and MQTT topics cannot smuggle in fox's `*` wildcard."""
import json
import os
import socket
import tempfile
import time
import unittest

from harness import Fox, SharedFoxCase
from mqtt_client import RawMqtt, publish_packet
from raw_wamp import RawSocketClient, hello

ERROR, SUBSCRIBE, SUBSCRIBED, PUBLISH, REGISTER, REGISTERED, CALL = 8, 32, 33, 16, 64, 65, 48


class SlowConsumerTest(unittest.TestCase):
    def test_a_client_that_stops_reading_is_cut_off_and_leaves_its_realm(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "fox.json")
        with open(path, "w") as f:
            json.dump({"limits": {"session_queue": 50}}, f)
        with Fox("--config", path) as fox:
            slow = RawSocketClient(fox.rawsocket_port)
            slow.send_msg(hello())
            assert slow.recv_msg()[0] == 2
            slow.send_msg([REGISTER, 1, {}, "slow.proc"])
            self.assertEqual(slow.recv_msg()[0], REGISTERED)
            slow.send_msg([SUBSCRIBE, 2, {}, "slow.topic"])
            self.assertEqual(slow.recv_msg()[0], SUBSCRIBED)
            slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            # From here on `slow` reads nothing.
            pub = RawSocketClient(fox.rawsocket_port)
            pub.send_msg(hello())
            assert pub.recv_msg()[0] == 2
            blob = "x" * 100000
            for i in range(300):
                pub.send_msg([PUBLISH, i + 1, {}, "slow.topic", [blob]])
            fox.wait_log("slow consumer", timeout=10)
            # The cut-off session has left: its procedure is gone.
            deadline = time.monotonic() + 5
            while True:
                pub.send_msg([CALL, 1000, {}, "slow.proc"])
                answer = pub.recv_msg(timeout=5)
                if answer and answer[0] == ERROR:
                    break
                self.assertLess(time.monotonic(), deadline, f"no ERROR for the call: {answer}")
            self.assertIn(answer[4], ("wamp.error.no_such_procedure", "wamp.error.canceled"))
            slow.close()
            pub.close()


class PatternBoundsTest(SharedFoxCase):
    def test_subscriptions_with_too_many_or_repeated_hash_parts_are_invalid_uris(self):
        c = RawSocketClient(self.fox.rawsocket_port)
        c.send_msg(hello())
        assert c.recv_msg()[0] == 2
        for i, topic in enumerate(["a.#.#", "#.b.#.c.#.d.#", "#.#"]):
            c.send_msg([SUBSCRIBE, i + 1, {}, topic])
            answer = c.recv_msg()
            self.assertEqual((answer[0], answer[4]), (ERROR, "wamp.error.invalid_uri"), topic)
        c.send_msg([SUBSCRIBE, 9, {}, "#.b.#.c.#"])
        self.assertEqual(c.recv_msg()[0], SUBSCRIBED)
        c.close()


class LargeObjectTest(unittest.TestCase):
    def test_a_publication_with_a_200000_member_object_does_not_stall_other_clients(self):
        # JSON objects keep their member order; a naive ordered map makes parsing such an object
        # quadratic (60 000 members stalled the loop for 6 s). Another client's call is answered
        # while the big publication is routed, and the subscriber gets it whole.
        with Fox() as fox:
            sub = RawSocketClient(fox.rawsocket_port, timeout=20)
            sub.send_msg(hello())
            assert sub.recv_msg()[0] == 2
            sub.send_msg([SUBSCRIBE, 1, {}, "big.object"])
            self.assertEqual(sub.recv_msg()[0], SUBSCRIBED)
            other = RawSocketClient(fox.rawsocket_port, timeout=20)
            other.send_msg(hello())
            assert other.recv_msg()[0] == 2
            pub = RawSocketClient(fox.rawsocket_port, timeout=20)
            pub.send_msg(hello())
            assert pub.recv_msg()[0] == 2
            big = {f"k{i}": i for i in range(200000)}
            pub.send_msg([PUBLISH, 1, {}, "big.object", [big]])
            start = time.monotonic()
            other.send_msg([CALL, 2, {}, "wamp.session.count"])
            answer = other.recv_msg(timeout=20)
            self.assertEqual(answer[0], 50, answer)
            self.assertLess(time.monotonic() - start, 5.0, "the loop stalled")
            event = sub.recv_msg(timeout=20)
            self.assertEqual(len(event[4][0]), 200000)
            self.assertEqual(list(event[4][0])[:3], ["k0", "k1", "k2"])
            for c in (sub, other, pub):
                c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
