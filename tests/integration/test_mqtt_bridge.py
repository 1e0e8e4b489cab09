"""MQTT over WebSocket (/mqtt, subprotocol `mqtt`) and the MQTT ⇄ WAMP bridge (SPEC §3, §4, §5):
topic mapping a/b/c ⇄ a.b.c and + ⇄ *, the payload mapping both ways for json and msgpack WAMP
sessions, shared retained values, and non-JSON MQTT payloads that must break nothing."""
import asyncio
import base64
import time
import unittest

from autobahn.wamp.types import PublishOptions

from harness import Fox, main
from mqtt_client import (CONNACK, PINGREQ, PINGRESP, PUBACK, PUBLISH, SUBACK, MqttClient,
                         MqttTestCase, connect_packet, mosquitto_pub, packet, parse_publish,
                         publish_packet, subscribe_packet)
from raw_wamp import EVENT, SUBSCRIBE, SUBSCRIBED, WELCOME, WebSocketClient, hello
from wamp_client import Collector, close, connect

BINARY = b"\xff\x00\x80not json\xfe"


class WsMqtt:
    """MQTT over a hand-written WebSocket client, so frames can be cut anywhere."""

    def __init__(self, fox):
        self.ws = WebSocketClient(fox.port, path="/mqtt", subprotocols=["mqtt"]).open()
        self.buf = bytearray()

    def send_messages(self, chunks):
        """Each chunk as its own binary WebSocket message."""
        for c in chunks:
            self.ws.send_binary(c)

    def send_fragments(self, chunks):
        """All chunks as ONE WebSocket message made of len(chunks) frames."""
        self.ws.send_fragments(chunks, opcode=0x2)

    def read_packet(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            p = self._parse()
            if p:
                return p
            got = self.ws.recv_data(max(deadline - time.monotonic(), 0.001))
            if got is None:
                return None
            self.buf += got[1]

    def _parse(self):
        if len(self.buf) < 2:
            return None
        n, shift, i = 0, 0, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            n |= (b & 0x7F) << shift
            shift += 7
            i += 1
            if not b & 0x80:
                break
        if len(self.buf) < i + n:
            return None
        first, body = self.buf[0], bytes(self.buf[i:i + n])
        del self.buf[:i + n]
        return first >> 4, first & 0x0F, body

    def close(self):
        self.ws.close()


class MqttOverWebSocketTest(MqttTestCase):
    def test_paho_over_websocket_publishes_and_subscribes_and_meets_tcp_clients(self):
        t = self.topic("ws")
        ws_sub = self.client(transport="websocket")
        tcp_sub = self.client()
        ws_sub.subscribe(t, 2)
        tcp_sub.subscribe(t, 2)
        ws_pub = self.client(transport="websocket")
        for qos in (0, 1, 2):
            ws_pub.publish(t, BINARY + bytes([qos]), qos)
        self.client().publish(t, b"from tcp", 1)
        for c in (ws_sub, tcp_sub):
            got = c.messages.wait(4)
            self.assertEqual(sorted((m.payload, m.qos) for m in got),
                             sorted([(BINARY + bytes([q]), q) for q in (0, 1, 2)]
                                    + [(b"from tcp", 1)]))

    def test_several_mqtt_packets_in_one_websocket_frame_are_all_processed(self):
        t = self.topic("batch")
        c = WsMqtt(self.fox)
        self.addCleanup(c.close)
        c.send_messages([connect_packet("ws-batch") + subscribe_packet(1, [(t, 1)])
                         + publish_packet(t, b"to myself", 1, pid=2) + packet(PINGREQ << 4)])
        kinds = {}
        for _ in range(5):
            p = c.read_packet()
            self.assertIsNotNone(p, f"connection closed; got {kinds}")
            kinds.setdefault(p[0], []).append(p)
        self.assertEqual(sorted(kinds), sorted([CONNACK, SUBACK, PUBACK, PUBLISH, PINGRESP]), kinds)
        self.assertEqual(kinds[CONNACK][0][2], b"\x00\x00")
        self.assertEqual(parse_publish(*kinds[PUBLISH][0][1:]).payload, b"to myself")

    def test_one_mqtt_packet_split_across_websocket_frames_is_reassembled(self):
        t = self.topic("split")
        c = WsMqtt(self.fox)
        self.addCleanup(c.close)
        conn = connect_packet("ws-split")
        c.send_messages([conn[:1], conn[1:3], conn[3:]])  # three WebSocket messages
        self.assertEqual(c.read_packet()[:1], (CONNACK,))
        sub = subscribe_packet(1, [(t, 1)])
        c.send_fragments([sub[:2], sub[2:5], sub[5:]])  # one message in three frames
        self.assertEqual(c.read_packet()[0], SUBACK)
        big = publish_packet(t, BINARY * 500, 1, pid=3)
        c.send_messages([big[i:i + 1000] for i in range(0, len(big), 1000)])
        got = {}
        for _ in range(2):
            p = c.read_packet()
            got[p[0]] = p
        self.assertEqual(sorted(got), [PUBLISH, PUBACK])
        self.assertEqual(parse_publish(*got[PUBLISH][1:]).payload, BINARY * 500)


class BridgeTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fox = Fox()

    @classmethod
    def tearDownClass(cls):
        code = cls.fox.stop()
        assert code == 0, cls.fox.log()

    async def asyncSetUp(self):
        self.wamp = []
        self.mqtt = []

    async def asyncTearDown(self):
        for c in self.wamp:
            try:
                await close(c)
            except Exception:  # noqa: BLE001 - already gone
                pass
        for c in self.mqtt:
            c.close()

    async def join(self, serializer="json"):
        c = await connect(self.fox, "websocket", serializer)
        self.wamp.append(c)
        return c

    async def mqtt_client(self, **kw):
        c = await asyncio.to_thread(MqttClient, self.fox, **kw)
        self.mqtt.append(c)
        return c

    async def test_mqtt_payloads_reach_wamp_subscribers_as_args_per_the_mapping(self):
        cases = [(b'{"a":1,"b":[true,null]}', ({"a": 1, "b": [True, None]},)),
                 (b'[1,"two",null]', (1, "two", None)),
                 (b'[[1,2]]', ([1, 2],)),
                 (b'"s"', ("s",)),
                 (b'42', (42,)),
                 (b'', ()),
                 (b'null', ()),
                 (BINARY, (BINARY,))]
        pub = await self.mqtt_client()
        for serializer in ("json", "msgpack"):
            with self.subTest(serializer=serializer):
                sub = await self.join(serializer)
                got = Collector()
                await sub.subscribe(got, f"br.map.{serializer}.c")
                for payload, _ in cases:
                    await asyncio.to_thread(pub.publish, f"br/map/{serializer}/c", payload, 1)
                items = await got.wait(len(cases))
                self.assertEqual([a for a, _ in items], [args for _, args in cases])
                self.assertEqual([k for _, k in items], [{}] * len(cases))

    async def test_mosquitto_pub_reaches_a_wamp_subscriber_of_the_dotted_topic(self):
        sub = await self.join("msgpack")
        got = Collector()
        await sub.subscribe(got, "br.cli.b.c")
        await asyncio.to_thread(mosquitto_pub, self.fox.mqtt_port, "br/cli/b/c", b'{"k":"v"}', 1)
        self.assertEqual((await got.wait(1))[0], (({"k": "v"},), {}))

    async def test_a_wamp_star_subscription_matches_an_mqtt_publish_and_mqtt_plus_a_wamp_one(self):
        wamp = await self.join()
        got = Collector()
        await wamp.subscribe(got, "br.star.*.x")
        m = await self.mqtt_client()
        await asyncio.to_thread(m.subscribe, "br/plus/+/x", 1)
        await asyncio.to_thread(m.publish, "br/star/y/x", b'"from mqtt"', 1)
        self.assertEqual((await got.wait(1))[0][0], ("from mqtt",))
        await wamp.publish("br.plus.y.x", "from wamp", options=PublishOptions(acknowledge=True))
        msg = (await asyncio.to_thread(m.messages.wait, 1))[0]
        self.assertEqual((msg.topic, msg.payload), ("br/plus/y/x", b'"from wamp"'))

    async def test_wamp_publications_reach_mqtt_as_json_of_the_args(self):
        m = await self.mqtt_client()
        await asyncio.to_thread(m.subscribe, "br/w2m/#", 1)
        wamp = await self.join("msgpack")
        ack = PublishOptions(acknowledge=True)
        await wamp.publish("br.w2m.one", "x", options=ack)
        await wamp.publish("br.w2m.two", 1, 2, options=ack)
        await wamp.publish("br.w2m.none", options=ack)
        await wamp.publish("br.w2m.kw", 7, key="dropped", options=ack)
        await wamp.publish("br.w2m.obj", {"a": [1, None]}, options=ack)
        got = await asyncio.to_thread(m.messages.wait, 5)
        self.assertEqual([(g.topic, g.payload) for g in got],
                         [("br/w2m/one", b'"x"'), ("br/w2m/two", b"[1,2]"),
                          ("br/w2m/none", b"null"), ("br/w2m/kw", b"7"),
                          ("br/w2m/obj", b'{"a":[1,null]}')])

    async def test_a_wamp_retained_publish_reaches_a_later_mqtt_subscriber_with_the_retain_flag(self):
        wamp = await self.join()
        await wamp.publish("br.ret.w", {"v": 1}, options=PublishOptions(acknowledge=True,
                                                                        retain=True))
        m = await self.mqtt_client()
        await asyncio.to_thread(m.subscribe, "br/ret/w", 1)
        msg = (await asyncio.to_thread(m.messages.wait, 1))[0]
        self.assertEqual((msg.payload, msg.retain), (b'{"v":1}', True))

    async def test_an_mqtt_retained_publish_is_replayed_to_a_wamp_retained_subscriber(self):
        m = await self.mqtt_client()
        await asyncio.to_thread(m.publish, "br/ret/m", b'["a",2]', 1, True)
        ws = WebSocketClient(self.fox.port).open()
        self.addCleanup(ws.close)
        ws.send_msg(hello())
        self.assertEqual(ws.recv_msg()[0], WELCOME)
        ws.send_msg([SUBSCRIBE, 1, {"retained": True}, "br.ret.m"])
        sub = ws.recv_msg()
        self.assertEqual(sub[:2], [SUBSCRIBED, 1], sub)
        ev = ws.recv_msg()
        self.assertEqual(ev[0], EVENT, ev)
        self.assertEqual(ev[1], sub[2])
        self.assertTrue(ev[3].get("retained"), f"details lack retained: true: {ev}")
        self.assertEqual(ev[4], ["a", 2])

    async def test_a_non_json_mqtt_payload_breaks_neither_publisher_nor_broker_nor_json_subscriber(self):
        ws = WebSocketClient(self.fox.port).open()
        self.addCleanup(ws.close)
        ws.send_msg(hello())
        self.assertEqual(ws.recv_msg()[0], WELCOME)
        ws.send_msg([SUBSCRIBE, 1, {}, "br.bin.t"])
        self.assertEqual(ws.recv_msg()[:2], [SUBSCRIBED, 1])
        pub = await self.mqtt_client()
        await asyncio.to_thread(pub.publish, "br/bin/t", BINARY, 1)
        ev = ws.recv_msg()
        self.assertEqual(ev[0], EVENT, ev)
        self.assertEqual(ev[4], ["\u0000" + base64.b64encode(BINARY).decode()])
        await asyncio.to_thread(pub.publish, "br/bin/t", b'"still fine"', 1)
        self.assertEqual(ws.recv_msg()[4], ["still fine"])
        self.assertFalse(pub.disconnected.is_set())
        self.assertIsNone(self.fox.proc.poll())
        auto = await self.join()
        got = Collector()
        await auto.subscribe(got, "br.bin.t")
        await asyncio.to_thread(pub.publish, "br/bin/t", BINARY, 1)
        self.assertEqual((await got.wait(1))[0][0], (BINARY,))

if __name__ == "__main__":
    main()
