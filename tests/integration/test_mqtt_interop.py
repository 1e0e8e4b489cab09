"""The Eclipse Paho MQTT interoperability-test scenarios (paho.mqtt.testing,
interoperability/client_test.py), one test each, re-created with python paho and, where paho
cannot hold back an acknowledgement or a ping, with the raw client of mqtt_client.py.

Paho's topic set is used: topics TopicA, TopicA/B, Topic/C, TopicA/C, /TopicA; wildcards
TopicA/+, +/C, #, /#, /+, +/+, TopicA/#; client ids myclientid and myclientid2. Every test starts
from clean state like Paho's cleanup(): both client ids connect once with clean session, and the
retained messages of the topic set are cleared. Waits are deadlines and marker barriers, not the
fixed sleeps of the original."""
import unittest

from harness import main
from mqtt_client import (PUBACK, PUBCOMP, PUBREC, PUBREL, MqttClient, MqttTestCase, ack_packet,
                         connect_packet)

TOPICS = ("TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA")
WILDTOPICS = ("TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#")
A_ID, B_ID = "myclientid", "myclientid2"


class PahoInteropTest(MqttTestCase):
    def setUp(self):
        for cid in (A_ID, B_ID):
            MqttClient(self.fox, client_id=cid, clean_session=True).disconnect()
        c = MqttClient(self.fox, client_id="clean retained")
        for t in TOPICS:
            c.publish(t, b"", 1, retain=True)
        c.disconnect()

    def test_basic(self):
        a = self.client(client_id=A_ID)
        a.disconnect()
        a = self.client(client_id=A_ID)
        self.assertFalse(a.session_present)
        self.assertEqual(a.subscribe(TOPICS[0], 2), [2])
        for qos in (0, 1, 2):
            a.publish(TOPICS[0], f"qos {qos}".encode(), qos)
        got = a.messages.wait(3)
        self.assertEqual(sorted(m.payload for m in got), [b"qos 0", b"qos 1", b"qos 2"])
        a.disconnect()
        # a second CONNECT on the same network connection must fail (the connection is closed)
        raw = self.raw()
        self.assertEqual(raw.connect(A_ID), (False, 0))
        raw.send(connect_packet(A_ID))
        self.assertTrue(raw.closed(3), "a second CONNECT did not close the connection")
        # a wrong protocol name must fail: no CONNACK 0, the connection is closed
        raw = self.raw()
        raw.send(connect_packet(A_ID, protocol_name="hj"))
        p = raw.read_packet(3)
        if p is not None:
            self.assertEqual(p[0], 2, p)
            self.assertNotEqual(p[2][1], 0, "protocol name 'hj' was accepted")
            self.assertTrue(raw.closed(3))

    def test_retained_messages(self):
        a = self.client(client_id=A_ID)
        a.publish(TOPICS[1], b"qos 0", 0, retain=True)
        a.publish(TOPICS[2], b"qos 1", 1, retain=True)
        a.publish(TOPICS[3], b"qos 2", 2, retain=True)
        a.subscribe(WILDTOPICS[5], 2)
        got = a.messages.wait(3)
        self.assertEqual(sorted((m.topic, m.payload, m.retain) for m in got),
                         [("Topic/C", b"qos 1", True), ("TopicA/B", b"qos 0", True),
                          ("TopicA/C", b"qos 2", True)])
        a.disconnect()
        a = self.client(client_id=A_ID)
        for t in TOPICS[1:4]:
            a.publish(t, b"", 1, retain=True)
        a.subscribe(WILDTOPICS[5], 2)
        self.assertEqual(a.roundtrip("Topic/Z"), [], "cleared retained messages were replayed")

    def test_will_message(self):
        b = self.client(client_id=B_ID, clean_session=False)
        b.subscribe(TOPICS[2], 2)
        a = self.client(client_id=A_ID, keepalive=2,
                        will={"topic": TOPICS[2], "payload": b"client not disconnected"})
        a.drop()  # terminate: the socket closes without DISCONNECT
        m = b.messages.wait(1, timeout=5)[0]
        self.assertEqual((m.topic, m.payload), (TOPICS[2], b"client not disconnected"))
        self.assertEqual(b.roundtrip(TOPICS[2]), [m])

    def test_zero_length_clientid(self):
        raw = self.raw()
        self.assertEqual(raw.connect("", clean=False)[1], 2, "empty id + clean session false")
        c = self.client(client_id="", clean_session=True)
        self.assertEqual(c.connack_rc, 0)

    def test_offline_message_queueing(self):
        a = self.client(client_id=A_ID, clean_session=False)
        a.subscribe(WILDTOPICS[5], 2)
        a.disconnect()
        b = self.client(client_id=B_ID)
        b.publish(TOPICS[1], b"qos 0", 0)
        b.publish(TOPICS[2], b"qos 1", 1)
        b.publish(TOPICS[3], b"qos 2", 2)
        b.disconnect()
        a = self.client(client_id=A_ID, clean_session=False)
        self.assertTrue(a.session_present)
        a.messages.wait(2)
        got = a.roundtrip("Topic/Z")
        payloads = sorted(m.payload for m in got)
        self.assertIn(payloads, ([b"qos 1", b"qos 2"], [b"qos 0", b"qos 1", b"qos 2"]), got)

    def test_overlapping_subscriptions(self):
        a = self.client(client_id=A_ID)
        a.subscribe([(WILDTOPICS[6], 2), (WILDTOPICS[0], 1)])
        a.publish(TOPICS[3], b"overlapping topic filters", 2)
        got = a.roundtrip(TOPICS[3])
        # Paho accepts one message at the highest QoS or one per matching subscription
        self.assertIn(sorted(m.qos for m in got), ([2], [1, 2]), got)

    def test_keepalive(self):
        b = self.client(client_id=B_ID, keepalive=0)
        b.subscribe(TOPICS[4], 2)
        raw = self.raw()  # a client that neither sends nor pings (paho would ping by itself)
        raw.send(connect_packet(A_ID, keepalive=2,
                                will={"topic": TOPICS[4], "payload": b"keepalive expiry"}))
        raw.expect(2)
        self.assertTrue(raw.closed(6), "not disconnected within 1.5 x 2 s keep-alive (+3 s)")
        self.assertEqual(b.messages.wait(1, timeout=3)[0].payload, b"keepalive expiry")

    def test_redelivery_on_reconnect(self):
        raw = self.raw()  # a paused client: it does not acknowledge what it receives
        self.assertEqual(raw.connect(B_ID, clean=False), (False, 0))
        self.assertEqual(raw.subscribe(1, [(WILDTOPICS[6], 2)]), [2])
        a = self.client(client_id=A_ID)
        a.publish(TOPICS[1], b"", 1)
        a.publish(TOPICS[3], b"", 2)
        first = [raw.next_publish(), raw.next_publish()]
        self.assertEqual(sorted((p.topic, p.qos) for p in first), [(TOPICS[1], 1), (TOPICS[3], 2)])
        raw.close()
        raw = self.raw()
        self.assertEqual(raw.connect(B_ID, clean=False), (True, 0))
        again = [raw.next_publish(), raw.next_publish()]
        self.assertEqual(sorted((p.topic, p.qos, p.dup) for p in again),
                         [(TOPICS[1], 1, True), (TOPICS[3], 2, True)])
        for p in again:
            raw.send(ack_packet(PUBACK if p.qos == 1 else PUBREC, p.pid))
            if p.qos == 2:
                raw.expect(PUBREL)
                raw.send(ack_packet(PUBCOMP, p.pid))

    @unittest.skip("needs per-realm deny rules (SPEC §6 authorization, a later issue): the Paho "
                   "test subscribes to a filter the broker refuses and expects SUBACK 0x80; fox "
                   "has no authorization rules yet, and subscribing to an INVALID filter is a "
                   "protocol error in 3.1.1 (the connection is closed), not a 0x80 return code")
    def test_subscribe_failure(self):
        a = self.client(client_id=A_ID)
        self.assertEqual(a.subscribe("nosubscribe", 2), [0x80])

    def test_dollar_topics(self):
        b = self.client(client_id=B_ID, keepalive=0)
        b.subscribe(WILDTOPICS[5], 2)
        b.publish("$" + TOPICS[1], b"", 1)
        got = b.roundtrip("Topic/Z")
        self.assertEqual([m for m in got if m.topic.startswith("$")], [])

    def test_unsubscribe(self):
        b = self.client(client_id=B_ID)
        for t in TOPICS[:3]:
            b.subscribe(t, 2)
        b.unsubscribe(TOPICS[0])
        a = self.client(client_id=A_ID)
        for t in TOPICS[:3]:
            a.publish(t, b"", 1)
        b.messages.wait(2)
        got = b.roundtrip(TOPICS[2])
        self.assertEqual(sorted(m.topic for m in got), sorted(TOPICS[1:3]))


if __name__ == "__main__":
    main()
