"""MQTT bad input (SPEC §7: "Malformed packet → close that connection only (log a line), nothing
else disturbed"; §10: max_message_size 16 MiB). One raw TCP socket per case; afterwards
  (a) that connection is closed by fox (without CONNACK 0 where a CONNECT was bad),
  (b) fox logged exactly one line about it (an `mqtt` line containing a needle),
  (c) fox is alive and a paho witness, connected before the case, is undisturbed: it publishes
      QoS 1 to a topic it subscribes to and receives it."""
import time

from harness import event_lines, main, wait_for
from mqtt_client import (CONNACK, MqttTestCase, connect_packet, mqtt_string, packet,
                         publish_packet, remaining_length, subscribe_packet)


class MqttBadInputTest(MqttTestCase):
    def setUp(self):
        self.witness = self.client(client_id="bad-input-witness")
        self.witness_topic = self.topic("witness")
        self.witness.subscribe(self.witness_topic, 1)
        self.witness.roundtrip(self.witness_topic)
        self.mark = len(self.fox.log())

    def connected_raw(self, client_id):
        raw = self.raw()
        self.assertEqual(raw.connect(client_id), (False, 0))
        return raw

    def assert_closed_and_logged(self, raw, needle, timeout=3.0):
        self.assertTrue(raw.closed(timeout), "fox did not close the connection")
        wait_for(lambda: needle in self.fox.log()[self.mark:], 3.0,
                 what=f"a log line containing {needle!r}; the log since the case:\n"
                      + self.fox.log()[self.mark:])
        self.assert_alive()
        self.assertFalse(self.witness.disconnected.is_set(), "the witness was disconnected")
        self.assertEqual(self.witness.roundtrip(self.witness_topic), [])
        lines = event_lines(self.fox.log()[self.mark:])
        self.assertEqual(len(lines), 1, f"expected one log line about {needle!r}, got {lines}")
        self.assertIn("mqtt", lines[0])

    def test_a_garbage_first_byte_closes_the_connection(self):
        raw = self.raw()
        raw.send(b"\x00\x00")  # packet type 0 is reserved
        self.assert_closed_and_logged(raw, "reserved packet type 0")

    def test_a_connect_with_a_bad_protocol_name_is_refused_and_closed(self):
        raw = self.raw()
        raw.send(connect_packet("bad-name", protocol_name="MQTX"))
        p = raw.read_packet(3)
        if p is not None:  # MQTT-3.1.2-1: fox MAY answer, but never with CONNACK 0
            self.assertEqual(p[0], CONNACK, p)
            self.assertNotEqual(p[2][1], 0, "CONNACK 0 for protocol name MQTX")
        self.assert_closed_and_logged(raw, "protocol name")

    def test_a_publish_before_connect_closes_the_connection(self):
        raw = self.raw()
        raw.send(publish_packet(self.witness_topic, b"sneaky", 0))
        self.assert_closed_and_logged(raw, "before CONNECT")
        self.assertEqual(self.witness.roundtrip(self.witness_topic), [], "the PUBLISH was routed")

    def test_a_remaining_length_of_five_bytes_closes_the_connection(self):
        raw = self.connected_raw("bad-length")
        raw.send(bytes([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]))
        self.assert_closed_and_logged(raw, "Remaining Length")

    def test_a_packet_announcing_20_mib_is_refused_without_waiting_for_its_body(self):
        raw = self.connected_raw("too-large")
        body_start = mqtt_string(self.witness_topic) + b"x" * 100
        raw.send(bytes([0x30]) + remaining_length(20 * 1024 * 1024) + body_start)
        start = time.monotonic()
        self.assertTrue(raw.closed(2.0), "fox waited for the 20 MiB body")
        self.assertLess(time.monotonic() - start, 2.0)
        self.assert_closed_and_logged(raw, "20971520")

    def test_a_one_mib_publish_under_the_limit_is_delivered_and_the_connection_stays_open(self):
        # 1 MiB (well under the 16 MiB default) is a legal size: the connection stays open
        raw = self.connected_raw("big-ok")
        big = b"\xab" * (1024 * 1024)
        raw.send(publish_packet(self.witness_topic, big, 0))
        m = self.witness.messages.wait(1, timeout=5)[0]
        self.assertEqual(m.payload, big)
        self.witness.messages.clear()
        raw.send(packet(0xC0))  # PINGREQ
        self.assertEqual(raw.read_packet(3)[0], 13)

    def test_a_second_connect_on_the_same_connection_closes_it(self):
        raw = self.connected_raw("twice")
        raw.send(connect_packet("twice"))
        self.assert_closed_and_logged(raw, "CONNECT")

    def test_a_subscribe_with_qos_3_closes_the_connection_without_suback(self):
        raw = self.connected_raw("qos3")
        raw.send(subscribe_packet(7, [(self.topic("q3"), 3)]))
        self.assertIsNone(raw.read_packet(3), "fox answered a SUBSCRIBE with QoS 3")
        self.assert_closed_and_logged(raw, "QoS")

    def test_publishing_to_a_wildcard_topic_closes_the_connection(self):
        raw = self.connected_raw("wild")
        raw.send(publish_packet(self.topic("a/+"), b"x", 1, pid=1))
        self.assertIsNone(raw.read_packet(3), "fox acknowledged a PUBLISH to a wildcard topic")
        self.assert_closed_and_logged(raw, "mqtt")


if __name__ == "__main__":
    main()
