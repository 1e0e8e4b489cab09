"""FOX ⇄ WAMP ⇄ MQTT in one realm: every row of the README's FOX mapping table ("Topics,
payloads and retained state"), in each direction, and retained values across the protocols.

FOX: fox_client.py; WAMP: raw_wamp.py (RawSocket msgpack, so binary values stay binary, and one
WebSocket JSON client); MQTT: paho (mqtt_client.py). One fox for the file; unique topics per test.
"""
import zlib

from fox_client import FoxClient
from harness import SharedFoxCase, main
from mqtt_client import MqttClient
from raw_wamp import (EVENT, JSON, MSGPACK, PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED, WELCOME,
                      RawSocketClient, WebSocketClient, hello)


class Wamp:
    """A raw WAMP session (subscriber/publisher) with request ids and a deadline on every read."""

    def __init__(self, client):
        self.c = client
        self.request = 0
        self.c.send_msg(hello())
        m = self.c.recv_msg(5)
        assert m and m[0] == WELCOME, m

    def subscribe(self, topic, **options):
        self.request += 1
        self.c.send_msg([SUBSCRIBE, self.request, options, topic])
        m = self.c.recv_msg(5)
        assert m and m[:2] == [SUBSCRIBED, self.request], m
        return m[2]

    def publish(self, topic, *rest, **options):
        """rest: (), (args,) or (args, kwargs); acknowledged; returns the publication id."""
        self.request += 1
        options.setdefault("acknowledge", True)
        self.c.send_msg([PUBLISH, self.request, options, topic] + list(rest))
        m = self.c.recv_msg(5)
        assert m and m[:2] == [PUBLISHED, self.request], m
        return m[2]

    def event(self, subscription):
        """The next EVENT as (publication, args or None, kwargs or None)."""
        m = self.c.recv_msg(5)
        assert m and m[0] == EVENT and m[1] == subscription, m
        return m[2], (m[4] if len(m) > 4 else None), (m[5] if len(m) > 5 else None)

    def close(self):
        self.c.close()


class CrossCase(SharedFoxCase):
    def fox_client(self):
        c = FoxClient(self.fox.fox_port)
        self.addCleanup(c.close)
        c.login()
        return c

    def wamp(self, serializer=MSGPACK):
        if serializer == MSGPACK:
            w = Wamp(RawSocketClient(self.fox.rawsocket_port, MSGPACK))
        else:
            w = Wamp(WebSocketClient(self.fox.port, subprotocols=["wamp.2.json"]).open())
        self.addCleanup(w.close)
        return w

    def mqtt(self):
        m = MqttClient(self.fox)
        self.addCleanup(m.close)
        return m

    def assert_fox_body(self, data, kv, args=None, kwargs=None):
        """A FOX subscriber's `data`: nil when `kv` is None, else `kv` as the table says; fox may
        send the exact args/kwargs beside it (when kv alone would lose the shape): then those."""
        if kv is None:
            self.assertIsNone(data)
            return
        self.assertIsInstance(data, dict)
        self.assertEqual(data.get("kv"), kv, data)
        self.assertLessEqual(set(data) - {"kv"}, {"args", "kwargs"}, data)
        if "args" in data:
            self.assertEqual(data["args"], args if args is not None else [], data)
        if "kwargs" in data:
            self.assertEqual(data["kwargs"], kwargs, data)

    def parts(self, i=0):
        """This test's i-th topic as FOX parts (a, b, c): WAMP a.b.c, MQTT a/b/c."""
        return [f"x{zlib.crc32(self.id().encode()):08x}", "case", str(i)]

    def wamp_topic(self, i=0):
        return ".".join(self.parts(i))

    def mqtt_topic(self, i=0):
        return "/".join(self.parts(i))


class FromFoxTest(CrossCase):
    CASES = [  # FOX data, WAMP (args, kwargs), MQTT payload, FOX subscriber's kv
        ({"kv": {"a": 1, "s": "x"}}, ([{"a": 1, "s": "x"}], None), b'{"a":1,"s":"x"}',
         {"a": 1, "s": "x"}),
        ({"kv": 7}, ([7], None), b"7", 7),
        ({"kv": "text"}, (["text"], None), b'"text"', "text"),
        ({"kv": [1, 2]}, ([[1, 2]], None), b"[1,2]", [1, 2]),
        ({"kv": [5]}, ([[5]], None), b"[5]", [5]),
        ({"kv": b"\x00\xffbin"}, ([b"\x00\xffbin"], None), b"\x00\xffbin", b"\x00\xffbin"),
        # fox-wamp's publish(null): MQTT's "no value", an empty payload (reference doc §3.5)
        ({"kv": None}, (None, None), b"", None),
        (None, (None, None), b"", None),
        ({"args": [1, "b"], "kwargs": {"k": 1}}, ([1, "b"], {"k": 1}), b'[1,"b"]', [1, "b"]),
        ({"args": [[1, 2]]}, ([[1, 2]], None), b"[1,2]", [1, 2]),
        # WAMP's wire needs args [] before kwargs; MQTT gets no kwargs: no args → null
        ({"kwargs": {"k": 2}}, ([], {"k": 2}), b"null", {"k": 2}),
    ]

    def test_every_fox_body_reaches_wamp_mqtt_and_fox_subscribers_as_the_table_says(self):
        pub = self.fox_client()
        for i, (data, (args, kwargs), payload, kv) in enumerate(self.CASES):
            with self.subTest(data=data):
                fox_sub, wamp_sub, mqtt_sub = self.fox_client(), self.wamp(), self.mqtt()
                trace_id, _ = fox_sub.trace(self.parts(i))
                sub = wamp_sub.subscribe(self.wamp_topic(i))
                mqtt_sub.subscribe(self.mqtt_topic(i), 0)
                eid = pub.push(self.parts(i), data)
                publication, got_args, got_kwargs = wamp_sub.event(sub)
                self.assertEqual(publication, eid)
                self.assertEqual((got_args, got_kwargs), (args, kwargs))
                m = mqtt_sub.messages.wait(1)[0]
                self.assertEqual((m.topic, m.payload), (self.mqtt_topic(i), payload))
                (ev,) = fox_sub.events(trace_id, 1)
                self.assertEqual(ev["qid"], eid)
                self.assert_fox_body(ev["data"], kv, args, kwargs)

    def test_a_fox_payload_body_is_mqtt_bytes(self):
        pub, wamp_sub, mqtt_sub, fox_sub = self.fox_client(), self.wamp(), self.mqtt(), \
            self.fox_client()
        sub = wamp_sub.subscribe(self.wamp_topic())
        mqtt_sub.subscribe(self.mqtt_topic(), 0)
        trace_id, _ = fox_sub.trace(self.parts())
        for payload, args, fox_data in ((b'{"j":[1]}', [{"j": [1]}], {"kv": {"j": [1]}}),
                                        (b"\xff\x00raw", [b"\xff\x00raw"], {"kv": b"\xff\x00raw"})):
            with self.subTest(payload=payload):
                pub.push(self.parts(), {"payload": payload})
                self.assertEqual(mqtt_sub.messages.wait(1)[0].payload, payload)
                mqtt_sub.messages.clear()
                self.assertEqual(wamp_sub.event(sub)[1:], (args, None))
                self.assertEqual(fox_sub.events(trace_id, 1)[0]["data"], fox_data)

    def test_fox_headers_and_publisher_over_wamp(self):
        pub, wamp_sub = self.fox_client(), self.wamp()
        sub = wamp_sub.subscribe(self.wamp_topic(), match="prefix")
        pub.push(self.parts(), {"kv": 1}, opt={"disclose_me": True})
        m = wamp_sub.c.recv_msg(5)
        self.assertEqual(m[0], EVENT, m)
        self.assertEqual(m[1], sub)
        self.assertEqual(m[3].get("topic"), self.wamp_topic(), m)
        self.assertIsInstance(m[3].get("publisher"), int, m)


class ToFoxTest(CrossCase):
    WAMP_CASES = [  # WAMP publish rest, FOX kv, MQTT payload
        (([{"v": 1}],), {"v": 1}, b'{"v":1}'),
        (([3],), 3, b"3"),
        (([1, "b"],), [1, "b"], b'[1,"b"]'),
        (([[1, 2]],), [1, 2], b"[1,2]"),
        (([], {"k": 1}), {"k": 1}, b"[]"),   # the args list [] is there: JSON of it
        (([1], {"k": 1}), 1, b"1"),
        ((), None, b"null"),
        (([],), None, b"[]"),
        (([b"\x00\x01"],), b"\x00\x01", b"\x00\x01"),
    ]

    def test_wamp_publications_reach_fox_and_mqtt_as_the_table_says(self):
        wamp_pub = self.wamp()
        for i, (rest, kv, payload) in enumerate(self.WAMP_CASES):
            with self.subTest(rest=rest):
                fox_sub, mqtt_sub = self.fox_client(), self.mqtt()
                trace_id, _ = fox_sub.trace(self.parts(i))
                mqtt_sub.subscribe(self.mqtt_topic(i), 0)
                publication = wamp_pub.publish(self.wamp_topic(i), *rest)
                (ev,) = fox_sub.events(trace_id, 1)
                self.assertEqual((ev["qid"], ev["uri"]), (publication, self.parts(i)))
                self.assert_fox_body(ev["data"], kv, *(list(rest) + [None, None])[:2])
                self.assertEqual((ev["opt"], ev["hdr"]), ({}, {}))
                m = mqtt_sub.messages.wait(1)[0]
                self.assertEqual(m.payload, payload)

    def test_a_json_wamp_publisher_reaches_fox(self):
        wamp_pub, fox_sub = self.wamp(JSON), self.fox_client()
        trace_id, _ = fox_sub.trace(self.parts())
        wamp_pub.publish(self.wamp_topic(), [{"deep": {"er": [None, True, 1.5]}}])
        self.assertEqual(fox_sub.events(trace_id, 1)[0]["data"],
                         {"kv": {"deep": {"er": [None, True, 1.5]}}})

    MQTT_CASES = [  # MQTT payload, FOX kv, WAMP (args, kwargs)
        (b'{"m":1}', {"m": 1}, ([{"m": 1}], None)),
        (b"[1,2]", [1, 2], ([1, 2], None)),
        (b"[5]", [5], ([5], None)),
        (b"[]", [], ([], None)),
        (b"42", 42, ([42], None)),
        (b'"s"', "s", (["s"], None)),
        (b"null", None, (None, None)),
        (b"\xff\xfenot json", b"\xff\xfenot json", ([b"\xff\xfenot json"], None)),
        (b"plain text", b"plain text", ([b"plain text"], None)),
        (b"", None, (None, None)),
    ]

    def test_mqtt_publications_reach_fox_and_wamp_as_the_table_says(self):
        mqtt_pub = self.mqtt()
        for i, (payload, kv, (args, kwargs)) in enumerate(self.MQTT_CASES):
            with self.subTest(payload=payload):
                fox_sub, wamp_sub = self.fox_client(), self.wamp()
                trace_id, _ = fox_sub.trace(self.parts(i))
                sub = wamp_sub.subscribe(self.wamp_topic(i))
                mqtt_pub.publish(self.mqtt_topic(i), payload, qos=1)
                (ev,) = fox_sub.events(trace_id, 1)
                self.assertEqual(ev["uri"], self.parts(i))
                self.assert_fox_body(ev["data"], kv, args, kwargs)
                _, got_args, got_kwargs = wamp_sub.event(sub)
                self.assertEqual((got_args, got_kwargs), (args, kwargs))

    def test_an_mqtt_wildcard_subscriber_and_a_fox_wildcard_trace(self):
        fox_pub, mqtt_sub, fox_sub = self.fox_client(), self.mqtt(), self.fox_client()
        base = self.parts()[0]
        mqtt_sub.subscribe(f"{base}/+/#", 0)
        trace_id, _ = fox_sub.trace([base, "#"])
        fox_pub.push([base, "a", "b"], {"kv": "w"})
        m = mqtt_sub.messages.wait(1)[0]
        self.assertEqual((m.topic, m.payload), (f"{base}/a/b", b'"w"'))
        mqtt_sub.publish(f"{base}/m/n", b"[true]")
        evs = fox_sub.events(trace_id, 2)
        self.assertEqual([e["uri"] for e in evs], [[base, "a", "b"], [base, "m", "n"]])
        self.assert_fox_body(evs[0]["data"], "w", ["w"])
        self.assert_fox_body(evs[1]["data"], [True], [True])


class RetainedAcrossTest(CrossCase):
    def test_a_fox_retained_value_is_retained_for_mqtt_and_wamp(self):
        pub = self.fox_client()
        pub.push(self.parts(), {"kv": {"r": 1}}, opt={"retain": True})
        mqtt_sub = self.mqtt()
        mqtt_sub.subscribe(self.mqtt_topic(), 1)
        m = mqtt_sub.messages.wait(1)[0]
        self.assertEqual((m.payload, m.retain), (b'{"r":1}', True))
        wamp_sub = self.wamp()
        sub = wamp_sub.subscribe(self.wamp_topic(), get_retained=True)
        self.assertEqual(wamp_sub.event(sub)[1:], ([{"r": 1}], None))

    def test_an_mqtt_retained_value_is_replayed_to_a_fox_trace(self):
        mqtt_pub = self.mqtt()
        mqtt_pub.publish(self.mqtt_topic(0), b"[5]", qos=1, retain=True)
        mqtt_pub.publish(self.mqtt_topic(1), b"\x00bin", qos=1, retain=True)
        fox_sub = self.fox_client()
        trace_id, _ = fox_sub.trace(self.parts()[:2] + ["*"], opt={"retained": True})
        evs = fox_sub.events(trace_id, 2)
        evs.sort(key=lambda e: e["uri"][-1])
        self.assertEqual([e["uri"] for e in evs], [self.parts(0), self.parts(1)])
        self.assert_fox_body(evs[0]["data"], [5], [5])
        self.assert_fox_body(evs[1]["data"], b"\x00bin", [b"\x00bin"])
        self.assertTrue(all(e["opt"] == {"retained": True} for e in evs), evs)

    def test_a_wamp_retained_value_is_replayed_to_a_fox_trace_and_a_fox_empty_push_clears_it(self):
        wamp_pub = self.wamp()
        wamp_pub.publish(self.wamp_topic(), [1, 2], retain=True)
        fox_sub = self.fox_client()
        trace_id, _ = fox_sub.trace(self.parts(), opt={"retained": True})
        (ev,) = fox_sub.events(trace_id, 1)
        self.assertEqual(ev["opt"], {"retained": True})
        self.assert_fox_body(ev["data"], [1, 2], [1, 2])
        # an empty retained FOX publication deletes the value for everyone
        fox_sub.push(self.parts(), None, opt={"retain": True})
        mqtt_sub = self.mqtt()
        mqtt_sub.subscribe(self.mqtt_topic(), 1)
        mqtt_sub.subscribe(self.mqtt_topic(9), 1)
        mqtt_sub.publish(self.mqtt_topic(9), b"marker", qos=1)
        self.assertEqual([m.payload for m in mqtt_sub.messages.wait(1)], [b"marker"],
                         "the deleted retained value was replayed")

    def test_a_fox_retained_publication_is_qos_1_for_mqtt(self):
        mqtt_sub = self.mqtt()
        mqtt_sub.subscribe(self.mqtt_topic(), 1)
        pub = self.fox_client()
        pub.push(self.parts(), {"kv": "q"}, ack=False, opt={"retain": True})
        pub.push(self.parts(), {"kv": "plain"}, ack=False)
        pub.push(self.parts(), {"kv": "acked"})
        got = mqtt_sub.messages.wait(3)
        self.assertEqual([(m.payload, m.qos) for m in got],
                         [(b'"q"', 1), (b'"plain"', 0), (b'"acked"', 1)])


if __name__ == "__main__":
    main()
