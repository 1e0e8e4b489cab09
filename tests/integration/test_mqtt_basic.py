"""MQTT 3.1.1 basics (SPEC §3, §7) with paho clients and with the mosquitto_pub / mosquitto_sub
command-line clients: QoS 0/1/2 delivery with payload bytes unchanged, granted QoS and downgrade,
retained messages, unsubscribe, overlapping subscriptions, the `$`-topic rule, wildcard publish,
zero-length client ids, MQTT 3.1, and the realm chosen by `user@realm`.

"Nothing else arrived" is always proved with a barrier (a marker message that would have arrived
after the unwanted one), never with a sleep."""
from harness import main
from mqtt_client import MQTTv31, MosquittoSub, MqttTestCase, mosquitto_pub, publish_packet

BINARY = bytes(range(256)) + b"\xff\xfe\x00\xc3\x28"  # not UTF-8, contains NUL


class PahoDeliveryTest(MqttTestCase):
    def test_qos_0_1_and_2_publications_reach_a_subscriber_with_payload_bytes_unchanged(self):
        t = self.topic("qos")
        sub, pub = self.client(), self.client()
        self.assertEqual(sub.subscribe(t, 2), [2])
        sent = {0: b"qos zero", 1: BINARY, 2: b"\x00" * 3 + "é€".encode() + BINARY[::-1]}
        for qos, payload in sent.items():
            pub.publish(t, payload, qos)
        got = sub.messages.wait(3)
        self.assertEqual(sorted((m.qos, m.payload) for m in got), sorted(sent.items()))
        self.assertTrue(all(m.topic == t and not m.retain for m in got), got)

    def test_an_empty_payload_is_delivered_as_an_empty_payload(self):
        t = self.topic("empty")
        sub, pub = self.client(), self.client()
        sub.subscribe(t, 1)
        pub.publish(t, b"", 1)
        self.assertEqual(sub.messages.wait(1)[0].payload, b"")

    def test_suback_grants_the_requested_qos_up_to_2(self):
        c = self.client()
        filters = [(self.topic("g0"), 0), (self.topic("g1"), 1), (self.topic("g2/#"), 2),
                   (self.topic("+/g"), 1)]
        self.assertEqual(c.subscribe(filters), [0, 1, 2, 1])

    def test_a_qos_2_publication_reaches_a_qos_1_subscriber_at_qos_1_and_a_qos_0_one_at_qos_0(self):
        t = self.topic("down")
        s1, s0, pub = self.client(), self.client(), self.client()
        s1.subscribe(t, 1)
        s0.subscribe(t, 0)
        pub.publish(t, b"two", 2)
        self.assertEqual(s1.messages.wait(1)[0][1:3], (b"two", 1))
        self.assertEqual(s0.messages.wait(1)[0][1:3], (b"two", 0))

    def test_a_qos_0_publication_reaches_a_qos_2_subscriber_at_qos_0(self):
        t = self.topic("up")
        sub, pub = self.client(), self.client()
        sub.subscribe(t, 2)
        pub.publish(t, b"zero", 0)
        self.assertEqual(sub.messages.wait(1)[0].qos, 0)

    def test_a_retained_message_reaches_a_new_subscriber_with_the_retain_flag(self):
        t = self.topic("ret")
        pub = self.client()
        pub.publish(t, b"kept", 1, retain=True)
        sub = self.client()
        sub.subscribe(t, 1)
        m = sub.messages.wait(1)[0]
        self.assertEqual((m.topic, m.payload, m.qos, m.retain), (t, b"kept", 1, True))

    def test_a_retained_publication_reaches_an_existing_subscriber_without_the_retain_flag(self):
        t = self.topic("live")
        sub, pub = self.client(), self.client()
        sub.subscribe(t, 1)
        pub.publish(t, b"live", 1, retain=True)
        m = sub.messages.wait(1)[0]
        self.assertEqual((m.payload, m.retain), (b"live", False), "MQTT-3.3.1-9")

    def test_a_new_retained_value_replaces_the_old_one_byte_for_byte(self):
        t = self.topic("replace")
        pub = self.client()
        pub.publish(t, b"an old, much longer retained value", 1, retain=True)
        pub.publish(t, b"new", 1, retain=True)
        sub = self.client()
        sub.subscribe(t, 1)
        before = sub.roundtrip(t)
        self.assertEqual([(m.payload, m.retain) for m in before], [(b"new", True)])

    def test_a_retained_message_is_replayed_to_a_wildcard_subscriber(self):
        pub = self.client()
        pub.publish(self.topic("w/a"), b"A", 0, retain=True)
        pub.publish(self.topic("w/b"), b"B", 2, retain=True)
        sub = self.client()
        sub.subscribe(self.topic("w/+"), 2)
        got = sub.messages.wait(2)
        self.assertEqual(sorted((m.topic, m.payload, m.qos, m.retain) for m in got),
                         [(self.topic("w/a"), b"A", 0, True), (self.topic("w/b"), b"B", 2, True)])

    def test_an_empty_retained_payload_clears_the_retained_value(self):
        t = self.topic("clear")
        pub = self.client()
        pub.publish(t, b"to be cleared", 1, retain=True)
        pub.publish(t, b"", 1, retain=True)
        sub = self.client()
        sub.subscribe(t, 1)
        self.assertEqual(sub.roundtrip(t), [], "the cleared retained value was replayed")

    def test_a_binary_retained_payload_is_replayed_unchanged(self):
        t = self.topic("bin")
        self.client().publish(t, BINARY, 2, retain=True)
        sub = self.client()
        sub.subscribe(t, 2)
        m = sub.messages.wait(1)[0]
        self.assertEqual((m.payload, m.retain, m.qos), (BINARY, True, 2))

    def test_unsubscribe_stops_delivery_and_keeps_the_other_subscriptions(self):
        gone, kept = self.topic("gone"), self.topic("kept")
        sub, pub = self.client(), self.client()
        sub.subscribe([(gone, 1), (kept, 1)])
        sub.unsubscribe(gone)
        pub.publish(gone, b"after unsubscribe", 1)
        pub.publish(kept, b"still subscribed", 1)
        self.assertEqual([m.payload for m in sub.roundtrip(kept)], [b"still subscribed"])

    def test_overlapping_subscriptions_deliver_one_message_at_the_highest_granted_qos(self):
        for hash_qos, plus_qos in ((2, 1), (1, 2), (0, 1)):
            with self.subTest(hash_qos=hash_qos, plus_qos=plus_qos):
                base = self.topic(f"ov{hash_qos}{plus_qos}")
                sub, pub = self.client(), self.client()
                self.assertEqual(sub.subscribe([(base + "/#", hash_qos), (base + "/+", plus_qos)]),
                                 [hash_qos, plus_qos])
                pub.publish(base + "/x", b"overlap", 2)
                got = sub.roundtrip(base + "/y")
                self.assertEqual([(m.payload, m.qos) for m in got],
                                 [(b"overlap", max(hash_qos, plus_qos))])

    def test_dollar_topics_are_matched_by_an_explicit_dollar_filter_but_not_by_hash_or_plus(self):
        hash_sub, plus_sub, sys_sub, pub = (self.client() for _ in range(4))
        hash_sub.subscribe("#", 1)
        plus_sub.subscribe("+/x", 1)
        sys_sub.subscribe("$SYS/#", 1)
        hash_sub.messages.clear()  # "#" also replays other tests' retained values
        hash_sub.roundtrip(self.topic("barrier"))
        pub.publish("$SYS/x", b"dollar", 1)
        sys_sub.messages.wait_for(lambda m: (m.topic, m.payload) == ("$SYS/x", b"dollar"))
        self.assertEqual([m.topic for m in hash_sub.roundtrip(self.topic("barrier"))
                          if m.topic.startswith("$")], [], "'#' matched a $ topic")
        self.assertEqual(plus_sub.roundtrip("m/x"), [], "'+/x' matched $SYS/x")

    def test_publishing_to_a_wildcard_topic_disconnects_that_client_and_nobody_else(self):
        t = self.topic("ok")
        witness = self.client()
        witness.subscribe(t, 1)
        for bad in ("wild/+/x", "wild/#", "+", "#"):
            with self.subTest(topic=bad):
                raw = self.raw()
                self.assertEqual(raw.connect(f"wild-{len(bad)}-{bad[-1]}"), (False, 0))
                raw.send(publish_packet(bad, b"x", 0))
                self.assertTrue(raw.closed(3), f"publishing to {bad!r} did not disconnect")
                self.assertEqual(witness.roundtrip(t), [])
                self.assertFalse(witness.disconnected.is_set())

    def test_a_zero_length_client_id_with_clean_session_is_accepted(self):
        t = self.topic("zero")
        c = self.client(client_id="")
        self.assertEqual(c.connack_rc, 0)
        c.subscribe(t, 1)
        self.assertEqual(len(c.roundtrip(t)), 0)
        raw = self.raw()
        self.assertEqual(raw.connect("", clean=True), (False, 0))

    def test_a_zero_length_client_id_without_clean_session_is_refused_with_connack_2(self):
        raw = self.raw()
        self.assertEqual(raw.connect("", clean=False), (False, 2), "identifier rejected")
        self.assertTrue(raw.closed(3), "connection left open after CONNACK 2")

    def test_an_mqtt_3_1_client_publishes_and_subscribes(self):
        t = self.topic("v31")
        sub = self.client(protocol=MQTTv31)
        pub = self.client(protocol=MQTTv31)
        v311 = self.client()
        self.assertEqual(sub.subscribe(t, 2), [2])
        v311.subscribe(t, 2)
        for qos in (0, 1, 2):
            pub.publish(t, BINARY[:10 + qos], qos)
        for c in (sub, v311):
            self.assertEqual(sorted((m.qos, m.payload) for m in c.messages.wait(3)),
                             [(q, BINARY[:10 + q]) for q in (0, 1, 2)])

    def test_a_raw_mqtt_3_1_connect_gets_connack_0(self):
        raw = self.raw()
        self.assertEqual(raw.connect("raw-v31", protocol_name="MQIsdp", level=3), (False, 0))

    def test_username_user_at_realm_selects_the_realm(self):
        t = self.topic("realm")
        sub1 = self.client()                                  # default realm (realm1)
        sub1b = self.client(username="bob@realm1")
        subx = self.client(username="joe@realmx")
        pub1 = self.client()
        pubx = self.client(username="ann@realmx", password="any")
        for c in (sub1, sub1b, subx):
            c.subscribe(t, 1)
        pub1.publish(t, b"in realm1", 1)
        pubx.publish(t, b"in realmx", 1)
        for c in (sub1, sub1b):
            self.assertEqual([m.payload for m in c.roundtrip(t)], [b"in realm1"])
        self.assertEqual([m.payload for m in subx.roundtrip(t)], [b"in realmx"])


class MosquittoClientsTest(MqttTestCase):
    def sub(self, topic, qos=0, extra=()):
        s = MosquittoSub(self.fox.mqtt_port, topic, qos, extra)
        self.addCleanup(s.stop)
        return s.subscribed()

    def test_mosquitto_pub_qos_0_1_and_2_reach_mosquitto_sub_with_payload_bytes_unchanged(self):
        t = self.topic("cli")
        s = self.sub(t, 2)
        sent = {0: b"plain text", 1: BINARY, 2: b"\x00\x01\x02" + BINARY}
        for qos, payload in sent.items():
            mosquitto_pub(self.fox.mqtt_port, t, payload, qos)
        got = s.messages.wait(3)
        self.assertEqual(sorted((m.qos, m.payload) for m in got), sorted(sent.items()))

    def test_mosquitto_sub_at_qos_1_receives_a_qos_2_publication_at_qos_1(self):
        t = self.topic("cli-down")
        s = self.sub(t, 1)
        mosquitto_pub(self.fox.mqtt_port, t, b"two", 2)
        self.assertEqual(s.messages.wait(1)[0][1:3], (b"two", 1))

    def test_mosquitto_retained_value_is_replayed_with_the_retain_flag_and_replaced_exactly(self):
        t = self.topic("cli-ret")
        mosquitto_pub(self.fox.mqtt_port, t, b"first, longer value", 1, retain=True)
        mosquitto_pub(self.fox.mqtt_port, t, BINARY, 1, retain=True)
        s = self.sub(t, 1)
        m = s.messages.wait(1)[0]
        self.assertEqual((m.payload, m.retain), (BINARY, True))

    def test_mosquitto_pub_with_an_empty_retained_message_clears_the_value(self):
        t = self.topic("cli-clear")
        mosquitto_pub(self.fox.mqtt_port, t, b"soon gone", 1, retain=True)
        mosquitto_pub(self.fox.mqtt_port, t, b"", 1, retain=True)
        s = self.sub(t, 1)
        mosquitto_pub(self.fox.mqtt_port, t, b"live marker", 1)
        self.assertEqual([(m.payload, m.retain) for m in s.messages.wait(1)],
                         [(b"live marker", False)])

    def test_mosquitto_clients_speak_mqtt_3_1(self):
        t = self.topic("cli-v31")
        s = self.sub(t, 1, extra=["-V", "mqttv31"])
        mosquitto_pub(self.fox.mqtt_port, t, b"v3.1", 1, extra=["-V", "mqttv31"])
        self.assertEqual(s.messages.wait(1)[0].payload, b"v3.1")

    def test_mosquitto_pub_reaches_a_paho_subscriber_and_paho_reaches_mosquitto_sub(self):
        t = self.topic("cross")
        paho_sub = self.client()
        paho_sub.subscribe(t, 2)
        s = self.sub(t, 2)
        mosquitto_pub(self.fox.mqtt_port, t, BINARY, 2)
        self.assertEqual(paho_sub.messages.wait(1)[0][1:3], (BINARY, 2))
        self.assertEqual(s.messages.wait(1)[0][1:3], (BINARY, 2))
        self.client().publish(t, b"from paho", 1)
        self.assertEqual(s.messages.wait(2)[1][1:3], (b"from paho", 1))

    def test_mosquitto_clients_with_a_realm_username_stay_in_that_realm(self):
        t = self.topic("cli-realm")
        sx = self.sub(t, 1, extra=["-u", "joe@realmx"])
        s1 = self.sub(t, 1)
        mosquitto_pub(self.fox.mqtt_port, t, b"x only", 1, extra=["-u", "ann@realmx"])
        mosquitto_pub(self.fox.mqtt_port, t, b"realm1 only", 1)
        self.assertEqual(sx.messages.wait(1)[0].payload, b"x only")
        self.assertEqual(s1.messages.wait(1)[0].payload, b"realm1 only")
        mosquitto_pub(self.fox.mqtt_port, t, b"x marker", 1, extra=["-u", "ann@realmx"])
        self.assertEqual([m.payload for m in sx.messages.wait(2)], [b"x only", b"x marker"])

if __name__ == "__main__":
    main()
