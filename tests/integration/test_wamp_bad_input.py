"""WAMP bad input: malformed, out-of-order and oversized messages, bad handshakes and upgrades.

After every bad-input case the test asserts
  (a) the offending client got the WAMP spec's answer (ABORT wamp.error.protocol_violation then
      close, an ERROR with the right URI, a RawSocket handshake error reply, a WebSocket close
      status),
  (b) fox logged exactly one line about it,
  (c) fox is alive and two other, already-joined clients are undisturbed: one publishes with
      acknowledge (PUBLISHED) and calls a procedure the other one registered (RESULT), and the
      other one receives the EVENT.
Raw clients (raw_wamp.py), so any byte can be sent. One fox per test class.
"""
import json
import os
import socket
import struct
import time
import unittest

import cbor2
import msgpack

from harness import Fox, event_lines, main, wait_for, write_config
from raw_wamp import (ABORT, CALL, CBOR, ERROR, EVENT, GOODBYE, HELLO, INVOCATION, JSON,
                      MSGPACK, PUBLISH, PUBLISHED, REGISTER, REGISTERED, RESULT, SUBSCRIBE,
                      SUBSCRIBED, WELCOME, YIELD, RawSocketClient, WebSocketClient, encode, hello)

PROTOCOL_VIOLATION = "wamp.error.protocol_violation"
INVALID_URI = "wamp.error.invalid_uri"
KINDS = ("ws-json", "ws-msgpack", "ws-cbor", "rs-json", "rs-msgpack", "rs-cbor")
SER = {"json": JSON, "msgpack": MSGPACK, "cbor": CBOR}


class Witnesses:
    """Two joined sessions that must stay undisturbed: `callee` (RawSocket msgpack) subscribes to a
    topic and registers a procedure; `caller` (WebSocket json) publishes and calls."""
    TOPIC = "test.witness.topic"
    PROC = "test.witness.echo"

    def __init__(self, fox):
        self.fox = fox
        self.callee = RawSocketClient(fox.rawsocket_port, MSGPACK)
        self.caller = WebSocketClient(fox.port).open()
        for c in (self.callee, self.caller):
            c.send_msg(hello())
            m = c.recv_msg()
            assert m and m[0] == WELCOME, m
        self.callee.send_msg([SUBSCRIBE, 1, {}, self.TOPIC])
        m = self.callee.recv_msg()
        assert m and m[0] == SUBSCRIBED and m[1] == 1, m
        self.subscription = m[2]
        self.callee.send_msg([REGISTER, 2, {}, self.PROC])
        m = self.callee.recv_msg()
        assert m and m[0] == REGISTERED and m[1] == 2, m
        self.registration = m[2]
        self.request = 100
        self.check(None)

    def check(self, test):
        """Publish-with-acknowledge and a call through the two witnesses."""
        assert_ = (test.assertEqual if test else _assert_equal)
        if self.fox.proc.poll() is not None:
            raise AssertionError(f"fox exited with {self.fox.proc.returncode}:\n{self.fox.log()}")
        self.request += 1
        rid = self.request
        self.caller.send_msg([PUBLISH, rid, {"acknowledge": True}, self.TOPIC, [rid]])
        m = self.caller.recv_msg(3)
        assert_(m is not None and m[:2], [PUBLISHED, rid], f"witness publish: {m}")
        publication = m[2]
        m = self.callee.recv_msg(3)
        assert_(m, [EVENT, self.subscription, publication, {}, [rid]], "witness event")
        self.request += 1
        rid = self.request
        self.caller.send_msg([CALL, rid, {}, self.PROC, ["ping", rid]])
        inv = self.callee.recv_msg(3)
        assert_(inv is not None and inv[0], INVOCATION, f"witness invocation: {inv}")
        assert_(inv[2], self.registration, "invocation registration")
        self.callee.send_msg([YIELD, inv[1], {}, inv[4]])
        m = self.caller.recv_msg(3)
        assert_(m, [RESULT, rid, {}, ["ping", rid]], "witness result")

    def close(self):
        self.callee.close()
        self.caller.close()


def _assert_equal(a, b, msg=None):
    if a != b:
        raise AssertionError(f"{a!r} != {b!r}: {msg}")


class FoxTestCase(unittest.TestCase):
    """One fox per class, two witnesses joined to it."""
    config = None  # a dict written to a --config file

    @classmethod
    def setUpClass(cls):
        args = ["--config", write_config(cls.config)] if cls.config else []
        cls.fox = Fox(*args)
        try:
            cls.witnesses = Witnesses(cls.fox)
        except BaseException:
            cls.fox.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.witnesses.close()
        cls.fox.stop()

    # -- clients

    def connect(self, kind):
        """An open transport (WebSocket upgraded / RawSocket handshake done), not joined."""
        transport, ser = kind.split("-")
        if transport == "ws":
            c = WebSocketClient(self.fox.port, subprotocols=[f"wamp.2.{ser}"]).open()
        else:
            c = RawSocketClient(self.fox.rawsocket_port, SER[ser])
            self.assertEqual(c.reply[0], 0x7F, c.reply)
            self.assertEqual(c.reply[1] & 0x0F, SER[ser], c.reply)
        self.addCleanup(c.close)
        return c

    def join(self, kind="ws-json", realm="realm1"):
        c = self.connect(kind)
        c.send_msg(hello(realm))
        m = c.recv_msg(3)
        self.assertEqual(m[0] if m else m, WELCOME, m)
        return c

    # -- the three assertions after a bad-input case

    def mark(self):
        return len(self.fox.log())

    def assert_aftermath(self, mark, needle):
        """(b) exactly one log line since `mark`, and it contains `needle`; (c) fox alive and the
        witnesses undisturbed."""
        wait_for(lambda: needle in self.fox.log()[mark:], 3.0,
                 what=f"a log line containing {needle!r}; the log since the case:\n"
                      + self.fox.log()[mark:])
        self.witnesses.check(self)  # a round trip through fox's loop: late lines have landed
        lines = event_lines(self.fox.log()[mark:])
        self.assertEqual(len(lines), 1, f"expected one log line about {needle!r}, got {lines}")
        self.assertIn(needle, lines[0])

    def assert_witnesses_ok(self):
        self.witnesses.check(self)

    def assert_abort(self, client, mark, reason=PROTOCOL_VIOLATION):
        """(a) ABORT with `reason`, then the connection closed; then (b) and (c)."""
        m = client.recv_msg(3)
        self.assertIsNotNone(m, "connection closed without an ABORT")
        self.assertEqual(m[0], ABORT, m)
        self.assertEqual(len(m), 3, m)
        self.assertIsInstance(m[1], dict, m)
        self.assertEqual(m[2], reason, m)
        self.assertTrue(client.closed(3), "the connection stayed open after ABORT")
        self.assert_aftermath(mark, f"ABORT {reason}")

    def send_bytes(self, client, data):
        """Raw bytes as one WAMP message: a RawSocket frame, or a WebSocket text frame (json)
        or binary frame (msgpack, cbor)."""
        if isinstance(client, RawSocketClient):
            client.send_frame(data)
        else:
            client.send_data(data)


# ---- malformed messages ------------------------------------------------------------------------

class MalformedMessageTest(FoxTestCase):
    def _each_phase(self, kinds, payload):
        """Sends `payload` before HELLO and after WELCOME on each transport kind."""
        for kind in kinds:
            for phase in ("before HELLO", "after WELCOME"):
                with self.subTest(kind=kind, phase=phase):
                    c = self.connect(kind) if phase == "before HELLO" else self.join(kind)
                    m = self.mark()
                    self.send_bytes(c, payload)
                    self.assert_abort(c, m)

    def test_invalid_json_text_is_a_protocol_violation(self):
        self._each_phase(("ws-json", "rs-json"), b'[1, "realm1", {"roles": ')

    def test_a_json_value_that_is_not_an_array_is_a_protocol_violation(self):
        self._each_phase(("ws-json", "rs-json"), b'{"type": 1, "realm": "realm1"}')

    def test_an_empty_array_is_a_protocol_violation(self):
        self._each_phase(("ws-json", "rs-json"), b"[]")
        self._each_phase(("ws-msgpack", "rs-msgpack"), msgpack.packb([]))
        self._each_phase(("ws-cbor", "rs-cbor"), cbor2.dumps([]))

    def test_a_non_integer_message_type_is_a_protocol_violation(self):
        self._each_phase(("ws-json", "rs-json"), b'["1", "realm1", {}]')
        self._each_phase(("rs-json",), b'[1.5, "realm1", {}]')
        self._each_phase(("rs-msgpack",), msgpack.packb([None, "realm1", {}]))

    def test_an_unknown_message_type_is_a_protocol_violation(self):
        self._each_phase(("ws-json", "rs-json"), b'[999, 1, {}]')
        self._each_phase(("ws-cbor",), cbor2.dumps([999, 1, {}]))

    def test_truncated_msgpack_is_a_protocol_violation(self):
        whole = msgpack.packb([PUBLISH, 1, {}, "a.b", ["some", "arguments"]])
        self._each_phase(("ws-msgpack", "rs-msgpack"), whole[:-5])

    def test_cbor_garbage_is_a_protocol_violation(self):
        # 0x1c: reserved additional information; 0xff: a lone "break".
        self._each_phase(("ws-cbor", "rs-cbor"), b"\x1c\xff\x00\x13")
        truncated = cbor2.dumps([PUBLISH, 1, {}, "a.b", ["x" * 20]])[:-4]
        self._each_phase(("rs-cbor",), truncated)


# ---- protocol order and field types ------------------------------------------------------------

class ProtocolViolationTest(FoxTestCase):
    def test_subscribe_publish_or_call_before_hello_is_a_protocol_violation(self):
        for kind in ("ws-json", "rs-msgpack"):
            for msg in ([SUBSCRIBE, 1, {}, "a.b"], [PUBLISH, 1, {"acknowledge": True}, "a.b"],
                        [CALL, 1, {}, "a.b"]):
                with self.subTest(kind=kind, msg=msg):
                    c = self.connect(kind)
                    m = self.mark()
                    c.send_msg(msg)
                    self.assert_abort(c, m)

    def test_a_second_hello_after_welcome_is_a_protocol_violation(self):
        for kind in ("ws-json", "rs-cbor"):
            with self.subTest(kind=kind):
                c = self.join(kind)
                m = self.mark()
                c.send_msg(hello())
                self.assert_abort(c, m)

    def test_publish_with_wrong_field_types_is_a_protocol_violation(self):
        cases = {
            "string request id": [PUBLISH, "1", {}, "a.b"],
            "options not a dict": [PUBLISH, 1, [], "a.b"],
            "topic not a string": [PUBLISH, 1, {}, 5],
            "args not a list": [PUBLISH, 1, {}, "a.b", {"x": 1}],
            "kwargs not a dict": [PUBLISH, 1, {}, "a.b", [], [1]],
            "request id 0": [PUBLISH, 0, {}, "a.b"],
            "request id 2^53 + 1": [PUBLISH, 2 ** 53 + 1, {}, "a.b"],
            "request id 2^64 - 1": [PUBLISH, 2 ** 64 - 1, {}, "a.b"],
            "negative request id": [PUBLISH, -1, {}, "a.b"],
        }
        for kind in ("ws-json", "rs-msgpack"):
            for name, msg in cases.items():
                if kind == "ws-json" and name == "request id 2^64 - 1":
                    continue
                with self.subTest(kind=kind, case=name):
                    c = self.join(kind)
                    m = self.mark()
                    c.send_msg(msg)
                    self.assert_abort(c, m)

    def test_a_client_only_message_sent_to_the_router_is_a_protocol_violation(self):
        cases = {"WELCOME": [WELCOME, 1, {}], "EVENT": [EVENT, 1, 2, {}],
                 "RESULT": [RESULT, 1, {}], "INVOCATION": [INVOCATION, 1, 2, {}]}
        for name, msg in cases.items():
            with self.subTest(message=name):
                c = self.join("ws-json")
                m = self.mark()
                c.send_msg(msg)
                self.assert_abort(c, m)

    def test_error_for_a_request_type_other_than_invocation_is_a_protocol_violation(self):
        for request_type in (PUBLISH, SUBSCRIBE, CALL, REGISTER):
            with self.subTest(request_type=request_type):
                c = self.join("rs-json")
                m = self.mark()
                c.send_msg([ERROR, request_type, 1, {}, "app.error.failed"])
                self.assert_abort(c, m)

    def test_hello_to_an_invalid_realm_name_is_aborted_with_no_such_realm(self):
        for realm in ("Bad-Realm", ""):
            for kind in ("ws-json", "rs-msgpack"):
                with self.subTest(realm=realm, kind=kind):
                    c = self.connect(kind)
                    m = self.mark()
                    c.send_msg(hello(realm))
                    self.assert_abort(c, m, "wamp.error.no_such_realm")

    def test_hello_offering_only_ticket_auth_is_aborted_with_no_auth_method(self):
        c = self.connect("ws-json")
        m = self.mark()
        c.send_msg(hello(authmethods=["ticket"], authid="joe"))
        self.assert_abort(c, m, "wamp.error.no_auth_method")

    def test_goodbye_is_answered_with_goodbye_and_out_then_the_connection_closes(self):
        for kind in ("ws-json", "rs-cbor"):
            with self.subTest(kind=kind):
                c = self.join(kind)
                c.send_msg([GOODBYE, {}, "wamp.close.system_shutdown"])
                m = c.recv_msg(3)
                self.assertIsNotNone(m, "closed without GOODBYE")
                self.assertEqual(m[0], GOODBYE, m)
                self.assertEqual(m[2], "wamp.close.goodbye_and_out", m)
                self.assertTrue(c.closed(3), "the connection stayed open after GOODBYE")
                self.assert_witnesses_ok()


# ---- invalid URIs: ERROR, and the session stays usable -----------------------------------------

class InvalidUriTest(FoxTestCase):
    def assert_invalid_uri_error(self, c, request_type, rid):
        m = c.recv_msg(3)
        self.assertIsNotNone(m, "the connection closed instead of an ERROR")
        self.assertEqual(m[:5], [ERROR, request_type, rid, {}, INVALID_URI], m)
        # the session stays usable
        c.send_msg([PUBLISH, rid + 1, {"acknowledge": True}, "test.still.usable"])
        m = c.recv_msg(3)
        self.assertIsNotNone(m, "the connection closed after the ERROR")
        self.assertEqual(m[:2], [PUBLISHED, rid + 1], m)
        self.assert_witnesses_ok()

    def test_publish_to_an_invalid_topic_is_answered_with_error_invalid_uri(self):
        c = self.join("ws-json")
        for rid, topic in enumerate(("a..b", "a b.c", "a.#", "a.*", ".a", "a."), start=10):
            with self.subTest(topic=topic):
                c.send_msg([PUBLISH, rid * 10, {"acknowledge": True}, topic, ["x"]])
                self.assert_invalid_uri_error(c, PUBLISH, rid * 10)

    def test_publish_to_an_invalid_topic_without_acknowledge_gets_no_answer(self):
        # WAMP spec: ERROR for a PUBLISH only when acknowledge is true.
        c = self.join("rs-json")
        c.send_msg([PUBLISH, 30, {}, "a..b", ["x"]])
        c.send_msg([PUBLISH, 31, {"acknowledge": True}, "test.valid"])
        m = c.recv_msg(3)
        self.assertEqual(m[:2] if m else m, [PUBLISHED, 31], m)
        self.assert_witnesses_ok()

    def test_subscribe_to_a_topic_with_a_space_is_answered_with_error_invalid_uri(self):
        c = self.join("rs-msgpack")
        c.send_msg([SUBSCRIBE, 7, {}, "a b"])
        self.assert_invalid_uri_error(c, SUBSCRIBE, 7)

    def test_call_of_an_invalid_procedure_is_answered_with_error_invalid_uri(self):
        c = self.join("ws-cbor")
        c.send_msg([CALL, 9, {}, "bad uri", [1]])
        self.assert_invalid_uri_error(c, CALL, 9)

    def test_exact_register_of_an_invalid_procedure_is_answered_with_error_invalid_uri(self):
        c = self.join("rs-json")
        c.send_msg([REGISTER, 11, {"match": "exact"}, "x..y"])
        self.assert_invalid_uri_error(c, REGISTER, 11)
        c.send_msg([REGISTER, 21, {}, "x..y"])
        self.assert_invalid_uri_error(c, REGISTER, 21)

    def test_an_invalid_uri_is_logged_as_one_line(self):
        c = self.join("ws-json")
        m = self.mark()
        c.send_msg([CALL, 5, {}, "bad uri"])
        r = c.recv_msg(3)
        self.assertEqual(r[:5] if r else r, [ERROR, CALL, 5, {}, INVALID_URI])
        self.assert_aftermath(m, "bad uri")


# ---- RawSocket handshake and framing -----------------------------------------------------------

class RawSocketHandshakeTest(FoxTestCase):
    def test_a_first_byte_other_than_0x7f_is_closed_without_a_reply(self):
        for first in (b"GET ", b"\x00\x71\x00\x00", b"\x7e\xf1\x00\x00"):
            with self.subTest(first=first):
                c = RawSocketClient(self.fox.rawsocket_port, handshake=False)
                self.addCleanup(c.close)
                m = self.mark()
                reply = c.handshake(first, timeout=3)
                self.assertEqual(reply, b"", "the server replied to a non-RawSocket client")
                self.assertTrue(c.closed(3))
                self.assert_aftermath(m, "handshake refused")

    def test_an_unsupported_serializer_gets_error_1_and_close(self):
        for ser in (0, 7, 15):
            with self.subTest(serializer=ser):
                c = RawSocketClient(self.fox.rawsocket_port, handshake=False)
                self.addCleanup(c.close)
                m = self.mark()
                reply = c.handshake(bytes([0x7F, 0xF0 | ser, 0, 0]), timeout=3)
                self.assertEqual(reply, b"\x7f\x10\x00\x00")
                self.assertTrue(c.closed(3))
                self.assert_aftermath(m, "handshake refused")

    def test_non_zero_reserved_handshake_bytes_get_error_3_and_close(self):
        for reserved in (b"\x00\x01", b"\x80\x00", b"\xff\xff"):
            with self.subTest(reserved=reserved):
                c = RawSocketClient(self.fox.rawsocket_port, handshake=False)
                self.addCleanup(c.close)
                m = self.mark()
                reply = c.handshake(b"\x7f\xf1" + reserved, timeout=3)
                self.assertEqual(reply, b"\x7f\x30\x00\x00")
                self.assertTrue(c.closed(3))
                self.assert_aftermath(m, "handshake refused")

    def test_a_frame_with_reserved_bits_set_closes_the_connection(self):
        for phase in ("before HELLO", "after WELCOME"):
            for bits in (0x08, 0x80):
                with self.subTest(phase=phase, bits=bits):
                    c = self.connect("rs-json") if phase == "before HELLO" else self.join("rs-json")
                    m = self.mark()
                    payload = json.dumps(hello()).encode()
                    c.send_raw(struct.pack(">I", (bits << 24) | len(payload)) + payload)
                    self.assertTrue(c.closed(3), "the connection stayed open")
                    self.assert_aftermath(m, "reserved bits")

    def test_a_frame_of_a_reserved_type_closes_the_connection(self):
        for ftype in (3, 7):
            with self.subTest(frame_type=ftype):
                c = self.join("rs-msgpack")
                m = self.mark()
                c.send_frame(b"\x91\x01", frame_type=ftype)
                self.assertTrue(c.closed(3), "the connection stayed open")
                self.assert_aftermath(m, "frame type")

    def test_a_ping_frame_is_answered_with_a_pong_with_the_same_payload(self):
        for phase in ("before HELLO", "after WELCOME"):
            with self.subTest(phase=phase):
                c = self.connect("rs-json") if phase == "before HELLO" else self.join("rs-json")
                for payload in (b"", b"hello fox", os.urandom(3000)):
                    c.send_frame(payload, frame_type=1)
                    self.assertEqual(c.recv_raw(3), (2, payload))
                # still a working session
                if phase == "before HELLO":
                    c.send_msg(hello())
                    self.assertEqual(c.recv_msg(3)[0], WELCOME)
                c.send_msg([PUBLISH, 3, {"acknowledge": True}, "test.after.ping"])
                self.assertEqual(c.recv_msg(3)[:2], [PUBLISHED, 3])
        self.assert_witnesses_ok()

    def test_a_handshake_sent_byte_by_byte_works(self):
        c = RawSocketClient(self.fox.rawsocket_port, handshake=False)
        self.addCleanup(c.close)
        for b in b"\x7f\xf2\x00":
            c.send_raw(bytes([b]))
        self.assertEqual(c.handshake(b"\x00", timeout=3)[:1], b"\x7f")
        self.assertEqual(c.reply[1] & 0x0F, MSGPACK, c.reply)
        c.serializer = MSGPACK
        c.send_msg(hello())
        self.assertEqual(c.recv_msg(3)[0], WELCOME)


# ---- WebSocket upgrade -------------------------------------------------------------------------

class WebSocketUpgradeTest(FoxTestCase):
    def assert_refused(self, path, subprotocols, status):
        """(a) an HTTP `status` answer (not a bare close), then the connection closes; (b) one log
        line naming the peer and the path; (c) the witnesses."""
        c = WebSocketClient(self.fox.port, path=path, subprotocols=subprotocols)
        self.addCleanup(c.close)
        m = self.mark()
        r = c.connect()
        self.assertEqual(r.status, status, f"{r!r}")
        self.assertTrue(c.closed(3), "the connection stayed open after the refusal")
        self.assert_aftermath(m, f"127.0.0.1: refused a WebSocket upgrade at {path} ")

    def test_an_upgrade_without_any_subprotocol_is_refused(self):
        self.assert_refused("/wamp", [], 400)

    def test_an_upgrade_offering_only_an_unknown_subprotocol_is_refused(self):
        self.assert_refused("/wamp", ["foo.bar"], 400)

    def test_wamp_json_at_the_mqtt_path_is_refused(self):
        self.assert_refused("/mqtt", ["wamp.2.json"], 400)

    def test_wamp_json_at_another_path_is_refused(self):
        self.assert_refused("/other", ["wamp.2.json"], 404)

    def test_msgpack_and_cbor_subprotocols_are_accepted_and_join(self):
        for sp in ("wamp.2.msgpack", "wamp.2.cbor"):
            with self.subTest(subprotocol=sp):
                c = WebSocketClient(self.fox.port, subprotocols=[sp])
                self.addCleanup(c.close)
                r = c.connect()
                self.assertEqual(r.status, 101, r)
                self.assertEqual(c.protocol, sp)
                c.send_msg(hello())
                m = c.recv_msg(3)
                self.assertEqual(m[0], WELCOME, m)
                self.assertEqual(m[2]["realm"], "realm1")
                c.send_msg([PUBLISH, 1, {"acknowledge": True}, "test.ws.binary"])
                self.assertEqual(c.recv_msg(3)[:2], [PUBLISHED, 1])
        self.assert_witnesses_ok()

    def test_the_first_supported_subprotocol_offered_is_chosen(self):
        c = WebSocketClient(self.fox.port, subprotocols=["foo.bar", "wamp.2.cbor", "wamp.2.json"])
        self.addCleanup(c.close)
        self.assertEqual(c.connect().status, 101)
        self.assertIn(c.protocol, ("wamp.2.cbor", "wamp.2.json"))
        c.send_msg(hello())
        self.assertEqual(c.recv_msg(3)[0], WELCOME)


# ---- limits.max_message_size -------------------------------------------------------------------

class MaxMessageSizeTest(FoxTestCase):
    config = {"limits": {"max_message_size": 65536}}

    @staticmethod
    def big_publish(size, rid=1):
        head = [PUBLISH, rid, {"acknowledge": True}, "test.big", [""]]
        base = len(encode(JSON, head))
        head[4][0] = "x" * (size - base)
        data = encode(JSON, head)
        assert len(data) == size, len(data)
        return data

    def test_a_message_under_the_limit_is_accepted_on_both_transports(self):
        data = self.big_publish(60000)
        ws = self.join("ws-json")
        ws.send_data(data)
        self.assertEqual(ws.recv_msg(3)[:2], [PUBLISHED, 1])
        ws.send_fragments([data[i:i + 10000] for i in range(0, len(data), 10000)])
        self.assertEqual(ws.recv_msg(3)[:2], [PUBLISHED, 1])
        rs = self.join("rs-json")
        rs.send_frame(data)
        self.assertEqual(rs.recv_msg(3)[:2], [PUBLISHED, 1])

    def test_a_websocket_message_over_the_limit_is_closed_with_1009(self):
        ws = self.join("ws-json")
        m = self.mark()
        ws.send_data(self.big_publish(70000))
        self.assertIsNone(ws.recv_msg(3), "no close after an oversized message")
        self.assertEqual(ws.close_code, 1009, ws.close_reason)
        self.assert_aftermath(m, "message over 65536 bytes")

    def test_a_fragmented_websocket_message_over_the_limit_is_closed_with_1009(self):
        ws = self.join("ws-json")
        m = self.mark()
        data = self.big_publish(70000)
        try:
            ws.send_fragments([data[i:i + 10000] for i in range(0, len(data), 10000)])
        except OSError:
            pass  # the server may close before the last fragment is written
        self.assertIsNone(ws.recv_msg(3), "no close after an oversized message")
        self.assertEqual(ws.close_code, 1009, ws.close_reason)
        self.assert_aftermath(m, "message over 65536 bytes")

    def test_a_websocket_message_over_the_limit_before_hello_is_closed_with_1009(self):
        ws = self.connect("ws-msgpack")
        m = self.mark()
        ws.send_data(b"\x00" * 70000)
        self.assertIsNone(ws.recv_msg(3), "no close after an oversized message")
        self.assertEqual(ws.close_code, 1009, ws.close_reason)
        self.assert_aftermath(m, "message over 65536 bytes")

    def test_the_rawsocket_handshake_announces_at_most_the_configured_limit(self):
        for ser in (JSON, MSGPACK, CBOR):
            with self.subTest(serializer=ser):
                c = RawSocketClient(self.fox.rawsocket_port, ser)
                self.addCleanup(c.close)
                self.assertEqual(c.reply[0], 0x7F)
                self.assertEqual(c.reply[1] & 0x0F, ser)
                self.assertEqual(c.reply[2:], b"\x00\x00")
                exp = c.reply[1] >> 4
                self.assertLessEqual(2 ** (9 + exp), 65536, c.reply)

    def test_a_rawsocket_frame_header_over_the_limit_closes_without_reading_the_body(self):
        for phase in ("before HELLO", "after WELCOME"):
            with self.subTest(phase=phase):
                c = self.connect("rs-json") if phase == "before HELLO" else self.join("rs-json")
                limit = 2 ** (9 + (c.reply[1] >> 4))
                m = self.mark()
                c.send_raw(struct.pack(">I", limit + 1))  # the header only: no body follows
                self.assertTrue(c.closed(3), "the server waits for the body of an oversized frame")
                self.assert_aftermath(m, "over the negotiated maximum")


# ---- limits.handshake_timeout ------------------------------------------------------------------

class HandshakeTimeoutTest(FoxTestCase):
    config = {"limits": {"handshake_timeout": 1}}

    def test_connections_that_never_send_hello_are_closed_within_3_seconds(self):
        joined = self.join("rs-cbor")
        m = self.mark()
        t0 = time.monotonic()
        ws = self.connect("ws-json")
        rs = self.connect("rs-msgpack")
        bare = RawSocketClient(self.fox.rawsocket_port, handshake=False)  # not even a handshake
        self.addCleanup(bare.close)
        deadline = t0 + 3.0
        for name, c in (("websocket", ws), ("rawsocket", rs), ("rawsocket without handshake", bare)):
            self.assertTrue(c.closed(max(deadline - time.monotonic(), 0.01)),
                            f"{name} connection without HELLO still open after 3 s")
        self.assertGreaterEqual(time.monotonic() - t0, 0.8, "closed before the timeout")
        # the joined clients stay connected and working
        joined.send_msg([PUBLISH, 1, {"acknowledge": True}, "test.after.timeout"])
        self.assertEqual(joined.recv_msg(3)[:2], [PUBLISHED, 1])
        self.assert_witnesses_ok()
        log = self.fox.log()[m:]
        self.assertEqual(log.count("no HELLO within 1000 ms"), 2, log)
        self.assertEqual(log.count("no handshake within 1000 ms"), 1, log)
        self.assertEqual(len(event_lines(log)), 3, log)


if __name__ == "__main__":
    main()
