"""JSON member order is kept (SPEC §4): an object a publisher sends reaches every subscriber with
its members in the publisher's order, never sorted: live to MQTT (exact payload bytes) and to
WAMP JSON subscribers, from an MQTT JSON payload to a WAMP JSON subscriber, from a msgpack or
CBOR publisher's map to JSON subscribers, through the retained replay to a new MQTT or WAMP
subscriber, through the history replay (`after`) to a WAMP subscriber, and after a `merge` (old
members in place, new ones appended). Retained values, history and merge run with --memory and
with SQLite (also across a restart).

The publishers write exact bytes (raw RawSocket frames), and WAMP events are read as raw JSON
text, so no client library reorders anything on the way.
"""
import json
import unittest
import zlib

from harness import Fox, main
from mqtt_client import MqttClient
from raw_wamp import (CBOR, EVENT, JSON, MSGPACK, PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED,
                      WELCOME, RawSocketClient, decode, encode, hello)

ORDERED = '{"x":1,"s":"text","m":{"z":true,"a":null}}'  # sorted would be {"m":{"a":..},"s",..}


class Raw:
    """A RawSocket WAMP session that sends hand-written JSON text (or msgpack / CBOR bytes) and
    hands back the raw JSON text of the events it receives."""

    def __init__(self, fox, serializer=JSON):
        self.c = RawSocketClient(fox.rawsocket_port, serializer)
        self.serializer = serializer
        self.c.send_msg(hello())
        welcome = self.c.recv_msg()
        assert welcome and welcome[0] == WELCOME, welcome
        self._request = 0
        self.events = []  # raw texts of EVENTs that arrived while waiting for a reply

    def send(self, text):
        self.c.send_frame(text.encode() if isinstance(text, str) else text)

    def recv_text(self):
        """The next message as (decoded list, raw JSON text); JSON sessions only."""
        frame = self.c.recv_raw()
        assert frame is not None, "connection closed"
        text = frame[1].decode()
        return json.loads(text), text

    def _reply(self, code, request):
        while True:
            frame = self.c.recv_raw()
            assert frame is not None, "connection closed"
            if self.serializer == JSON:
                msg, text = json.loads(frame[1]), frame[1].decode()
            else:
                msg, text = decode(self.serializer, frame[1]), None
            if msg[0] == EVENT:
                self.events.append(text)
                continue
            assert msg[:2] == [code, request], f"expected {code} for {request}: {msg}"
            return msg

    def publish_text(self, topic, args_text, options_text=""):
        """PUBLISH with the args array written as `args_text`, acknowledged; returns its id."""
        self._request += 1
        opts = '{"acknowledge":true' + ("," + options_text if options_text else "") + "}"
        self.send(f'[{PUBLISH},{self._request},{opts},{json.dumps(topic)},{args_text}]')
        return self._reply(PUBLISHED, self._request)[2]

    def publish_binary(self, topic, args, **options):
        """PUBLISH from a msgpack or CBOR session (their maps keep Python's dict order)."""
        self._request += 1
        options = dict(options, acknowledge=True)
        self.send(encode(self.serializer, [PUBLISH, self._request, options, topic, args]))
        return self._reply(PUBLISHED, self._request)[2]

    def subscribe(self, topic, options_text="{}"):
        self._request += 1
        self.send(f'[{SUBSCRIBE},{self._request},{options_text},{json.dumps(topic)}]')
        return self._reply(SUBSCRIBED, self._request)[2]

    def event_args_text(self):
        """The next EVENT's args array as compact JSON text, its members in the order they
        arrived in (json.loads keeps the document order)."""
        text = self.events.pop(0) if self.events else self.recv_text()[1]
        msg = json.loads(text)
        assert msg[0] == EVENT, text
        return json.dumps(msg[4], separators=(",", ":"))

    def close(self):
        self.c.close()


class MemberOrderCase(unittest.TestCase):
    memory = True

    @classmethod
    def setUpClass(cls):
        cls.fox = Fox(memory=cls.memory)

    @classmethod
    def tearDownClass(cls):
        assert cls.fox.stop() == 0, cls.fox.log()

    def raw(self, serializer=JSON, fox=None):
        r = Raw(fox or self.fox, serializer)
        self.addCleanup(r.close)
        return r

    def mqtt(self, topic, fox=None):
        m = MqttClient(fox or self.fox)
        self.addCleanup(m.close)
        m.subscribe(topic, 1)
        return m

    def topic(self, name):
        """A WAMP topic unique to this test (retained values outlive a test)."""
        return f"mo{zlib.crc32(self.id().encode()):08x}.{name}"

    @staticmethod
    def mqtt_name(uri):
        return uri.replace(".", "/")


class LiveMemberOrderTest(MemberOrderCase):
    def test_a_json_publication_reaches_an_mqtt_subscriber_as_exactly_the_publishers_bytes(self):
        t = self.topic("live")
        m = self.mqtt(self.mqtt_name(t))
        self.raw().publish_text(t, f"[{ORDERED}]")
        self.assertEqual(m.messages.wait(1)[0].payload, ORDERED.encode())

    def test_a_json_publication_reaches_a_wamp_json_subscriber_with_its_member_order(self):
        t = self.topic("live")
        sub = self.raw()
        sub.subscribe(t)
        self.raw().publish_text(t, f"[{ORDERED}]")
        self.assertEqual(sub.event_args_text(), f"[{ORDERED}]")

    def test_a_msgpack_or_cbor_publishers_map_order_reaches_json_subscribers_in_order(self):
        value = json.loads(ORDERED)  # a dict in the order of ORDERED; packb / dumps keep it
        for name, serializer in (("msgpack", MSGPACK), ("cbor", CBOR)):
            with self.subTest(serializer=name):
                t = self.topic(name)
                sub = self.raw()
                sub.subscribe(t)
                m = self.mqtt(self.mqtt_name(t))
                self.raw(serializer).publish_binary(t, [value])
                self.assertEqual(sub.event_args_text(), f"[{ORDERED}]")
                self.assertEqual(m.messages.wait(1)[0].payload, ORDERED.encode())

    def test_an_mqtt_json_payload_reaches_a_wamp_json_subscriber_with_its_member_order(self):
        t = self.topic("from-mqtt")
        sub = self.raw()
        sub.subscribe(t)
        pub = MqttClient(self.fox)
        self.addCleanup(pub.close)
        pub.publish(self.mqtt_name(t), ORDERED.encode(), 1)
        self.assertEqual(sub.event_args_text(), f"[{ORDERED}]")


class StoredMemberOrderTest(MemberOrderCase):
    """Retained values, history and merge: the stored forms keep the order too."""

    def test_a_retained_value_is_replayed_to_a_new_mqtt_subscriber_in_member_order(self):
        t = self.topic("ret")
        self.raw().publish_text(t, f"[{ORDERED}]", '"retain":true')
        got = self.mqtt(self.mqtt_name(t)).messages.wait(1)[0]
        self.assertEqual((got.payload, got.retain), (ORDERED.encode(), True))

    def test_a_retained_value_is_replayed_to_a_wamp_subscriber_in_member_order(self):
        t = self.topic("ret")
        self.raw().publish_text(t, f"[{ORDERED}]", '"retain":true')
        sub = self.raw()
        sub.subscribe(t, '{"get_retained":true}')
        self.assertEqual(sub.event_args_text(), f"[{ORDERED}]")

    def test_the_history_replay_after_an_event_id_keeps_the_member_order(self):
        t = self.topic("hist")
        pub = self.raw()
        start = pub.publish_text(t, '["start"]')
        pub.publish_text(t, f"[{ORDERED}]")
        pub.publish_text(t, '[{"b":2,"a":1}]')
        sub = self.raw()
        sub.subscribe(t, json.dumps({"after": start}))
        got = [sub.event_args_text(), sub.event_args_text()]
        self.assertEqual(got, [f"[{ORDERED}]", '[{"b":2,"a":1}]'])

    def test_a_merge_keeps_the_members_in_place_and_appends_new_ones(self):
        t = self.topic("merge")
        pub = self.raw()
        pub.publish_text(t, '[{"b":1,"a":2}]', '"retain":true')
        pub.publish_text(t, '[{"c":3}]', '"retain":true,"merge":true')
        self.assertEqual(self.mqtt(self.mqtt_name(t)).messages.wait(1)[0].payload,
                         b'{"b":1,"a":2,"c":3}')
        pub.publish_text(t, '[{"a":null,"d":{"y":1,"x":2},"b":5}]', '"retain":true,"merge":true')
        self.assertEqual(self.mqtt(self.mqtt_name(t)).messages.wait(1)[0].payload,
                         b'{"b":5,"c":3,"d":{"y":1,"x":2}}')


class SqliteStoredMemberOrderTest(StoredMemberOrderTest):
    memory = False


class SqliteRestartMemberOrderTest(unittest.TestCase):
    def test_retained_and_history_values_keep_their_member_order_across_a_restart(self):
        fox = Fox(memory=False)
        data = fox.data_dir
        with fox:
            pub = Raw(fox)
            start = pub.publish_text("mor.hist", '["start"]')
            pub.publish_text("mor.hist", f"[{ORDERED}]")
            pub.publish_text("mor.ret", '[{"b":1,"a":2}]', '"retain":true')
            pub.publish_text("mor.ret", '[{"c":3}]', '"retain":true,"merge":true')
            pub.close()
            self.assertEqual(fox.stop(), 0, fox.log())
        with Fox(memory=False, data_dir=data) as fox2:
            m = MqttClient(fox2)
            try:
                m.subscribe("mor/ret", 1)
                self.assertEqual(m.messages.wait(1)[0].payload, b'{"b":1,"a":2,"c":3}')
            finally:
                m.close()
            sub = Raw(fox2)
            try:
                sub.subscribe("mor.hist", json.dumps({"after": start}))
                self.assertEqual(sub.event_args_text(), f"[{ORDERED}]")
            finally:
                sub.close()
            self.assertEqual(fox2.stop(), 0, fox2.log())


if __name__ == "__main__":
    main()
