"""Slow consumers (issue: black-box findings, item 4): a reader slower than its publishers.

- MQTT: when a connection's outbound queue is over its limits, QoS 0 messages for it are
  dropped and counted (as mosquitto and EMQX do); the client stays connected and its QoS 1
  messages still arrive, with valid packet ids.
- WAMP: the outbound queue is bounded in bytes (limits.session_queue_bytes) as well as in
  messages; a burst over the bounds that the client reads within a few seconds does not cut it
  off; a client that stays behind is disconnected with a log line.

The subscriber's socket gets a small receive buffer and reads nothing while the burst is sent, so
fox's own queue (not only the kernel's buffers, a few MiB on loopback) fills up.
"""
import json
import os
import re
import socket
import tempfile
import time
import unittest

from harness import Fox, main, wait_for
from mqtt_client import PUBACK, PUBLISH, RawMqtt, ack_packet, parse_publish, publish_packet
from raw_wamp import EVENT, SUBSCRIBE, SUBSCRIBED, WELCOME, JSON, RawSocketClient, encode, hello


def config(limits):
    d = tempfile.mkdtemp(prefix="fox-slow-")
    path = os.path.join(d, "fox.json")
    with open(path, "w") as f:
        json.dump({"limits": limits}, f)
    return path


def dropped_so_far(log):
    """The highest "(N dropped so far)" count fox logged for QoS 0 drops, or 0."""
    counts = [int(n) for n in re.findall(r"dropped QoS 0 messages \((\d+) dropped so far\)", log)]
    return max(counts, default=0)


class MqttQos0Drops(unittest.TestCase):
    def test_a_slow_subscriber_loses_qos0_messages_but_stays_connected_and_gets_qos1(self):
        with Fox("--config", config({"session_queue": 200})) as fox:
            slow = RawMqtt(fox.mqtt_port, timeout=30.0)
            slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            self.assertEqual(slow.connect("slow-reader")[1], 0)
            self.assertEqual(slow.subscribe(1, [("burst/t", 1)]), [1])
            # From here on `slow` reads nothing until the burst is over.
            pub = RawMqtt(fox.mqtt_port, timeout=30.0)
            self.assertEqual(pub.connect("burst-publisher")[1], 0)
            payload = b"p" * 100
            burst = b"".join(publish_packet("burst/t", payload) for _ in range(2000))
            for _ in range(32):  # 64 000 ...
                pub.send(burst)
            pub.send(b"".join(publish_packet("burst/t", payload) for _ in range(1000)))  # 65 000
            fox.wait_log("dropped QoS 0 messages", timeout=20)
            self.assertNotIn("slow consumer", fox.log())
            # Then 5 QoS 1 messages: they wait in the session, not dropped.
            for i in range(5):
                pub.send(publish_packet("burst/t", b"q1-%d" % i, qos=1, pid=i + 1))
                pub.expect(PUBACK)
            # The slow reader now reads everything: QoS 0 ones (some), then the five QoS 1 ones.
            got_qos1 = []
            received_qos0 = 0
            deadline = time.monotonic() + 30
            while len(got_qos1) < 5:
                self.assertLess(time.monotonic(), deadline, f"QoS 1 messages so far: {got_qos1}")
                packet = slow.read_packet(timeout=30)
                self.assertIsNotNone(packet, "fox closed the slow subscriber's connection")
                kind, flags, body = packet
                self.assertEqual(kind, PUBLISH)
                p = parse_publish(flags, body)
                if p.qos == 0:
                    received_qos0 += 1
                    continue
                self.assertEqual(p.qos, 1)
                self.assertTrue(1 <= p.pid <= 65535, p)
                got_qos1.append((p.payload, p.pid))
                slow.send(ack_packet(PUBACK, p.pid))
            self.assertEqual([m for m, _ in got_qos1], [b"q1-%d" % i for i in range(5)])
            self.assertEqual(len({pid for _, pid in got_qos1}), 5, got_qos1)
            dropped = dropped_so_far(fox.log())
            self.assertGreater(dropped, 0)
            # Every QoS 0 message either arrived or was counted as dropped (the counter is logged
            # on the first drop and every 1000th, so it trails by less than 1000).
            self.assertLessEqual(received_qos0, 65000)
            self.assertGreater(received_qos0 + dropped + 1000, 65000)
            self.assertFalse(slow.closed(timeout=0.2))
            slow.close()
            pub.close()


class WampByteBound(unittest.TestCase):
    def subscriber(self, fox, topic):
        c = RawSocketClient(fox.rawsocket_port, JSON, timeout=30.0)
        c.send_msg(hello("realm1"))
        self.assertEqual(c.recv_msg()[0], WELCOME)
        c.send_msg([SUBSCRIBE, 1, {}, topic])
        self.assertEqual(c.recv_msg()[0], SUBSCRIBED)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        return c

    def publish_burst(self, fox, topic, n, size):
        pub = RawSocketClient(fox.rawsocket_port, JSON, timeout=30.0)
        pub.send_msg(hello("realm1"))
        self.assertEqual(pub.recv_msg()[0], WELCOME)
        body = "x" * size
        frames = []
        for i in range(n):
            m = encode(JSON, [16, i + 1, {}, topic, [i, body]])
            frames.append(len(m).to_bytes(4, "big") + m)
        pub.sock.sendall(b"".join(frames))
        return pub

    def test_a_burst_of_small_events_over_the_message_count_does_not_cut_off_a_reader(self):
        # 3 000 small events against a bound of 1 000 messages: over it for a moment, but the
        # reader catches up within the grace period, so it keeps its session and gets them all.
        with Fox("--config", config({"session_queue": 1000})) as fox:
            sub = self.subscriber(fox, "burst.small")
            pub = self.publish_burst(fox, "burst.small", 3000, 10)
            seen = []
            while len(seen) < 3000:
                msg = sub.recv_msg(timeout=30)
                self.assertIsNotNone(msg, "fox cut the reader off:\n" + fox.log()[-2000:])
                self.assertEqual(msg[0], EVENT)
                seen.append(msg[4][0])
            self.assertEqual(seen, list(range(3000)))
            self.assertNotIn("slow consumer", fox.log())
            sub.close()
            pub.close()

    def test_a_reader_that_stays_behind_is_disconnected_with_a_log_line(self):
        # 1 MiB of queue allowed; 400 events of 64 KiB (25 MiB) are far more than the kernel's
        # buffers and 4 x the bound: the reader that reads nothing is cut off.
        with Fox("--config", config({"session_queue_bytes": 1 << 20})) as fox:
            sub = self.subscriber(fox, "burst.big")
            pub = self.publish_burst(fox, "burst.big", 400, 64 * 1024)
            fox.wait_log("slow consumer", timeout=20)
            # The cut-off session has left its realm: only the publisher is joined. (Its socket
            # drains slowly through the 4 KiB window, so EOF on it is no quick proof.)
            deadline = time.monotonic() + 10
            request = 100000
            while True:
                request += 1
                pub.send_msg([48, request, {}, "wamp.session.count"])
                while True:
                    msg = pub.recv_msg(timeout=10)
                    self.assertIsNotNone(msg)
                    if msg[0] == 50 and msg[1] == request:
                        break
                if msg[3] == [1]:
                    break
                self.assertLess(time.monotonic(), deadline, f"sessions still joined: {msg}")
            sub.close()
            pub.close()


if __name__ == "__main__":
    main()
