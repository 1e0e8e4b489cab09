"""WAMP features that python3-autobahn 22.7 cannot express (it has no disclose_me, refuses
fox-wamp's in-band wildcards client-side and always cancels with the default mode), driven with
raw JSON frames over RawSocket."""
import unittest

from harness import SharedFoxCase
from raw_wamp import RawSocketClient, hello

PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED, EVENT = 16, 17, 32, 33, 36
CALL, CANCEL, RESULT, REGISTER, REGISTERED, INVOCATION, INTERRUPT, YIELD, ERROR = \
    48, 49, 50, 64, 65, 68, 69, 70, 8


class RawFeaturesTest(SharedFoxCase):
    def join(self):
        c = RawSocketClient(self.fox.rawsocket_port)
        c.send_msg(hello())
        welcome = c.recv_msg()
        self.assertEqual(welcome[0], 2, welcome)
        c.session = welcome[1]
        self.addCleanup(c.close)
        return c

    def expect(self, client, code):
        msg = client.recv_msg()
        self.assertIsNotNone(msg, "connection closed")
        self.assertEqual(msg[0], code, msg)
        return msg

    def test_disclose_me_puts_the_publisher_in_event_details(self):
        pub, sub = self.join(), self.join()
        sub.send_msg([SUBSCRIBE, 1, {}, "raw.disclose"])
        self.expect(sub, SUBSCRIBED)
        pub.send_msg([PUBLISH, 1, {"acknowledge": True, "disclose_me": True}, "raw.disclose", [1]])
        self.expect(pub, PUBLISHED)
        event = self.expect(sub, EVENT)
        self.assertEqual(event[3].get("publisher"), pub.session)
        pub.send_msg([PUBLISH, 2, {"acknowledge": True}, "raw.disclose", [2]])
        self.expect(pub, PUBLISHED)
        event = self.expect(sub, EVENT)
        self.assertNotIn("publisher", event[3])

    def test_in_band_wildcards_match_one_part_and_any_parts(self):
        pub, sub = self.join(), self.join()
        sub.send_msg([SUBSCRIBE, 1, {}, "raw.*.item"])
        star = self.expect(sub, SUBSCRIBED)[2]
        sub.send_msg([SUBSCRIBE, 2, {}, "raw.deep.#"])
        hash_ = self.expect(sub, SUBSCRIBED)[2]
        for i, topic in enumerate(["raw.123.item", "raw.deep", "raw.deep.a.b", "raw.x.y.item"]):
            pub.send_msg([PUBLISH, i + 1, {"acknowledge": True}, topic])
            self.expect(pub, PUBLISHED)
        got = [self.expect(sub, EVENT) for _ in range(3)]
        self.assertEqual([(e[1], e[3]["topic"]) for e in got],
                         [(star, "raw.123.item"), (hash_, "raw.deep"), (hash_, "raw.deep.a.b")])

    def test_invocation_discloses_the_caller_when_the_callee_asks(self):
        callee, caller = self.join(), self.join()
        callee.send_msg([REGISTER, 1, {"disclose_caller": True}, "raw.who"])
        self.expect(callee, REGISTERED)
        caller.send_msg([CALL, 7, {}, "raw.who", ["x"]])
        inv = self.expect(callee, INVOCATION)
        self.assertEqual(inv[3].get("caller"), caller.session)
        self.assertEqual(inv[4], ["x"])
        callee.send_msg([YIELD, inv[1], {}, ["ok"], {"k": 1}])
        res = self.expect(caller, RESULT)
        self.assertEqual(res[1:], [7, {}, ["ok"], {"k": 1}])

    def test_cancel_skip_answers_the_caller_and_does_not_interrupt_the_callee(self):
        callee, caller = self.join(), self.join()
        callee.send_msg([REGISTER, 1, {}, "raw.skip"])
        self.expect(callee, REGISTERED)
        caller.send_msg([CALL, 3, {}, "raw.skip"])
        inv = self.expect(callee, INVOCATION)
        caller.send_msg([CANCEL, 3, {"mode": "skip"}])
        err = self.expect(caller, ERROR)
        self.assertEqual((err[1], err[2], err[4]), (CALL, 3, "wamp.error.canceled"))
        callee.send_msg([YIELD, inv[1], {}, ["late"]])
        # The late answer is dropped: the next call still works and its result is the next message.
        caller.send_msg([CALL, 4, {}, "raw.skip"])
        inv2 = self.expect(callee, INVOCATION)
        callee.send_msg([YIELD, inv2[1], {}, ["second"]])
        self.assertEqual(self.expect(caller, RESULT)[1:4], [4, {}, ["second"]])

    def test_cancel_kill_interrupts_the_callee_and_forwards_its_error(self):
        callee, caller = self.join(), self.join()
        callee.send_msg([REGISTER, 1, {}, "raw.kill"])
        self.expect(callee, REGISTERED)
        caller.send_msg([CALL, 5, {}, "raw.kill"])
        inv = self.expect(callee, INVOCATION)
        caller.send_msg([CANCEL, 5, {"mode": "kill"}])
        interrupt = self.expect(callee, INTERRUPT)
        self.assertEqual(interrupt[1], inv[1])
        self.assertEqual(interrupt[2].get("mode"), "kill")
        callee.send_msg([ERROR, INVOCATION, inv[1], {}, "wamp.error.canceled", ["stopped"]])
        err = self.expect(caller, ERROR)
        self.assertEqual((err[2], err[4], err[5]), (5, "wamp.error.canceled", ["stopped"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
