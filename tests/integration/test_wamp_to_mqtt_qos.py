"""WAMP publications reach MQTT with a QoS (SPEC §5): an acknowledged or retained WAMP publication
is QoS 1 for MQTT, a plain one QoS 0, and the subscription's granted QoS caps it. So an MQTT
persistent session (clean_session=0) that is offline gets the acknowledged and the retained WAMP
publications queued like QoS 1 MQTT publishes, and not the plain ones; with SQLite the queue also
survives a restart.

The WAMP side is a raw WebSocket JSON session, so the exact options are on the wire (autobahn
cannot send fox's `retain` without an extra option hook). Barriers: a WAMP meta call returns after
the router has handled every earlier message of the same session; an MQTT marker that arrives
after the queued messages proves nothing else was queued.
"""
import json
import os
import unittest

from harness import Fox, main
from mqtt_client import MqttClient, MqttTestCase
from raw_wamp import CALL, PUBLISH, PUBLISHED, RESULT, WELCOME, WebSocketClient, hello


class Wamp:
    """A raw WebSocket JSON WAMP session (a publisher only)."""

    def __init__(self, fox):
        self.ws = WebSocketClient(fox.port).open()
        self.ws.send_msg(hello())
        welcome = self.ws.recv_msg()
        assert welcome and welcome[0] == WELCOME, welcome
        self._request = 0

    def _next(self):
        self._request += 1
        return self._request

    def publish(self, topic, *args, **options):
        """Sends a PUBLISH with exactly `options`; with acknowledge=True waits for PUBLISHED."""
        request = self._next()
        self.ws.send_msg([PUBLISH, request, options, topic, list(args)])
        if options.get("acknowledge"):
            reply = self.ws.recv_msg()
            assert reply and reply[:2] == [PUBLISHED, request], reply

    def barrier(self):
        """Returns once the router has handled every message this session sent before."""
        request = self._next()
        self.ws.send_msg([CALL, request, {}, "wamp.session.count", []])
        reply = self.ws.recv_msg()
        assert reply and reply[:2] == [RESULT, request], reply

    def close(self):
        self.ws.close()


class WampToMqttQosTest(MqttTestCase):
    def wamp(self):
        w = Wamp(self.fox)
        self.addCleanup(w.close)
        return w

    def test_an_online_mqtt_subscriber_gets_acknowledged_wamp_publications_at_qos_1_capped_by_its_subscription(self):
        t = self.topic("online")
        uri = t.replace("/", ".")
        subs = {}
        for qos in (0, 1, 2):
            subs[qos] = self.client()
            self.assertEqual(subs[qos].subscribe(f"{t}/#", qos), [qos])
        w = self.wamp()
        w.publish(f"{uri}.v", "plain")
        w.publish(f"{uri}.v", "acked", acknowledge=True)
        w.publish(f"{uri}.v", "retained", retain=True)
        end = "marker-" + os.urandom(6).hex()
        w.publish(f"{uri}.end", end, acknowledge=True)
        got = {qos: [(m.payload, m.qos) for m in c.messages.until_marker(json.dumps(end).encode())]
               for qos, c in subs.items()}
        self.assertEqual(got, {0: [(b'"plain"', 0), (b'"acked"', 0), (b'"retained"', 0)],
                               1: [(b'"plain"', 0), (b'"acked"', 1), (b'"retained"', 1)],
                               2: [(b'"plain"', 0), (b'"acked"', 1), (b'"retained"', 1)]})

    def test_an_offline_persistent_session_gets_the_acknowledged_and_retained_wamp_publications(self):
        t = self.topic("offline")
        uri = t.replace("/", ".")
        cid = f"wamp-qos-{os.getpid()}"
        m = self.client(client_id=cid, clean_session=False)
        self.assertEqual(m.subscribe(f"{t}/#", 1), [1])
        m.disconnect()
        w = self.wamp()
        w.publish(f"{uri}.a", "plain")
        w.publish(f"{uri}.a", "acked", acknowledge=True)
        w.publish(f"{uri}.a", "retained", retain=True)
        w.barrier()
        again = self.client(client_id=cid, clean_session=False)
        self.assertTrue(again.session_present)
        got = again.roundtrip(f"{t}/end")  # the queue is delivered before the marker
        self.assertEqual([(g.topic, g.payload, g.qos) for g in got],
                         [(f"{t}/a", b'"acked"', 1), (f"{t}/a", b'"retained"', 1)])


class SqliteWampToMqttQueueTest(unittest.TestCase):
    def test_wamp_publications_queued_for_an_offline_persistent_session_survive_a_restart(self):
        fox = Fox(memory=False)
        data = fox.data_dir
        with fox:
            m = MqttClient(fox, client_id="wamp-queue-restart", clean_session=False)
            self.assertEqual(m.subscribe("wq/#", 1), [1])
            m.disconnect()
            w = Wamp(fox)
            w.publish("wq.a", "plain")
            w.publish("wq.a", "acked", acknowledge=True)
            w.publish("wq.a", "retained", retain=True)
            w.barrier()
            w.close()
            self.assertEqual(fox.stop(), 0, fox.log())
        with Fox(memory=False, data_dir=data) as fox2:
            m = MqttClient(fox2, client_id="wamp-queue-restart", clean_session=False)
            try:
                self.assertTrue(m.session_present)
                self.assertEqual([(g.topic, g.payload, g.qos) for g in m.roundtrip("wq/end")],
                                 [("wq/a", b'"acked"', 1), ("wq/a", b'"retained"', 1)])
            finally:
                m.close()
            self.assertEqual(fox2.stop(), 0, fox2.log())


if __name__ == "__main__":
    main()
