"""`after` on a cluster beyond an entry's ring (issue 13, SPEC §9): each entry keeps the last
`limits.history_max_rows` delivered events per realm in memory; an `after` replay of older ones
is read from the ndb on the same node, so it returns the whole committed history, in id order,
the same on every node — less the committed publications that had no effect (a `when` that
failed is never delivered, so it is not history either)."""
import json
import os
import unittest

from harness import FoxNode, cluster_file, main, run_fox, wait_for, write_config
from mqtt_client import MqttClient

RING = 20
N = 120


class ClusterHistoryTest(unittest.TestCase):
    def setUp(self):
        self.path, self.doc, self.workdir = cluster_file(3)
        self.config = write_config({"limits": {"history_max_rows": RING}})
        self.nodes = {name: FoxNode(self.path, name, node, self.workdir, ready=False,
                                    args=("--config", self.config))
                      for name, node in self.doc["nodes"].items()}
        for n in self.nodes.values():
            n.wait_log("fox ready", 30)
        self.mqtt = []

    def tearDown(self):
        for m in self.mqtt:
            m.close()
        for n in self.nodes.values():
            n.kill()
        os.unlink(self.config)

    def replay(self, name, topic):
        code, out, err = run_fox("sub", topic, "--after", "0", "--snapshot",
                                 "--url", self.nodes[name].url("/wamp"), timeout=20)
        self.assertEqual(code, 0, err)
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def test_after_0_returns_the_history_the_ring_evicted_on_every_node(self):
        pub = MqttClient(self.nodes["N1"], timeout=10)
        self.mqtt.append(pub)
        for i in range(N // 2):
            pub.publish("ch/ev", json.dumps({"n": i}).encode(), qos=1)
        # A conditional publication that fails at its place in the committed order: in the log,
        # never delivered, not in any replay.
        code, _, _ = run_fox("pub", "ch.ev", '{"n": "refused"}', "--retain", "--when", '{"x": 1}',
                             "--url", self.nodes["N2"].url("/wamp"))
        self.assertEqual(code, 1)
        for i in range(N // 2, N):
            pub.publish("ch/ev", json.dumps({"n": i}).encode(), qos=1)
        # Another realm's and another topic's events are in the same ndb history: left out.
        pub.publish("ch/other", b'{"n": -1}', qos=1)

        seen = {}
        for name in self.nodes:
            events = wait_for(lambda: (lambda e: e if len(e) >= N else None)(self.replay(name, "ch.ev")),
                              15, interval=0.3, what=f"{N} events replayed on {name}")
            self.assertEqual([e["args"][0]["n"] for e in events], list(range(N)), name)
            ids = [e["publication"] for e in events]
            self.assertEqual(ids, sorted(ids), name)
            seen[name] = ids
        self.assertEqual(seen["N1"], seen["N2"])
        self.assertEqual(seen["N1"], seen["N3"])


if __name__ == "__main__":
    main()
