"""FOX bad input (src/fox/README.md: "Bad input closes that one connection with one log line
(`fox: PEER: WHY, closing`)"; reference doc §4.5: fox-wamp crashes on 0xc1, on 10 000-deep nesting
and waits for 4 GiB after a str32 header of 2^32-1 — fox must not).

After every case:
  (a) fox closed that connection (TCP: EOF; WebSocket: close code 1003 for bad data, 1009 for a
      message over the limit),
  (b) fox logged exactly one line about it, naming the reason,
  (c) fox is alive and two FOX witnesses connected before the case (a TCP subscriber and a
      WebSocket publisher) are undisturbed: an acknowledged PUSH reaches the TRACE.
One fox (limits.max_message_size 65536) for the file.
"""
import time
import unittest

from fox_client import FoxClient, FoxWsClient, pack
from harness import Fox, event_lines, main, rss_kib, wait_for, write_config

LIMIT = 65536
TOPIC = ["fox", "bad", "witness"]


def deep(depth, kind):
    """A value nested `depth` containers deep (arrays or maps), raw MessagePack."""
    opener = b"\x91" if kind == "array" else b"\x81\xa1k"
    return opener * depth + b"\xc0"


class FoxBadInputCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fox = Fox("--config", write_config({"limits": {"max_message_size": LIMIT}}))
        try:
            cls.sub = FoxClient(cls.fox.fox_port)
            cls.sub.login()
            cls.trace_id, _ = cls.sub.trace(TOPIC)
            cls.pub = FoxWsClient(cls.fox.port)
            cls.pub.login()
        except BaseException:
            cls.fox.__exit__(None, None, None)
            raise
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.sub.close()
        cls.pub.close()
        assert cls.fox.stop() == 0, cls.fox.log()

    def setUp(self):
        self.check_witnesses()
        self.mark = len(self.fox.log())

    def check_witnesses(self):
        if self.fox.proc.poll() is not None:
            raise AssertionError(f"fox exited with {self.fox.proc.returncode}:\n{self.fox.log()}")
        type(self).n += 1
        eid = self.pub.push(TOPIC, {"kv": self.n})
        (ev,) = self.sub.events(self.trace_id, 1)
        self.assertEqual((ev["qid"], ev["data"]), (eid, {"kv": self.n}), "witness event")
        self.assertEqual(self.sub.barrier(), [])

    def bad(self, login=True, ws=False):
        c = FoxWsClient(self.fox.port) if ws else FoxClient(self.fox.fox_port)
        self.addCleanup(c.close)
        if login:
            c.login()
        self.mark = len(self.fox.log())
        return c

    def send_quietly(self, c, data):
        """The server may close before everything is written."""
        try:
            c.send_raw(data)
        except OSError:
            pass

    def assert_closed_and_logged(self, c, needle, close_code=None):
        self.assertTrue(c.closed(3), f"fox did not close the connection ({needle})")
        if close_code is not None:
            self.assertEqual(c.close_code, close_code, c.ws.close_reason)
        wait_for(lambda: needle in self.fox.log()[self.mark:], 3.0,
                 what=f"a log line containing {needle!r}; the log since the case:\n"
                      + self.fox.log()[self.mark:])
        self.check_witnesses()   # a round trip through fox's loop: a late second line would show
        lines = event_lines(self.fox.log()[self.mark:])
        self.assertEqual(len(lines), 1, f"expected one log line about {needle!r}, got {lines}")
        self.assertRegex(lines[0], r"^info fox: 127\.0\.0\.1[^ ]*: .*, closing$")
        self.assertIn(needle, lines[0])
        return lines[0]


class TcpBadInputTest(FoxBadInputCase):
    def test_garbage_bytes(self):
        c = self.bad()
        c.send_raw(b"GET / HTTP/1.1\r\n\r\n")   # 'G' is a positive fixint: not a map
        self.assert_closed_and_logged(c, "a message is not a map")

    def test_a_value_that_is_not_a_map(self):
        for value in ([1, {"ft": "ECHO"}], 5, "ECHO", None, b"\x81"):
            with self.subTest(value=value):
                c = self.bad(login=False)
                c.send(value)
                self.assert_closed_and_logged(c, "a message is not a map")

    def test_the_reserved_byte_0xc1(self):
        for data in (b"\xc1", b"\x82\xa2ft\xa4ECHO\xa2id\xc1"):
            with self.subTest(data=data):
                c = self.bad()
                c.send_raw(data)
                self.assert_closed_and_logged(c, "reserved byte 0xc1")

    def test_a_str32_of_4_gib_is_refused_at_its_header_without_buffering(self):
        c = self.bad()
        before = rss_kib(self.fox.pid)
        start = time.monotonic()
        self.send_quietly(c, b"\x83\xa2ft\xa4ECHO\xa2id\x01\xa4data\xdb\xff\xff\xff\xff")
        chunk = b"x" * 65536
        for _ in range(64):   # 4 MiB more of the string, if fox still reads
            self.send_quietly(c, chunk)
        self.assert_closed_and_logged(c, f"a message over {LIMIT} bytes")
        self.assertLess(time.monotonic() - start, 3.0)
        self.assertLess(rss_kib(self.fox.pid) - before, 20 * 1024, "VmRSS grew by 20 MB or more")

    def test_a_bin32_and_an_array32_announcing_more_than_the_limit(self):
        for data in (b"\x81\xa4data\xc6\x00\x01\x00\x01",          # bin32 of LIMIT + 1 bytes
                     b"\x81\xa4data\xdd\xff\xff\xff\xff",          # array32 of 2^32-1 items
                     b"\x81\xa4data\xdf\x00\x01\x00\x00"):         # map32 of 65536 pairs
            with self.subTest(data=data):
                c = self.bad()
                c.send_raw(data)
                self.assert_closed_and_logged(c, f"a message over {LIMIT} bytes")

    def test_10000_deep_nesting(self):
        for kind in ("array", "map"):
            with self.subTest(kind=kind):
                c = self.bad()
                self.send_quietly(c, b"\x83\xa2ft\xa4ECHO\xa2id\x01\xa4data" + deep(10000, kind))
                self.assert_closed_and_logged(c, "nesting deeper than")

    def test_nesting_of_90_is_fine(self):
        c = self.bad()
        value = None
        for _ in range(90):
            value = [value]
        m = c.request("ECHO", data={"kv": value})
        self.assertEqual(m["data"], {"kv": value})

    def test_an_unknown_ft(self):
        for message in ({"ft": "NOPE", "id": 1}, {"ft": "login", "id": 1}):
            with self.subTest(message=message):
                c = self.bad(login=False)
                c.send(message)
                self.assert_closed_and_logged(c, "unknown ft " + message["ft"])

    def test_control_bytes_in_an_ft_cannot_forge_log_lines(self):
        c = self.bad(login=False)
        c.send({"ft": "X\ninfo fake: injected\r", "id": 1})
        line = self.assert_closed_and_logged(c, "unknown ft X\\x0ainfo fake: injected\\x0d")
        self.assertNotIn("\r", line)

    def test_a_message_without_ft(self):
        for message in ({"id": 1}, {"ft": 5, "id": 1}):
            with self.subTest(message=message):
                c = self.bad()
                c.send(message)
                self.assert_closed_and_logged(c, "a message without ft")

    def test_a_command_without_a_valid_id(self):
        for message_id in (None, -1, 1.5, "7", float("nan"), 2 ** 60):
            with self.subTest(id=message_id):
                c = self.bad()
                msg = {"ft": "ECHO", "data": None}
                if message_id is not None:
                    msg["id"] = message_id
                c.send(msg)
                self.assert_closed_and_logged(c, "ECHO without a valid id")
                self.assertEqual(c.inbox, [], "the bad ECHO was answered")

    def test_a_yield_without_a_valid_qid_or_with_a_bad_rqt(self):
        for message, needle in (({"ft": "YIELD", "rqt": "OK"}, "YIELD without a valid qid"),
                                ({"ft": "YIELD", "qid": 1, "rqt": "MAYBE"}, "YIELD with rqt MAYBE")):
            with self.subTest(message=message):
                c = self.bad()
                c.send(message)
                self.assert_closed_and_logged(c, needle)

    def test_a_map_key_that_is_not_a_string(self):
        c = self.bad()
        c.send_raw(b"\x82\xa2ft\xa4ECHO\x01\x02")
        self.assert_closed_and_logged(c, "a map key that is not a string")

    def test_a_message_over_the_limit(self):
        c = self.bad()
        self.send_quietly(c, pack({"ft": "ECHO", "id": 1, "data": {"kv": "x" * (LIMIT + 10)}}))
        self.assert_closed_and_logged(c, f"a message over {LIMIT} bytes")
        self.assertEqual(c.inbox, [])

    def test_a_message_under_the_limit_is_answered_and_the_connection_stays(self):
        c = self.bad()
        big = "y" * (LIMIT - 100)
        m = c.request("ECHO", data={"kv": big})
        self.assertEqual(m["data"], {"kv": big})
        self.assertEqual(c.request("ECHO", data=None)["rsp"], "OK")
        self.assertEqual(self.fox.log()[self.mark:], "")

    def test_messages_in_one_write_and_one_message_in_many_writes(self):
        c = self.bad()
        c.send_raw(b"".join(pack({"ft": "ECHO", "id": i, "data": {"kv": i}}) for i in (10, 11, 12)))
        self.assertEqual([c.answer(i)["data"] for i in (10, 11, 12)],
                         [{"kv": 10}, {"kv": 11}, {"kv": 12}])
        data = pack({"ft": "ECHO", "id": 13, "data": {"kv": "x" * 300}})
        for i in range(len(data)):
            c.send_raw(data[i:i + 1])
        self.assertEqual(c.answer(13)["data"], {"kv": "x" * 300})
        self.assertEqual(self.fox.log()[self.mark:], "")

    def test_a_message_cut_short_then_closed_by_the_client_logs_nothing_alarming(self):
        c = self.bad()
        c.send_raw(pack({"ft": "ECHO", "id": 1, "data": {"kv": "half"}})[:-3])
        c.close()
        self.check_witnesses()
        self.assertNotIn("closing", self.fox.log()[self.mark:])

    def test_a_bad_message_after_good_ones_in_the_same_write(self):
        c = self.bad()
        c.send_raw(pack({"ft": "ECHO", "id": 1, "data": {"kv": "ok"}}) + b"\xc1" +
                   pack({"ft": "ECHO", "id": 2, "data": None}))
        self.assertEqual(c.answer(1)["data"], {"kv": "ok"})
        self.assert_closed_and_logged(c, "reserved byte 0xc1")
        self.assertEqual([m for m in c.inbox if m.get("id") == 2], [], "answered after the bad byte")

    def test_a_bad_message_closes_only_that_connection_of_a_subscriber(self):
        c = self.bad()
        trace_id, _ = c.trace(TOPIC)
        c.send_raw(b"\xc1")
        self.assert_closed_and_logged(c, "reserved byte 0xc1")
        # the witness publish of assert_closed_and_logged went to a dead trace without trouble
        self.assertEqual([m for m in c.inbox if m.get("rsp") == "EVENT"], [])


class WebSocketBadInputTest(FoxBadInputCase):
    def test_a_frame_that_is_not_a_map_is_closed_with_1003(self):
        for value in ([1, 2], 7):
            with self.subTest(value=value):
                c = self.bad(ws=True)
                c.send(value)
                self.assert_closed_and_logged(c, "a message is not a map", 1003)

    def test_garbage_and_the_reserved_byte_are_closed_with_1003(self):
        for data, needle in ((b"\xc1", "reserved byte 0xc1"), (b"hello", "a message is not a map"),
                             (b"\x82\xa2ft", "a message cut short"), (b"", "an empty message")):
            with self.subTest(data=data):
                c = self.bad(ws=True)
                c.send_raw(data)
                self.assert_closed_and_logged(c, needle, 1003)

    def test_two_maps_in_one_frame_are_closed_with_1003(self):
        c = self.bad(ws=True)
        c.send_raw(pack({"ft": "ECHO", "id": 1}) + pack({"ft": "ECHO", "id": 2}))
        self.assert_closed_and_logged(c, "bytes after the message", 1003)
        self.assertEqual(c.inbox, [])

    def test_deep_nesting_and_a_huge_str32_header_are_closed_with_1003(self):
        for data, needle in ((b"\x81\xa4data" + deep(10000, "array"), "nesting deeper than"),
                             (b"\x81\xa4data\xdb\xff\xff\xff\xff", f"a message over {LIMIT} bytes")):
            with self.subTest(needle=needle):
                c = self.bad(ws=True)
                c.send_raw(data)
                self.assert_closed_and_logged(c, needle, 1003)

    def test_an_unknown_ft_a_missing_id_and_a_bad_yield_are_closed_with_1003(self):
        for message, needle in (({"ft": "NOPE", "id": 1}, "unknown ft NOPE"),
                                ({"id": 1}, "a message without ft"),
                                ({"ft": "TRACE", "uri": ["a"]}, "TRACE without a valid id"),
                                ({"ft": "YIELD", "rqt": "OK"}, "YIELD without a valid qid")):
            with self.subTest(message=message):
                c = self.bad(ws=True)
                c.send(message)
                self.assert_closed_and_logged(c, needle, 1003)

    def test_goodbye_closes_the_websocket_normally_with_only_the_leave_line(self):
        c = self.bad(ws=True)
        c.send({"ft": "GOODBYE"})
        self.assertTrue(c.closed(3))
        self.assertEqual(c.close_code, 1000)
        self.check_witnesses()
        self.assertEqual(event_lines(self.fox.log()[self.mark:]), [])
        self.assertRegex(self.fox.log()[self.mark:], r"^info fox: 127\.0\.0\.1: session \d+ left "
                                                     r"realm realm1 \(GOODBYE\)\n$")

    def test_a_message_over_the_limit_is_closed_with_1009(self):
        c = self.bad(ws=True)
        self.send_quietly(c, pack({"ft": "ECHO", "id": 1, "data": {"kv": "x" * (LIMIT + 10)}}))
        self.assertTrue(c.closed(3))
        self.assertEqual(c.close_code, 1009, c.ws.close_reason)
        wait_for(lambda: "65536" in self.fox.log()[self.mark:], 3.0,
                 what="a log line about the size; log:\n" + self.fox.log()[self.mark:])
        self.check_witnesses()
        lines = event_lines(self.fox.log()[self.mark:])
        self.assertEqual(len(lines), 1, lines)

    def test_a_message_under_the_limit_is_answered(self):
        c = self.bad(ws=True)
        big = b"z" * (LIMIT - 100)
        self.assertEqual(c.request("ECHO", data={"kv": big})["data"], {"kv": big})
        self.assertEqual(self.fox.log()[self.mark:], "")


if __name__ == "__main__":
    main()
