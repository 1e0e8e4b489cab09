"""RPC across the nodes of a cluster (issue 13): three `fox serve --cluster` nodes (every role),
python3-autobahn clients. A call on N1 reaches a callee on N3 (progressive results, errors,
cancel and timeout interrupt the callee there); shared registrations spread calls over nodes;
a second `single` registration on another node is refused; an unregistered procedure is gone
everywhere; `fox.cluster.nodes` reports the three nodes; kill -9 of the callee's node fails the
pending call with wamp.error.canceled within entryTimeoutMs (+ a margin), the procedure is then
unknown, and the MQTT will and the WAMP testament of sessions on the killed node are published
by the nodes left (a will discarded by DISCONNECT is not)."""
import asyncio
import contextlib
import json
import time
import unittest

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, PublishOptions, RegisterOptions

from harness import FoxNode, cluster_file, free_port, main
from mqtt_client import MqttClient
from wamp_client import close, connect

ENTRY_TIMEOUT_MS = 2000


async def eventually(fn, timeout=10.0, what="condition"):
    """Retries the coroutine `fn` until it returns without raising (its value), with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await fn()
        except Exception:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.1)


class ClusterRpcTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.path, cls.doc, cls.workdir = cluster_file(3)
        cls.doc["entryTimeoutMs"] = ENTRY_TIMEOUT_MS
        for node in cls.doc["nodes"].values():
            node["rawsocket"] = free_port()
        with open(cls.path, "w") as f:
            json.dump(cls.doc, f)
        cls.nodes = {name: FoxNode(cls.path, name, node, cls.workdir, ready=False)
                     for name, node in cls.doc["nodes"].items()}
        for n in cls.nodes.values():
            n.wait_log("fox ready", 30)

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes.values():
            n.kill()

    async def asyncSetUp(self):
        self.clients = []

    async def asyncTearDown(self):
        for c in self.clients:
            with contextlib.suppress(Exception):
                await close(c)

    async def join(self, node, transport="websocket", serializer="json"):
        c = await connect(self.nodes[node], transport, serializer)
        self.clients.append(c)
        return c

    async def test_a_call_on_n1_reaches_a_callee_on_n3_with_progressive_results(self):
        callee, caller = await self.join("N3", "rawsocket", "msgpack"), await self.join("N1")
        seen = []

        async def count(n, details=None):
            seen.append(details.caller)
            for i in range(n):
                details.progress(i, step=i)
                await asyncio.sleep(0.01)
            return "done"
        await callee.register(count, "cr.count",
                              options=RegisterOptions(details_arg="details"))

        async def call():
            progress = []
            r = await caller.call("cr.count", 3, options=CallOptions(
                on_progress=lambda *a, **k: progress.append((a, k))))
            return r, progress
        r, progress = await eventually(call, what="cr.count known on N1")
        self.assertEqual(r, "done")
        self.assertEqual(progress, [((0,), {"step": 0}), ((1,), {"step": 1}), ((2,), {"step": 2})])
        self.assertIsNone(seen[-1])   # nobody asked for the caller to be disclosed

        # A callee's error reaches the caller unchanged.
        def fail():
            raise ApplicationError("com.example.bad", "why", 7, detail={"x": 1})
        await callee.register(fail, "cr.fail")

        async def failing():
            try:
                await caller.call("cr.fail")
            except ApplicationError as e:
                if e.error == "wamp.error.no_such_procedure":
                    raise
                return e
            raise AssertionError("cr.fail did not fail")
        e = await eventually(failing, what="cr.fail known on N1")
        self.assertEqual((e.error, list(e.args), e.kwargs), ("com.example.bad", ["why", 7], {"detail": {"x": 1}}))

    async def test_cancel_and_timeout_on_n1_interrupt_the_callee_on_n2(self):
        callee, caller = await self.join("N2"), await self.join("N1", "rawsocket", "cbor")
        started, interrupted = asyncio.Event(), []

        async def slow(tag):
            started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                interrupted.append(tag)
                raise
            return "late"
        await callee.register(slow, "cr.slow")

        # Timeout: the call fails with canceled on N1, the callee on N2 is interrupted.
        async def timed_out():
            try:
                await caller.call("cr.slow", "timeout", options=CallOptions(timeout=300))
            except ApplicationError as e:
                if e.error == "wamp.error.no_such_procedure":
                    raise
                return e
        e = await eventually(timed_out, what="cr.slow known on N1")
        self.assertEqual(e.error, "wamp.error.canceled")
        await eventually(self._check(lambda: "timeout" in interrupted), 5, "the interrupt on N2")

        # Cancel (kill): the callee is interrupted and the call fails.
        started.clear()
        call = asyncio.ensure_future(caller.call("cr.slow", "cancel"))
        await asyncio.wait_for(started.wait(), 5)
        call.cancel()
        with self.assertRaises((asyncio.CancelledError, ApplicationError)):
            await asyncio.wait_for(call, 5)
        await eventually(self._check(lambda: "cancel" in interrupted), 5, "the cancel on N2")

    @staticmethod
    def _check(predicate):
        async def check():
            if not predicate():
                raise AssertionError("not yet")
        return check

    async def test_roundrobin_across_nodes_and_single_refused_on_another_node(self):
        a, b, caller = await self.join("N2"), await self.join("N3"), await self.join("N1")
        await a.register(lambda: "a", "cr.rr", options=RegisterOptions(invoke="roundrobin"))
        await b.register(lambda: "b", "cr.rr", options=RegisterOptions(invoke="roundrobin"))

        async def both():
            got = {await caller.call("cr.rr") for _ in range(6)}
            if got != {"a", "b"}:
                raise AssertionError(f"only {got}")
            return got
        await eventually(both, what="calls on N1 reaching the callees on N2 and N3")

        await a.register(lambda: 1, "cr.single")
        await eventually(lambda: caller.call("cr.single"), what="cr.single known on N1")

        async def refused():
            try:
                reg = await b.register(lambda: 2, "cr.single")
            except ApplicationError as e:
                return e
            await reg.unregister()
            raise AssertionError("the second single registration was accepted")
        e = await eventually(refused, what="cr.single known on N3")
        self.assertEqual(e.error, "wamp.error.procedure_already_exists")

        # Unregistered on N2: gone on N1 too.
        reg = await a.register(lambda: 3, "cr.gone")
        await eventually(lambda: caller.call("cr.gone"), what="cr.gone known on N1")
        await reg.unregister()

        async def gone():
            try:
                await caller.call("cr.gone")
            except ApplicationError as e:
                if e.error == "wamp.error.no_such_procedure":
                    return e
            raise AssertionError("cr.gone still answers")
        await eventually(gone, what="cr.gone unknown on N1")

    async def test_fox_cluster_nodes_reports_every_node(self):
        c = await self.join("N1")
        await c.publish("cr.tick", 1, options=PublishOptions(acknowledge=True))

        async def healthy():
            nodes = await c.call("fox.cluster.nodes")
            by_name = {n["name"]: n for n in nodes}
            self.assertEqual(list(by_name), ["N1", "N2", "N3"])
            self.assertEqual(by_name["N1"]["link"], "self")
            self.assertEqual(by_name["N1"]["roles"], ["entry", "ndb", "sync"])
            for name in ("N2", "N3"):
                self.assertEqual((by_name[name]["link"], by_name[name]["lost"]), ("up", False))
            self.assertEqual(sorted(n["raft"] for n in nodes).count("leader"), 1, nodes)
            for n in nodes:
                self.assertGreaterEqual(n["delivered"], 1)
                self.assertGreaterEqual(n["stored"], 1)
                self.assertIn("lag", n)
            return nodes
        nodes = await eventually(healthy, what="three healthy nodes in fox.cluster.nodes")
        print("fox.cluster.nodes:", json.dumps(nodes))

    async def test_zz_killing_the_callee_node_fails_the_pending_call_and_fires_its_last_words(self):
        # Last (the node stays dead): N3 is killed with a call of N1 pending on it, an MQTT client
        # with a will and a WAMP session with a testament on it; another MQTT client there ended
        # with DISCONNECT (its will discarded).
        callee, caller = await self.join("N3"), await self.join("N1")
        started = asyncio.Event()
        watcher = MqttClient(self.nodes["N1"], timeout=10)
        watcher.subscribe("cw/#", qos=1)
        with_will = MqttClient(self.nodes["N3"], will={"topic": "cw/status", "payload": b"N3 client gone", "qos": 1})
        polite = MqttClient(self.nodes["N3"], will={"topic": "cw/polite", "payload": b"never", "qos": 1})
        polite.disconnect()
        await callee.call("wamp.session.add_testament", "cw.testament", ["testament of N3"], {})
        # Once N1 delivered this, it knows the last words N3 committed before it.
        await callee.publish("cw.ready", options=PublishOptions(acknowledge=True))
        watcher.messages.wait(1, timeout=10)
        watcher.messages.clear()

        async def hang():
            started.set()
            await asyncio.sleep(60)
        await callee.register(hang, "cr.hang")
        budget = ENTRY_TIMEOUT_MS / 1000 + 2

        async def pending():
            started.clear()
            call = asyncio.ensure_future(caller.call("cr.hang", options=CallOptions(timeout=30000)))
            done, _ = await asyncio.wait([call, asyncio.ensure_future(started.wait())], timeout=1,
                                         return_when=asyncio.FIRST_COMPLETED)
            if call in done:
                call.result()   # no_such_procedure yet: raises, retried
            if not started.is_set():
                call.cancel()
                raise AssertionError("not invoked yet")
            return call
        call = await eventually(pending, what="cr.hang invoked on N3")
        self.clients.remove(callee)
        killed_at = time.monotonic()
        self.nodes["N3"].kill()
        with self.assertRaises(ApplicationError) as cm:
            await asyncio.wait_for(call, budget + 5)
        took = time.monotonic() - killed_at
        print(f"pending call failed {took:.2f} s after kill -9 of the callee's node "
              f"({cm.exception.error})")
        self.assertEqual(cm.exception.error, "wamp.error.canceled")
        self.assertLessEqual(took, budget)
        with self.assertRaises(ApplicationError) as cm:
            await caller.call("cr.hang")
        self.assertEqual(cm.exception.error, "wamp.error.no_such_procedure")
        nodes = {n["name"]: n for n in await caller.call("fox.cluster.nodes")}
        self.assertEqual((nodes["N3"]["link"], nodes["N3"]["lost"]), ("down", True))
        # The nodes left published the last words of the lost node's sessions, once each.
        watcher.messages.wait(2, timeout=budget)
        took = time.monotonic() - killed_at
        print(f"last words of N3's sessions on N1 {took:.2f} s after the kill")
        self.assertLessEqual(took, budget + 1)
        got = sorted((m.topic, m.payload) for m in watcher.messages.snapshot())
        self.assertEqual(got, [("cw/status", b"N3 client gone"), ("cw/testament", b'"testament of N3"')])
        with_will.drop()
        watcher.close()


if __name__ == "__main__":
    main()
