"""FOX interoperability with the original's own client: the `HyperNetClient` of the npm package
fox-wamp@0.7.28 (reference doc §4) runs tests/integration/fox_node/interop.js against fox's FOX
TCP port: login, echo, subscribe, acknowledged and plain publish (data, event id, headers,
disclose_me, exclude_me), retained values (exact topic and wildcard), `after` history replay,
register + call with progress, callee errors, unknown procedures, unsubscribe, unregister; and,
across protocols, an MQTT retained value read by the FOX client and a FOX publish reaching an
MQTT subscriber. The scenario runs twice: on the memory engine, and on SQLite with event ids past
2^32 (which the client writes back as MessagePack float64).

The npm packages are installed with `npm ci` (pinned by fox_node/package-lock.json) into a cache
next to the fox binary (FOX_BIN's directory/fox_node), reused while the lock file is unchanged.
The test skips when node/npm are missing or the npm registry cannot be reached; any interop
problem fails it.
"""
import json
import os
import sqlite3
import subprocess
import unittest

from harness import FOX_BIN, Fox, main, npm_ci
from mqtt_client import MqttClient

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fox_node")
CACHE = os.path.join(os.path.dirname(FOX_BIN), "fox_node")
NODE_TIMEOUT = 60

STEPS = ["login", "second login rejected", "echo", "subscribe", "publish with acknowledge",
         "publish without acknowledge, headers, disclose_me, null", "exclude_me", "retained",
         "after", "mqtt", "register", "call with progress", "callee error", "unsubscribe",
         "unregister"]


def prepare_node():
    """Installs fox-wamp into CACHE (once per lock file). Returns None when ready, else the reason
    to skip."""
    return npm_ci(SRC, CACHE, ["interop.js"],
                  os.path.join("node_modules", "fox-wamp", "lib", "hyper", "net_transport.js"))


class FoxNodeInteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.skip_reason = prepare_node()

    def setUp(self):
        if self.skip_reason:
            self.skipTest(self.skip_reason)

    def start(self, **kwargs):
        self.fox = Fox(**kwargs)
        self.addCleanup(self.fox.__exit__)
        return self.fox

    def run_node(self, *args):
        try:
            p = subprocess.run(["node", "interop.js", str(self.fox.fox_port)] + list(args),
                               cwd=CACHE, capture_output=True, timeout=NODE_TIMEOUT,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            self.fail(f"node interop.js hung past {NODE_TIMEOUT}s:\n{e.stdout!r}\n{e.stderr!r}\n"
                      + self.fox.log())
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        report = f"\n--- node stdout\n{out}\n--- node stderr\n{err}\n--- fox log\n{self.fox.log()}"
        self.assertEqual(p.returncode, 0, "the fox-wamp client scenario failed" + report)
        # the client prints this for an answer whose id it does not know
        self.assertNotIn("UNKNOWN PACKAGE", out, report)
        self.assertNotIn("protocol violation", self.fox.log(), report)
        summary = [line for line in out.splitlines() if line.startswith("SUMMARY ")]
        self.assertEqual(len(summary), 1, report)
        return json.loads(summary[0][len("SUMMARY "):]), report

    def scenario(self):
        """Runs interop.js against self.fox; returns its summary."""
        mqtt = MqttClient(self.fox, client_id="fox-interop-mqtt")
        self.addCleanup(mqtt.close)
        mqtt.publish("fox/interop/mqtt", b'{"from":"mqtt","n":[1,2]}', qos=1, retain=True)
        self.assertEqual(mqtt.subscribe("fox/interop/cross", 1), [1])

        summary, report = self.run_node()
        self.assertEqual(summary["steps"], STEPS, report)
        ids = summary["event_ids"]
        self.assertEqual(ids, sorted(set(ids)), report)
        self.assertEqual(summary["progress"], [{"step": 1}, {"step": 2}], report)
        self.assertEqual(summary["callee_error"],
                         {"code": "error.callee_failure", "message": "deliberate failure: x"})

        # the FOX publish {kv: {from: fox, ok: true}} with ack: true reached MQTT as QoS 1 JSON
        [m] = mqtt.messages.wait(1)
        self.assertEqual(m.topic, "fox/interop/cross")
        self.assertEqual(json.loads(m.payload), {"from": "fox", "ok": True})
        self.assertEqual(m.qos, 1)
        self.assertFalse(m.retain)
        mqtt.disconnect()
        self.assertEqual(self.fox.stop(), 0, self.fox.log())
        return summary

    def test_reference_client_scenario(self):
        self.start()
        self.scenario()

    def test_ids_beyond_32_bits(self):
        """Event ids past 2^32 (a long-lived SQLite store): the client reads them as numbers and
        writes them back (`after`) as MessagePack float64."""
        seed = 2 ** 40
        fox = self.start(memory=False)
        data_dir = fox.data_dir
        self.assertEqual(fox.stop(), 0, fox.log())
        db = sqlite3.connect(os.path.join(data_dir, "fox.db"))
        with db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('reserved_id', ?)", (seed,))
        db.close()
        self.start(memory=False, data_dir=data_dir)
        summary = self.scenario()
        self.assertTrue(all(i > seed for i in summary["event_ids"]), summary)
        self.assertGreater(summary["retained_id"], seed)


if __name__ == "__main__":
    main()
