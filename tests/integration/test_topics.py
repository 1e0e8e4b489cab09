"""Topic names across MQTT and WAMP (SPEC §3): a topic is a list of parts, and each protocol's
text form names exactly one list.

- MQTT: a level holding a '.' is ONE level (`r/x.y` has two levels, `r/x/y` three: different
  topics, different retained values, different wills, also after a restart with SQLite), and a
  level that is exactly `*` is a literal level (publishable, subscribable; `+` matches it).
- WAMP: a part WAMP cannot carry is percent-escaped: MQTT `r/x.y` is WAMP `r.x%2Ey`, `star/*` is
  `star.%2A`, `a b` is `a%20b`, and '%' is `%25` in a part that needs escaping or where it would
  read as an escape (`a%2Eb` → `a%252Eb`); a part that needs none is unchanged (`50%`). Escapes
  in WAMP URIs are decoded (hex in either case). A WAMP part holding a '/' has no MQTT name, so it
  reaches no MQTT subscriber.
- Meta events (`wamp.session.on_join`, ...) stay WAMP-side: MQTT `#` or `+/session/#` does not
  match them, only an explicit `wamp/session/on_join` subscription does.

"Nothing else arrived" is proved with barriers: a marker published after the thing that must
not arrive, on a path that would have delivered it first.
"""
import json
import os
import unittest

from harness import Fox, main
from mqtt_client import PUBACK, MqttClient, MqttTestCase, publish_packet
from raw_wamp import (EVENT, PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED, WELCOME, WebSocketClient,
                      hello)


class Wamp:
    """A raw WebSocket JSON WAMP session (no client-side URI checks). EVENTs that arrive while
    waiting for another reply are kept in .events."""

    def __init__(self, fox):
        self.ws = WebSocketClient(fox.port).open()
        self.ws.send_msg(hello())
        welcome = self.ws.recv_msg()
        assert welcome and welcome[0] == WELCOME, welcome
        self.session = welcome[1]
        self.events = []
        self._request = 0

    def _reply(self, code, request):
        while True:
            msg = self.ws.recv_msg()
            assert msg is not None, "connection closed"
            if msg[0] == EVENT:
                self.events.append(msg)
                continue
            assert msg[:2] == [code, request], f"expected {code} for request {request}, got {msg}"
            return msg

    def subscribe(self, topic, **options):
        self._request += 1
        self.ws.send_msg([SUBSCRIBE, self._request, options, topic])
        return self._reply(SUBSCRIBED, self._request)[2]

    def publish(self, topic, *args, **options):
        """An acknowledged publication; returns its id."""
        self._request += 1
        self.ws.send_msg([PUBLISH, self._request, dict(options, acknowledge=True), topic,
                          list(args)])
        return self._reply(PUBLISHED, self._request)[2]

    def event(self):
        if self.events:
            return self.events.pop(0)
        msg = self.ws.recv_msg()
        assert msg and msg[0] == EVENT, msg
        return msg

    def close(self):
        self.ws.close()


def marker():
    return "marker-" + os.urandom(6).hex()


def wamp_barrier(wamp, mqtt, uri):
    """Publishes a marker from `wamp` to `uri` (which `mqtt` subscribes to) and returns the MQTT
    messages that arrived before it."""
    m = marker()
    wamp.publish(uri, m)
    return mqtt.messages.until_marker(json.dumps(m).encode())


class TopicTestCase(MqttTestCase):
    def wamp(self):
        w = Wamp(self.fox)
        self.addCleanup(w.close)
        return w

    def prefix(self):
        """A first level unique to this test (no '/' or '.', the same in MQTT and WAMP)."""
        return self.topic("x").split("/")[0]


class MqttLevelsTest(TopicTestCase):
    def test_a_level_with_a_dot_is_one_level_so_r_x_dot_y_and_r_x_slash_y_are_different_topics(self):
        p = self.prefix()
        three, dotted = self.client(), self.client()
        three.subscribe([(f"{p}/r/x/y", 1), (f"{p}/end", 1)])
        dotted.subscribe([(f"{p}/r/x.y", 1), (f"{p}/end", 1)])
        pub = self.client()
        pub.publish(f"{p}/r/x.y", b"dotted", 1)
        pub.publish(f"{p}/r/x/y", b"three levels", 1)
        end = marker().encode()
        pub.publish(f"{p}/end", end, 1)
        self.assertEqual([(m.topic, m.payload) for m in three.messages.until_marker(end)],
                         [(f"{p}/r/x/y", b"three levels")])
        self.assertEqual([(m.topic, m.payload) for m in dotted.messages.until_marker(end)],
                         [(f"{p}/r/x.y", b"dotted")])

    def test_a_qos_1_publish_to_a_star_level_is_acknowledged_and_reaches_a_plus_subscriber(self):
        p = self.prefix()
        sub = self.client()
        sub.subscribe(f"{p}/star/+", 1)
        raw = self.raw()
        self.assertEqual(raw.connect("star-publisher"), (False, 0))
        raw.send(publish_packet(f"{p}/star/*", b"literal star", 1, pid=7))
        kind, _, body = raw.expect(PUBACK)
        self.assertEqual(body, b"\x00\x07")
        got = sub.messages.wait(1)
        self.assertEqual([(m.topic, m.payload) for m in got], [(f"{p}/star/*", b"literal star")])

    def test_a_star_level_in_a_filter_is_granted_and_matches_only_a_literal_star(self):
        p = self.prefix()
        sub = self.client()
        self.assertEqual(sub.subscribe(f"{p}/star/*", 1), [1])
        self.assertEqual(sub.subscribe(f"{p}/end", 1), [1])
        pub = self.client()
        pub.publish(f"{p}/star/x", b"not a star", 1)
        pub.publish(f"{p}/star/*", b"star", 1)
        self.assertEqual([(m.topic, m.payload) for m in sub.roundtrip(f"{p}/end")],
                         [(f"{p}/star/*", b"star")])

    def test_retained_values_of_r_x_dot_y_and_r_x_slash_y_are_two_keys_with_their_own_names(self):
        p = self.prefix()
        pub = self.client()
        pub.publish(f"{p}/r/x.y", b"dotted", 1, retain=True)
        pub.publish(f"{p}/r/x/y", b"three levels", 1, retain=True)
        sub = self.client()
        sub.subscribe(f"{p}/r/#", 1)
        got = sub.roundtrip(f"{p}/r/end")
        self.assertEqual(sorted((m.topic, m.payload, m.retain) for m in got),
                         [(f"{p}/r/x.y", b"dotted", True), (f"{p}/r/x/y", b"three levels", True)])

    def test_wills_on_w_a_dot_b_and_w_a_slash_b_leave_two_distinct_retained_values(self):
        p = self.prefix()
        live = self.client()
        live.subscribe(f"{p}/w/#", 1)
        for cid, topic, payload in (("will-dotted", f"{p}/w/a.b", b"dotted gone"),
                                    ("will-levels", f"{p}/w/a/b", b"levels gone")):
            raw = self.raw()
            self.assertEqual(raw.connect(cid, will={"topic": topic, "payload": payload, "qos": 1,
                                                    "retain": True}), (False, 0))
            raw.close()  # no DISCONNECT: the will is published
        live.messages.wait(2)
        later = self.client()
        later.subscribe(f"{p}/w/#", 1)
        got = later.roundtrip(f"{p}/w/end")
        self.assertEqual(sorted((m.topic, m.payload) for m in got),
                         [(f"{p}/w/a.b", b"dotted gone"), (f"{p}/w/a/b", b"levels gone")])


class SqliteLevelsTest(unittest.TestCase):
    def test_retained_r_x_dot_y_and_r_x_slash_y_survive_a_restart_with_their_exact_names(self):
        fox = Fox(memory=False)
        data = fox.data_dir
        with fox:
            pub = MqttClient(fox)
            pub.publish("sq/r/x.y", b"dotted", 1, retain=True)
            pub.publish("sq/r/x/y", b"three levels", 1, retain=True)
            pub.disconnect()
            self.assertEqual(fox.stop(), 0, fox.log())
        with Fox(memory=False, data_dir=data) as fox2:
            sub = MqttClient(fox2)
            try:
                sub.subscribe("sq/r/#", 1)
                got = sub.roundtrip("sq/r/end")
                self.assertEqual(sorted((m.topic, m.payload) for m in got),
                                 [("sq/r/x.y", b"dotted"), ("sq/r/x/y", b"three levels")])
            finally:
                sub.close()
            self.assertEqual(fox2.stop(), 0, fox2.log())


class WampEscapesTest(TopicTestCase):
    def test_an_mqtt_publish_to_a_dotted_level_reaches_the_escaped_wamp_uri_and_wamp_patterns(self):
        p = self.prefix()
        w = self.wamp()
        exact = w.subscribe(f"{p}.r.x%2Ey")
        three = w.subscribe(f"{p}.r.x.y")
        any_parts = w.subscribe(f"{p}.r.#")
        one_part = w.subscribe(f"{p}.r.*")
        self.client().publish(f"{p}/r/x.y", b'"dotted"', 1)  # PUBACK: it has been routed
        w.publish(f"{p}.r.end")  # the barrier: every earlier event came before PUBLISHED
        got = {e[1]: e for e in w.events}
        self.assertEqual(sorted(got), sorted([exact, any_parts, one_part]),
                         f"{three} is r.x.y; events: {w.events}")
        self.assertEqual(got[exact][3:], [{}, ["dotted"]])
        self.assertEqual(got[any_parts][3:], [{"topic": f"{p}.r.x%2Ey"}, ["dotted"]])
        self.assertEqual(got[one_part][3:], [{"topic": f"{p}.r.x%2Ey"}, ["dotted"]])

    def test_only_parts_that_need_it_are_escaped_and_percent_is_escaped_only_there(self):
        p = self.prefix()
        w = self.wamp()
        w.subscribe(f"{p}.e.#")
        pub = self.client()
        names = {"a b": "a%20b", "tab\there": "tab%09here", "50%.off": "50%25%2Eoff",
                 "50%": "50%", "a%2Eb": "a%252Eb", "**": "**", "a*": "a*", "plain": "plain"}
        for level in names:
            pub.publish(f"{p}/e/{level}", b"1", 1)
        w.publish(f"{p}.e.end")
        self.assertEqual([e[3]["topic"] for e in w.events],
                         [f"{p}.e.{uri}" for uri in names.values()])
        w.events.clear()
        pub.publish(f"{p}/e/*", b"1", 1)  # a whole part "*" would be WAMP's wildcard
        w.publish(f"{p}.e.end")
        self.assertEqual([e[3]["topic"] for e in w.events], [f"{p}.e.%2A"])

    def test_a_wamp_publish_to_the_escaped_uri_reaches_mqtt_r_x_dot_y_and_not_r_x_slash_y(self):
        p = self.prefix()
        m = self.client()
        m.subscribe([(f"{p}/r/x.y", 1), (f"{p}/r/x/y", 1), (f"{p}/r/end", 1)])
        w = self.wamp()
        w.publish(f"{p}.r.x%2Ey", "upper hex")
        w.publish(f"{p}.r.x%2ey", "lower hex")
        got = wamp_barrier(w, m, f"{p}.r.end")
        self.assertEqual([(g.topic, g.payload) for g in got],
                         [(f"{p}/r/x.y", b'"upper hex"'), (f"{p}/r/x.y", b'"lower hex"')])

    def test_escapes_in_a_wamp_uri_are_decoded_for_mqtt_and_a_percent_without_one_stays_literal(self):
        p = self.prefix()
        m = self.client()
        m.subscribe(f"{p}/#", 1)
        w = self.wamp()
        uris = {"a%20b": "a b", "50%25%2Eoff": "50%.off", "50%": "50%", "100%zz": "100%zz"}
        for uri in uris:
            w.publish(f"{p}.{uri}", uri)
        got = wamp_barrier(w, m, f"{p}.end")
        self.assertEqual([(g.topic, g.payload) for g in got],
                         [(f"{p}/{name}", json.dumps(uri).encode()) for uri, name in uris.items()])

    def test_a_wamp_publish_to_the_star_escape_reaches_the_literal_mqtt_star_level(self):
        p = self.prefix()
        m = self.client()
        self.assertEqual(m.subscribe([(f"{p}/star/*", 1), (f"{p}/end", 1)]), [1, 1])
        w = self.wamp()
        w.publish(f"{p}.star.%2A", "star")
        w.publish(f"{p}.star.x", "not a star")
        got = wamp_barrier(w, m, f"{p}.end")
        self.assertEqual([(g.topic, g.payload) for g in got], [(f"{p}/star/*", b'"star"')])

    def test_a_wamp_topic_part_holding_a_slash_has_no_mqtt_name_and_reaches_no_mqtt_subscriber(self):
        p = self.prefix()
        m = self.client()
        m.subscribe(f"{p}/#", 1)
        w = self.wamp()
        w.publish(f"{p}.b/c", "slash")
        self.assertEqual(wamp_barrier(w, m, f"{p}.end"), [])

    def test_a_wamp_topic_part_holding_a_wildcard_character_reaches_no_mqtt_subscriber(self):
        # `e/+`, `e/x#y`, `e/a+b` are not MQTT topic names (MQTT-4.7.1-1): fox never sends one.
        p = self.prefix()
        m = self.client()
        m.subscribe(f"{p}/#", 1)
        w = self.wamp()
        for uri in (f"{p}.+", f"{p}.x%23y", f"{p}.a+b"):
            w.publish(uri, "wild")
        self.assertEqual(wamp_barrier(w, m, f"{p}.end"), [])


class MetaTopicsTest(MqttTestCase):
    """Its own fox per class (MqttTestCase): an MQTT `#` subscriber here sees this test only."""

    def test_session_meta_events_reach_an_explicit_mqtt_subscription_but_not_hash_or_plus(self):
        observer = Wamp(self.fox)
        self.addCleanup(observer.close)
        on_leave = observer.subscribe("wamp.session.on_leave")
        hash_sub, plus_sub, explicit = self.client(), self.client(), self.client()
        hash_sub.subscribe("#", 1)
        plus_sub.subscribe([("+/session/#", 1), ("end", 1)])
        explicit.subscribe([("wamp/session/on_join", 1), ("end", 1)])

        visitor = Wamp(self.fox)
        visitor.close()
        while True:  # the barrier of the meta events: the observer saw the visitor leave
            ev = observer.event()
            if ev[1] == on_leave and ev[4] and ev[4][0] == visitor.session:
                break

        m = marker().encode()
        hash_sub.publish("end", m, 1)
        self.assertEqual(hash_sub.messages.until_marker(m), [])
        self.assertEqual(plus_sub.messages.until_marker(m), [])
        joined = explicit.messages.until_marker(m)
        self.assertEqual([g.topic for g in joined], ["wamp/session/on_join"])
        self.assertEqual(json.loads(joined[0].payload)["session"], visitor.session)

    def test_an_ordinary_publication_to_a_wamp_first_level_still_reaches_hash(self):
        # Only the router's own meta events are hidden, not a topic that happens to start with wamp.
        sub = self.client()
        sub.subscribe("#", 1)
        sub.publish("wamp/x", b"ordinary", 1)
        got = sub.messages.wait_for(lambda g: g.topic == "wamp/x", timeout=5)
        self.assertEqual(got.payload, b"ordinary")


if __name__ == "__main__":
    main()
