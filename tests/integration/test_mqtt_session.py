"""MQTT sessions (SPEC §7): last will (kill -9 of a client process, clean DISCONNECT), keep-alive
enforcement at 1.5 x, session takeover, persistent sessions (clean_session false) with queued QoS 1
messages, redelivery with DUP after reconnect, and packet ids of in-flight deliveries."""
import socket
import struct
import time

from harness import Fox, main
from mqtt_client import (CONNACK, PINGREQ, PINGRESP, PUBACK, MqttTestCase, WillChild, ack_packet,
                         connect_packet, packet)


class WillTest(MqttTestCase):
    def test_the_will_is_published_with_its_qos_and_retain_flag_after_kill_9_of_the_client(self):
        t = self.topic("will")
        sub = self.client()
        sub.subscribe(t, 2)
        payload = b"\x00gone\xff"
        child = WillChild(self.fox.mqtt_port, "will-child-1", t, payload, qos=1, retain=True)
        self.addCleanup(child.kill)
        child.kill()
        m = sub.messages.wait(1, timeout=5)[0]
        self.assertEqual((m.topic, m.payload, m.qos), (t, payload, 1))
        self.assertFalse(m.retain, "a live delivery to an existing subscriber has retain 0")
        later = self.client()
        later.subscribe(t, 2)
        m = later.messages.wait(1)[0]
        self.assertEqual((m.payload, m.qos, m.retain), (payload, 1, True),
                         "a retained will must be kept as the retained value")

    def test_a_qos_2_will_without_retain_arrives_at_qos_2_and_is_not_kept(self):
        t = self.topic("will2")
        sub = self.client()
        sub.subscribe(t, 2)
        child = WillChild(self.fox.mqtt_port, "will-child-2", t, b"bye", qos=2, retain=False)
        self.addCleanup(child.kill)
        child.kill()
        m = sub.messages.wait(1, timeout=5)[0]
        self.assertEqual((m.payload, m.qos), (b"bye", 2))
        later = self.client()
        later.subscribe(t, 2)
        self.assertEqual(later.roundtrip(t), [], "a will without retain was retained")

    def test_a_clean_disconnect_does_not_send_the_will(self):
        t = self.topic("nowill")
        sub = self.client()
        sub.subscribe(t, 2)
        c = self.client(will={"topic": t, "payload": b"should not appear", "qos": 1})
        c.disconnect()
        self.assertEqual(sub.roundtrip(t), [])

    def test_a_connection_dropped_without_disconnect_sends_the_will(self):
        t = self.topic("drop")
        sub = self.client()
        sub.subscribe(t, 1)
        c = self.client(will={"topic": t, "payload": b"dropped", "qos": 1})
        c.drop()
        self.assertEqual(sub.messages.wait(1)[0].payload, b"dropped")


class KeepAliveTest(MqttTestCase):
    def test_a_silent_client_is_disconnected_after_one_and_a_half_keepalives_and_its_will_sent(self):
        t = self.topic("ka")
        sub = self.client()
        sub.subscribe(t, 1)
        raw = self.raw()
        raw.send(connect_packet("ka-silent", keepalive=1,
                                will={"topic": t, "payload": b"keepalive expired", "qos": 1}))
        self.assertEqual(raw.expect(CONNACK)[2], b"\x00\x00")
        start = time.monotonic()
        self.assertTrue(raw.closed(5), "fox did not close a silent keep-alive-1 connection in 5s")
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, 1.2, "closed before 1.5 x keep-alive (minus scheduling slack)")
        self.assertLess(elapsed, 3.0, "closed too late for 1.5 x keep-alive")
        m = sub.messages.wait(1)[0]
        self.assertEqual((m.payload, m.qos), (b"keepalive expired", 1))

    def test_a_client_that_pings_within_its_keepalive_stays_connected(self):
        raw = self.raw()
        self.assertEqual(raw.connect("ka-pinger", keepalive=1), (False, 0))
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            raw.send(packet(PINGREQ << 4))
            kind, _, body = raw.expect(PINGRESP, timeout=1.0)
            self.assertEqual(body, b"")
            time.sleep(0.5)  # the client's own ping interval, not a wait for the broker
        raw.send(packet(PINGREQ << 4))
        raw.expect(PINGRESP, timeout=1.0)

    def test_keepalive_zero_means_no_timeout(self):
        raw = self.raw()
        self.assertEqual(raw.connect("ka-zero", keepalive=0), (False, 0))
        with self.assertRaises(socket.timeout):
            raw.read_packet(timeout=2.0)  # nothing arrives and the connection stays open
        raw.send(packet(PINGREQ << 4))
        raw.expect(PINGRESP)


class TakeoverTest(MqttTestCase):
    def test_a_second_connect_with_the_same_client_id_disconnects_the_first(self):
        t = self.topic("takeover")
        first = self.client(client_id="takeover-x")
        second = self.client(client_id="takeover-x")
        self.assertTrue(first.wait_disconnected(3), "the first connection was not closed")
        second.subscribe(t, 1)
        self.assertEqual(second.roundtrip(t), [])
        self.assertFalse(second.disconnected.is_set())

    def test_a_takeover_also_works_for_raw_tcp_clients(self):
        a = self.raw()
        self.assertEqual(a.connect("takeover-raw"), (False, 0))
        b = self.raw()
        self.assertEqual(b.connect("takeover-raw"), (False, 0))
        self.assertTrue(a.closed(3))
        b.send(packet(PINGREQ << 4))
        b.expect(PINGRESP)


class WillOnTakeoverTest(MqttTestCase):
    """A will published by the broker (here: on a client-id takeover) is acknowledged to no one:
    neither the old connection nor the new one gets a PUBACK for it (there is no packet id)."""

    def check(self):
        t = self.topic("will-takeover")
        watcher = self.client()
        watcher.subscribe(t, 1)
        a = self.raw()
        self.assertEqual(a.connect("will-takeover", clean=False,
                                   will={"topic": t, "payload": b"gone", "qos": 1}), (False, 0))
        b = self.raw()
        b.connect("will-takeover", clean=False)
        got_a = []
        while True:
            pkt = a.read_packet(timeout=3)
            if pkt is None:
                break
            got_a.append(pkt[0])
        self.assertNotIn(PUBACK, got_a)
        watcher.messages.wait(1)   # the will was published (and committed)
        b.send(packet(PINGREQ << 4))
        self.assertEqual(b.read_packet(timeout=3)[0], PINGRESP, "a stray packet before PINGRESP")

    def test_memory(self):
        self.check()


class WillOnTakeoverSqliteTest(WillOnTakeoverTest):
    @classmethod
    def setUpClass(cls):
        cls.fox = Fox(memory=False)

    def test_memory(self):
        pass

    def test_sqlite(self):
        self.check()


class PersistentSessionTest(MqttTestCase):
    def test_queued_qos_1_messages_are_delivered_in_order_after_reconnect_without_resubscribing(self):
        t = self.topic("queue")
        x = self.client(client_id="persist-x", clean_session=False)
        self.assertFalse(x.session_present)
        x.subscribe(t, 1)
        x.disconnect()
        pub = self.client()
        sent = [f"queued {i}".encode() for i in range(20)]
        for p in sent:
            pub.publish(t, p, 1)
        x2 = self.client(client_id="persist-x", clean_session=False)
        self.assertTrue(x2.session_present, "CONNACK session present must be 1")
        got = x2.messages.wait(len(sent))
        self.assertEqual([m.payload for m in got], sent)
        self.assertTrue(all(m.qos == 1 and m.topic == t for m in got), got)
        pub.publish(t, b"live again", 1)  # the subscription itself survived too
        self.assertEqual(x2.messages.wait(len(sent) + 1)[-1].payload, b"live again")

    def test_clean_session_true_discards_the_stored_session_and_its_messages(self):
        t = self.topic("discard")
        x = self.client(client_id="persist-y", clean_session=False)
        x.subscribe(t, 1)
        x.disconnect()
        pub = self.client()
        for i in range(3):
            pub.publish(t, f"lost {i}".encode(), 1)
        y = self.client(client_id="persist-y", clean_session=True)
        self.assertFalse(y.session_present)
        other = self.topic("other")
        y.subscribe(other, 1)
        self.assertEqual(y.roundtrip(other), [], "messages of the discarded session arrived")
        pub.publish(t, b"no subscription any more", 1)
        self.assertEqual(y.roundtrip(other), [])
        y.disconnect()
        z = self.client(client_id="persist-y", clean_session=False)
        self.assertFalse(z.session_present, "a clean session must not be kept after it ends")
        z.subscribe(other, 1)
        self.assertEqual(z.roundtrip(other), [])

    def test_an_unacknowledged_qos_1_message_is_redelivered_with_dup_after_reconnect(self):
        t = self.topic("redeliver")
        raw = self.raw()
        self.assertEqual(raw.connect("redeliver-r", clean=False), (False, 0))
        self.assertEqual(raw.subscribe(1, [(t, 1)]), [1])
        self.client().publish(t, b"ack me later", 1)
        first = raw.next_publish()
        self.assertEqual((first.payload, first.qos, first.dup), (b"ack me later", 1, False))
        self.assertNotEqual(first.pid, 0)
        raw.close()  # no PUBACK
        again = self.raw()
        self.assertEqual(again.connect("redeliver-r", clean=False), (True, 0))
        second = again.next_publish()
        self.assertEqual((second.topic, second.payload, second.qos, second.dup),
                         (t, b"ack me later", 1, True))
        again.send(ack_packet(PUBACK, second.pid))
        third = self.raw()  # once acknowledged it is not sent again
        again.close()
        self.assertEqual(third.connect("redeliver-r", clean=False), (True, 0))
        third.send(packet(PINGREQ << 4))
        self.assertEqual(third.read_packet()[0], PINGRESP, "the acknowledged message came again")


class PacketIdTest(MqttTestCase):
    def test_packet_ids_of_300_qos_1_deliveries_are_non_zero_and_never_reused_while_unacked(self):
        t = self.topic("pid")
        raw = self.raw()
        self.assertEqual(raw.connect("pid-r"), (False, 0))
        self.assertEqual(raw.subscribe(1, [(t, 1)]), [1])
        pub = self.client()
        n = 300
        infos = [pub.publish(t, struct.pack("!H", i), 1, wait=False) for i in range(n)]
        unacked = []  # in arrival order
        seen = []
        deadline = time.monotonic() + 30
        while len(seen) < n:
            self.assertLess(time.monotonic(), deadline, f"only {len(seen)} of {n} delivered")
            try:
                p = raw.next_publish(timeout=0.3)
            except socket.timeout:
                # fox's in-flight window is full: acknowledge the older half and go on
                self.assertTrue(unacked, f"delivery stalled after {len(seen)} with nothing unacked")
                for pid in unacked[:max(1, len(unacked) // 2)]:
                    raw.send(ack_packet(PUBACK, pid))
                del unacked[:max(1, len(unacked) // 2)]
                continue
            self.assertEqual(p.qos, 1)
            self.assertNotEqual(p.pid, 0, "packet id 0")
            self.assertNotIn(p.pid, unacked, f"packet id {p.pid} reused while unacknowledged")
            unacked.append(p.pid)
            seen.append(struct.unpack("!H", p.payload)[0])
            if len(unacked) >= 40:
                raw.send(ack_packet(PUBACK, unacked.pop(0)))
        self.assertEqual(seen, list(range(n)), "QoS 1 deliveries out of order")
        for info in infos:
            info.wait_for_publish(5)
            self.assertTrue(info.is_published())


if __name__ == "__main__":
    main()
