"""Three `fox serve --cluster` nodes with every role (SPEC §9), quorums 2, are one broker:
publications acknowledged by any node reach the WAMP (python3-autobahn) and MQTT (paho)
subscribers of every node in the same order with the same strictly increasing ids; kill -9 of a
node (the raft leader) leaves the other two acknowledging within 5 s; the node, restarted on its
data, catches up, and an `after` replay on it (fox sub --after) returns what was published while
it was down."""
import asyncio
import json
import threading
import time
import unittest
import urllib.request

from autobahn.wamp.types import PublishOptions, SubscribeOptions

from harness import FoxNode, cluster_file, main, run_fox, wait_for
from mqtt_client import MqttClient
import wamp_client

TOPIC = "cl.ev"
MQTT_TOPIC = "cl/ev"


def tag_of_mqtt(payload):
    value = json.loads(payload.decode())
    return value[0] if isinstance(value, list) else value


class ClusterTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.path, self.doc, self.workdir = cluster_file(3)
        self.nodes = {}
        self.clients = []
        self.mqtt = []
        # All three start together: each waits for a sync quorum before `fox ready`.
        for name, node in self.doc["nodes"].items():
            self.nodes[name] = FoxNode(self.path, name, node, self.workdir, ready=False)
        for n in self.nodes.values():
            n.wait_log("fox ready", 30)

    async def asyncTearDown(self):
        for c in self.clients:
            try:
                await wamp_client.close(c, timeout=2)
            except Exception:
                pass
        for m in self.mqtt:
            m.close()
        for n in self.nodes.values():
            n.kill()

    async def wamp_subscriber(self, node):
        client = await wamp_client.connect(node)
        self.clients.append(client)
        events = []
        cond = asyncio.Event()

        def on_event(*args, details=None):
            events.append((details.publication, args[0] if args else None))
            cond.set()
        await client.subscribe(on_event, TOPIC, options=SubscribeOptions(details=True))
        return events

    def mqtt_subscriber(self, node):
        m = MqttClient(node, timeout=10)
        self.mqtt.append(m)
        m.subscribe(MQTT_TOPIC, qos=1)
        return m

    def leader(self):
        """The node whose log last said it became raft leader (None if none did)."""
        best, when = None, -1
        for name, n in self.nodes.items():
            log = n.log()
            i = log.rfind("raft: leader in term")
            if i > when and n.proc.poll() is None:
                best, when = name, i
        return best

    def check_cluster_metrics(self, names):
        """/metrics of every node (issue 16): its links up, one raft leader in its view, the
        resolved id past the 600 publications, segments resolved."""
        def scrape(name):
            url = f"http://127.0.0.1:{self.nodes[name].port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as r:
                samples = {}
                for line in r.read().decode().splitlines():
                    if not line.startswith("#"):
                        key, value = line.rsplit(" ", 1)
                        samples[key] = float(value)
                return samples

        def settled(name):
            m = scrape(name)
            leaders = sum(m.get(f'fox_cluster_raft_leader{{node="{n}"}}', 0) for n in names)
            return (all(m.get(f'fox_cluster_link_up{{peer="{p}"}}') == 1 for p in names if p != name)
                    and leaders == 1)
        for name in names:
            wait_for(lambda: settled(name), 10, what=f"{name}: links up and one leader in /metrics")
            m = scrape(name)
            self.assertEqual(m[f'fox_cluster_node_info{{node="{name}"}}'], 1)
            self.assertGreaterEqual(m["fox_cluster_resolved_id"], 600)
            self.assertGreater(m["fox_cluster_segment_seconds_count"], 0)
            self.assertGreater(m[f'fox_cluster_raft_term{{node="{name}"}}'], 0)

    async def test_three_nodes_are_one_broker(self):
        names = list(self.nodes)
        wamp_events = {name: await self.wamp_subscriber(self.nodes[name]) for name in names}
        mqtt_subs = {name: self.mqtt_subscriber(self.nodes[name]) for name in names}
        publishers = {name: await wamp_client.connect(self.nodes[name]) for name in names}
        self.clients.extend(publishers.values())
        mqtt_pubs = {name: MqttClient(self.nodes[name], timeout=20) for name in names}
        self.mqtt.extend(mqtt_pubs.values())

        # 600 acknowledged publications through all three nodes at once: 100 WAMP (acknowledge)
        # and 100 MQTT QoS 1 per node.
        started = time.monotonic()
        infos = []
        for name in names:
            for i in range(100):
                infos.append(mqtt_pubs[name].publish(MQTT_TOPIC, json.dumps(f"m-{name}-{i}").encode(),
                                                     qos=1, wait=False))
        acks = await asyncio.wait_for(asyncio.gather(*[
            publishers[name].publish(TOPIC, f"w-{name}-{i}",
                                     options=PublishOptions(acknowledge=True))
            for name in names for i in range(100)]), 60)
        wait_for(lambda: all(i.is_published() for i in infos), 60, what="600 PUBACKs")
        took = time.monotonic() - started
        ids = sorted(a.id for a in acks)
        self.assertEqual(len(set(ids)), 300)

        async def all_delivered():
            while not all(len(e) >= 600 for e in wamp_events.values()):
                await asyncio.sleep(0.05)
        await asyncio.wait_for(all_delivered(), 30)
        first = wamp_events[names[0]]
        self.assertEqual(len(first), 600)
        pub_ids = [p for p, _ in first]
        self.assertEqual(pub_ids, sorted(pub_ids))
        self.assertEqual(len(set(pub_ids)), 600, "ids strictly increasing")
        self.assertEqual(pub_ids, list(range(pub_ids[0], pub_ids[0] + 600)), "no gaps")
        self.assertTrue(set(ids) <= set(pub_ids), "the acknowledged ids are the delivered ones")
        for name in names[1:]:
            self.assertEqual(wamp_events[name], first, f"{name} delivered another sequence")
        tags = [t for _, t in first]
        self.assertEqual(sorted(tags), sorted([f"w-{n}-{i}" for n in names for i in range(100)] +
                                              [f"m-{n}-{i}" for n in names for i in range(100)]))
        for name, m in mqtt_subs.items():
            got = m.messages.wait(600, timeout=30)
            self.assertEqual([tag_of_mqtt(x.payload) for x in got[:600]], tags,
                             f"MQTT subscriber on {name}: another order")
        print(f"\n600 acknowledged publications through 3 nodes in {took:.2f} s", flush=True)

        self.check_cluster_metrics(names)
        # kill -9 of the raft leader: the other two acknowledge within 5 s.
        victim = self.leader() or names[2]
        last_before = pub_ids[-1]
        self.nodes[victim].kill()
        killed = time.monotonic()
        alive = [n for n in names if n != victim]
        ack = await asyncio.wait_for(publishers[alive[0]].publish(
            TOPIC, "after-kill-0", options=PublishOptions(acknowledge=True)), 5)
        self.assertGreater(ack.id, last_before)
        first_ack = time.monotonic() - killed
        self.assertLess(first_ack, 5.0)
        down = await asyncio.wait_for(asyncio.gather(*[
            publishers[alive[i % 2]].publish(TOPIC, f"down-{i}", options=PublishOptions(acknowledge=True))
            for i in range(1, 50)]), 10)
        down_ids = sorted([ack.id] + [a.id for a in down])
        print(f"killed {victim} (raft leader): first acknowledgement after {first_ack:.2f} s",
              flush=True)

        # The node restarts on its data, catches up, and replays what it missed.
        node = self.doc["nodes"][victim]
        self.nodes[victim] = FoxNode(self.path, victim, node, self.workdir, ready=False)
        self.nodes[victim].wait_log("fox ready", 30)
        url = self.nodes[victim].url()

        def replay():
            rc, out, err = run_fox("sub", TOPIC, "--after", str(last_before), "--snapshot",
                                   "--url", url, timeout=20)
            self.assertEqual(rc, 0, err)
            return [json.loads(line) for line in out.splitlines()]
        got = wait_for(lambda: (lambda r: r if len(r) >= 50 else None)(replay()), 20,
                       interval=0.2, what="the replay on the restarted node")
        self.assertEqual([e["publication"] for e in got], down_ids)
        self.assertEqual(sorted(e["args"][0] for e in got),
                         sorted(["after-kill-0"] + [f"down-{i}" for i in range(1, 50)]))

        # ... and delivers live events like the others.
        back = await wamp_client.connect(self.nodes[victim])
        self.clients.append(back)
        live = []
        await back.subscribe(lambda *a, details=None: live.append(details.publication), TOPIC,
                             options=SubscribeOptions(details=True))
        more = await asyncio.wait_for(asyncio.gather(*[
            publishers[alive[0]].publish(TOPIC, f"back-{i}", options=PublishOptions(acknowledge=True))
            for i in range(10)]), 10)

        async def live_delivered():
            while len(live) < 10:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(live_delivered(), 10)
        self.assertEqual(live, sorted(a.id for a in more))


if __name__ == "__main__":
    main()
