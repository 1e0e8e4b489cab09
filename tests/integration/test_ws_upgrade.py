"""WebSocket upgrades: the subprotocol is the first offered one served at the path, however long
the list; every refusal is an HTTP answer (404 for a path that is no endpoint, 400 naming what the
path speaks) plus one log line naming the peer, the path and the offered list.

Before: libwebsockets 4.1.6 dropped an offered list of 127 bytes or more without an answer, so
autobahn's default list (eight WAMP subprotocols, ~137 bytes) hung; refusals were a bare close.
"""
import asyncio
import re
import unittest
import urllib.request

import txaio

txaio.use_asyncio()

from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp.types import ComponentConfig, PublishOptions  # noqa: E402

from harness import Fox, event_lines, main, wait_for  # noqa: E402
from raw_wamp import (CALL, EVENT, PUBLISH, PUBLISHED, RESULT, SUBSCRIBE, SUBSCRIBED,  # noqa: E402
                      WELCOME, WebSocketClient, encode, hello)
from wamp_client import Client, Collector, close  # noqa: E402

WAMP_SUBPROTOCOLS = ("wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor")
MQTT_CONNECT = b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01a"


def long_list(length, last):
    """Unknown subprotocol names, then `last`; the header value is at least `length` bytes."""
    names = []
    while len(", ".join(names + [last])) < length:
        names.append(f"x{len(names)}.example.fox")
    return names + [last]


class WsUpgradeTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fox = Fox()

    @classmethod
    def tearDownClass(cls):
        assert cls.fox.stop() == 0, cls.fox.log()

    def mark(self):
        return len(self.fox.log())

    def one_line_since(self, mark, *needles):
        """Exactly one log line since `mark` (after a round trip through fox, so a late second
        line would have landed), containing every needle; returns it."""
        wait_for(lambda: needles[0] in self.fox.log()[mark:], 3.0,
                 what=f"a log line containing {needles[0]!r}; log since:\n" + self.fox.log()[mark:])
        with urllib.request.urlopen(f"http://127.0.0.1:{self.fox.port}/", timeout=5) as r:
            self.assertEqual(r.status, 200)  # a round trip through fox's loop
        lines = event_lines(self.fox.log()[mark:])
        self.assertEqual(len(lines), 1, lines)
        for needle in needles:
            self.assertIn(needle, lines[0])
        return lines[0]

    def upgrade(self, path, subprotocols):
        c = WebSocketClient(self.fox.port, path=path, subprotocols=subprotocols)
        self.addCleanup(c.close)
        return c, c.connect()

    def joined(self, *subprotocols, path="/wamp"):
        """A raw WebSocket client that upgraded (to one of `subprotocols`) and joined realm1."""
        c, r = self.upgrade(path, list(subprotocols))
        self.assertEqual(r.status, 101, r)
        c.send_msg(hello())
        m = c.recv_msg(3)
        self.assertEqual(m[0] if m else m, WELCOME, m)
        return c

    def assert_refused(self, path, subprotocols, status):
        """An HTTP `status` answer, then the connection closed; one log line with peer, path and
        the offered list; returns (body, log line)."""
        m = self.mark()
        c, r = self.upgrade(path, subprotocols)
        self.assertEqual(r.status, status, f"{r!r} {bytes(c.stream.buf)!r}")
        body = c.read_body().decode()
        self.assertTrue(c.closed(3), "the connection stayed open after the refusal")
        offered = ", ".join(subprotocols)[:150] if subprotocols else "no subprotocol"
        line = self.one_line_since(m, "refused a WebSocket upgrade", "127.0.0.1", f" at {path} ",
                                   offered)
        self.assertTrue(line.startswith("info "), line)
        return body, line

    # -- messages larger than what lws hands over at once (1 KiB per callback)

    def test_large_messages_in_one_frame_and_in_fragments_arrive_whole(self):
        for proto in WAMP_SUBPROTOCOLS:
            with self.subTest(proto):
                sub, pub = self.joined(proto), self.joined(proto)
                sub.send_msg([SUBSCRIBE, 1, {}, "ws.big"])
                self.assertEqual(sub.recv_msg(3)[0], SUBSCRIBED)
                sent = []
                for i, size in enumerate((1023, 1024, 1025, 70_000, 300_000)):
                    text = "".join(chr(0x41 + (j * 7 + i) % 26) for j in range(size))
                    msg = [PUBLISH, 10 + i, {"acknowledge": True}, "ws.big", [text]]
                    data = encode(pub.serializer, msg)
                    if i % 2:
                        third = len(data) // 3
                        pub.send_fragments([data[:third], data[third:2 * third], data[2 * third:]])
                    else:
                        pub.send_data(data)
                    self.assertEqual(pub.recv_msg(5)[0], PUBLISHED)
                    sent.append(text)
                got = [sub.recv_msg(5) for _ in sent]
                self.assertEqual([m[0] for m in got], [EVENT] * len(sent))
                self.assertEqual([m[4][0] for m in got], sent)

    # -- the lists real clients send

    async def test_autobahn_with_its_default_subprotocols_joins_calls_and_publishes(self):
        loop = asyncio.get_running_loop()
        joined, left = loop.create_future(), loop.create_future()
        config = ComponentConfig("realm1")
        # No serializers= : autobahn offers all of its defaults, as ApplicationRunner does.
        factory = WampWebSocketClientFactory(lambda: Client(config, joined, left),
                                             url=self.fox.url("/wamp"))
        offered = ",".join(factory.protocols)
        self.assertGreaterEqual(len(offered), 127, f"autobahn now offers a short list: {offered}")
        await asyncio.wait_for(loop.create_connection(factory, "127.0.0.1", self.fox.port), 5)
        client = await asyncio.wait_for(joined, 5)
        client.left = left
        try:
            self.assertEqual(client.join_details.realm, "realm1")
            await client.register(lambda *a: list(a), "test.upgrade.echo")
            self.assertEqual(await asyncio.wait_for(client.call("test.upgrade.echo", 1, "two"), 5),
                             [1, "two"])
            events = Collector()
            await client.subscribe(events, "test.upgrade.topic")
            pub = await asyncio.wait_for(
                client.publish("test.upgrade.topic", 42,
                               options=PublishOptions(acknowledge=True, exclude_me=False)), 5)
            self.assertIsNotNone(pub.id)
            (args, _), = await events.wait(1)
            self.assertEqual(args, (42,))
        finally:
            await close(client)

    def test_the_default_autobahn_header_sent_raw_gets_its_first_supported_subprotocol(self):
        offered = ["wamp.2.cbor.batched", "wamp.2.cbor", "wamp.2.msgpack.batched", "wamp.2.msgpack",
                   "wamp.2.ubjson.batched", "wamp.2.ubjson", "wamp.2.json.batched", "wamp.2.json"]
        c = self.joined(*offered)
        self.assertEqual(c.protocol, "wamp.2.cbor")

    def test_a_300_byte_list_ending_with_wamp_json_works(self):
        offered = long_list(300, "wamp.2.json")
        self.assertGreaterEqual(len(", ".join(offered)), 300)
        c = self.joined(*offered)
        self.assertEqual(c.protocol, "wamp.2.json")
        c.send_msg([CALL, 1, {}, "wamp.session.count", []])
        m = c.recv_msg(3)
        self.assertEqual(m[:2] if m else m, [RESULT, 1], m)

    # -- which subprotocol: the first one served at this path

    def test_a_subprotocol_of_another_path_offered_first_is_passed_over(self):
        c = self.joined("mqtt", "wamp.2.json")
        self.assertEqual(c.protocol, "wamp.2.json")
        c.send_msg([PUBLISH, 1, {"acknowledge": True}, "test.upgrade.other"])
        m = c.recv_msg(3)
        self.assertEqual(m[:2] if m else m, [PUBLISHED, 1], m)

        c, r = self.upgrade("/mqtt", ["wamp.2.json", "wamp.2.cbor", "mqtt"])
        self.assertEqual(r.status, 101, r)
        self.assertEqual(c.protocol, "mqtt")
        c.send_binary(MQTT_CONNECT)
        got = c.recv_data(3)
        self.assertIsNotNone(got, "closed instead of a CONNACK")
        self.assertEqual(got[1][:1], b"\x20", got)

    def test_the_name_http_offered_first_is_passed_over(self):
        c = self.joined("http", "wamp.2.msgpack")
        self.assertEqual(c.protocol, "wamp.2.msgpack")

    # -- refusals

    def test_only_unknown_subprotocols_get_400_naming_what_the_path_speaks(self):
        body, line = self.assert_refused("/wamp", ["foo.bar", "baz.2.json"], 400)
        for sp in WAMP_SUBPROTOCOLS:
            self.assertIn(sp, body)
            self.assertIn(sp, line)

    def test_no_subprotocol_gets_400(self):
        body, _ = self.assert_refused("/wamp", [], 400)
        self.assertIn("wamp.2.json", body)

    def test_a_wamp_subprotocol_at_the_mqtt_path_gets_400_naming_mqtt(self):
        body, _ = self.assert_refused("/mqtt", ["wamp.2.json"], 400)
        self.assertIn("mqtt", body)
        self.assertNotIn("wamp.2.json", body.split("speaks", 1)[-1])

    def test_an_unknown_path_gets_404(self):
        for path in ("/nope", "/"):
            with self.subTest(path=path):
                self.assert_refused(path, ["wamp.2.json"], 404)

    def test_a_list_over_1022_bytes_gets_400_instead_of_a_dropped_connection(self):
        body, line = self.assert_refused("/wamp", long_list(1100, "wamp.2.json"), 400)
        self.assertIn("1022", body)
        self.assertLess(len(line), 600, "the log line quotes a long list in full")

    def test_a_malformed_list_gets_400(self):
        # lws would give up at the ';' before reaching wamp.2.json: answered, not dropped.
        body, _ = self.assert_refused("/wamp", ["foo;q=1", "wamp.2.json"], 400)
        self.assertIn("malformed", body)

    def test_the_upgrade_log_line_names_the_peer_first(self):
        _, line = self.assert_refused("/wamp", ["foo.bar"], 400)
        self.assertTrue(re.match(r"info http: 127\.0\.0\.1: refused", line), line)


if __name__ == "__main__":
    main()
