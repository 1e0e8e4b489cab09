"""WAMP router features with python3-autobahn clients over WebSocket and RawSocket, each with the
json, msgpack and cbor serializers (issue 3): pub/sub (args, kwargs, binary payloads, exclusion,
disclosure, patterns), RPC (errors, progressive results, cancel, timeout, shared registrations,
concurrency) and the meta API."""
import asyncio
import itertools
import unittest

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import (CallOptions, PublishOptions, RegisterOptions, SubscribeOptions)

from wamp_client import SERIALIZERS, TRANSPORTS, Collector, WampTestCase, close

COMBOS = list(itertools.product(TRANSPORTS, SERIALIZERS))


class PubSubTest(WampTestCase):
    async def test_args_kwargs_and_binary_reach_a_subscriber_on_every_transport_and_serializer(self):
        for (t1, s1), (t2, s2) in [(c, ("websocket", "json")) for c in COMBOS] + \
                                  [(("rawsocket", "msgpack"), c) for c in COMBOS]:
            with self.subTest(subscriber=f"{t1}/{s1}", publisher=f"{t2}/{s2}"):
                sub, pub = await self.join(t1, s1), await self.join(t2, s2)
                got = Collector()
                await sub.subscribe(got, "it.pubsub.data")
                blob = bytes(range(256))
                await pub.publish("it.pubsub.data", [1, 2], None, blob, "text",
                                  deep={"x": [True, None, 1.5]}, raw=b"\x00\x01",
                                  options=PublishOptions(acknowledge=True))
                await pub.publish("it.pubsub.data", [None], options=PublishOptions(acknowledge=True))
                await pub.publish("it.pubsub.data", options=PublishOptions(acknowledge=True))
                items = await got.wait(3)
                self.assertEqual(items[0], (([1, 2], None, blob, "text"),
                                            {"deep": {"x": [True, None, 1.5]}, "raw": b"\x00\x01"}))
                self.assertEqual(items[1], (([None],), {}), "[[null]] must not be flattened")
                self.assertEqual(items[2], ((), {}))
                await close(sub)
                await close(pub)

    async def test_acknowledged_publish_gets_an_integer_publication_id(self):
        for t, s in COMBOS:
            with self.subTest(transport=t, serializer=s):
                c = await self.join(t, s)
                p1 = await c.publish("it.ack", 1, options=PublishOptions(acknowledge=True))
                p2 = await c.publish("it.ack", 2, options=PublishOptions(acknowledge=True))
                self.assertIsInstance(p1.id, int)
                self.assertTrue(1 <= p1.id < p2.id <= 2 ** 53)

    async def test_publisher_is_excluded_by_default_and_included_with_exclude_me_false(self):
        c = await self.join()
        got = Collector()
        await c.subscribe(got, "it.self")
        await c.publish("it.self", "excluded", options=PublishOptions(acknowledge=True))
        await c.publish("it.self", "included", options=PublishOptions(acknowledge=True,
                                                                       exclude_me=False))
        items = await got.wait(1)
        await asyncio.sleep(0)  # the excluded event would have arrived before the included one
        self.assertEqual([a for a, _ in items], [("included",)])

    async def test_exclude_and_eligible_select_receivers_by_session_id(self):
        pub, a, b = await self.join(), await self.join("rawsocket", "cbor"), await self.join()
        ga, gb = Collector(), Collector()
        await a.subscribe(ga, "it.lists")
        await b.subscribe(gb, "it.lists")
        await pub.publish("it.lists", "not-a", options=PublishOptions(acknowledge=True,
                                                                       exclude=[a.session_id]))
        await pub.publish("it.lists", "only-a", options=PublishOptions(acknowledge=True,
                                                                        eligible=[a.session_id]))
        self.assertEqual([x for x, _ in await ga.wait(1)], [("only-a",)])
        self.assertEqual([x for x, _ in await gb.wait(1)], [("not-a",)])

    async def test_pattern_subscriptions_report_the_concrete_topic(self):
        pub, sub = await self.join(), await self.join("rawsocket", "msgpack")
        prefix, wild = Collector(), Collector()
        opts = dict(details_arg="details")
        await sub.subscribe(prefix, "it.pat.a", options=SubscribeOptions(match="prefix", **opts))
        await sub.subscribe(wild, "it..x", options=SubscribeOptions(match="wildcard", **opts))
        for topic in ("it.pat.a.b", "it.pat.ab", "it.pat.x", "it.zz.x"):
            await pub.publish(topic, topic, options=PublishOptions(acknowledge=True))
        self.assertEqual(sorted(i[1]["details"].topic for i in await prefix.wait(2)),
                         ["it.pat.a.b", "it.pat.ab"])
        self.assertEqual(sorted(i[1]["details"].topic for i in await wild.wait(2)),
                         ["it.pat.x", "it.zz.x"])

    async def test_subscribers_of_one_topic_share_one_subscription_id(self):
        a, b = await self.join(), await self.join("rawsocket", "cbor")
        sa = await a.subscribe(lambda *x: None, "it.shared.sub")
        sb = await b.subscribe(lambda *x: None, "it.shared.sub")
        self.assertEqual(sa.id, sb.id)
        await sa.unsubscribe()
        got = Collector()
        await b.subscribe(got, "it.shared.sub")
        await a.publish("it.shared.sub", 1, options=PublishOptions(acknowledge=True))
        await got.wait(1)


class RpcTest(WampTestCase):
    async def test_call_returns_args_and_kwargs_on_every_transport_and_serializer(self):
        callee = await self.join("rawsocket", "cbor")

        def echo(*args, **kwargs):
            from autobahn.wamp.types import CallResult
            return CallResult(*args, **kwargs)
        await callee.register(echo, "it.rpc.echo")
        for t, s in COMBOS:
            with self.subTest(transport=t, serializer=s):
                c = await self.join(t, s)
                r = await c.call("it.rpc.echo", [1, 2], None, b"\xff\x00", k={"a": [None]})
                self.assertEqual(list(r.results), [[1, 2], None, b"\xff\x00"])
                self.assertEqual(r.kwresults, {"k": {"a": [None]}})
                self.assertEqual(await c.call("it.rpc.echo", "one"), "one")

    async def test_callee_error_uri_args_and_kwargs_reach_the_caller_unchanged(self):
        callee, caller = await self.join(), await self.join("rawsocket", "msgpack")

        def fail(*args):
            raise ApplicationError("com.example.error.bad_thing", "why", 42, detail={"x": 1})
        await callee.register(fail, "it.rpc.fail")
        with self.assertRaises(ApplicationError) as cm:
            await caller.call("it.rpc.fail")
        self.assertEqual(cm.exception.error, "com.example.error.bad_thing")
        self.assertEqual(list(cm.exception.args), ["why", 42])
        self.assertEqual(cm.exception.kwargs, {"detail": {"x": 1}})

    async def test_no_registration_gives_no_such_procedure(self):
        c = await self.join()
        with self.assertRaises(ApplicationError) as cm:
            await c.call("it.rpc.nobody")
        self.assertEqual(cm.exception.error, "wamp.error.no_such_procedure")

    async def test_progressive_results_arrive_in_order_before_the_final_result(self):
        callee, caller = await self.join("rawsocket", "json"), await self.join("websocket", "cbor")

        async def count(n, details=None):
            for i in range(n):
                details.progress(i, step=i)
                await asyncio.sleep(0)
            return "done"
        await callee.register(count, "it.rpc.count", options=RegisterOptions(details_arg="details"))
        progress = []
        r = await caller.call("it.rpc.count", 3,
                              options=CallOptions(on_progress=lambda *a, **k: progress.append((a, k))))
        self.assertEqual(r, "done")
        self.assertEqual(progress, [((0,), {"step": 0}), ((1,), {"step": 1}), ((2,), {"step": 2})])

    async def test_cancel_interrupts_the_callee_and_fails_the_call(self):
        callee, caller = await self.join(), await self.join("rawsocket", "msgpack")
        started, interrupted = asyncio.Event(), asyncio.Event()

        async def slow():
            started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                interrupted.set()
                raise
        await callee.register(slow, "it.rpc.slow")
        call = asyncio.ensure_future(caller.call("it.rpc.slow"))
        await asyncio.wait_for(started.wait(), 5)
        call.cancel()
        with self.assertRaises((asyncio.CancelledError, ApplicationError)):
            await asyncio.wait_for(call, 5)
        await asyncio.wait_for(interrupted.wait(), 5)

    async def test_call_timeout_cancels_the_call_and_interrupts_the_callee(self):
        callee, caller = await self.join("rawsocket", "cbor"), await self.join()
        interrupted = asyncio.Event()

        async def hang():
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                interrupted.set()
                raise
        await callee.register(hang, "it.rpc.hang")
        with self.assertRaises(ApplicationError) as cm:
            await asyncio.wait_for(caller.call("it.rpc.hang", options=CallOptions(timeout=200)), 5)
        self.assertEqual(cm.exception.error, "wamp.error.canceled")
        await asyncio.wait_for(interrupted.wait(), 5)

    async def test_shared_registration_roundrobin_alternates_callees(self):
        a, b, caller = await self.join(), await self.join("rawsocket", "json"), await self.join()
        await a.register(lambda: "a", "it.rpc.rr", options=RegisterOptions(invoke="roundrobin"))
        await b.register(lambda: "b", "it.rpc.rr", options=RegisterOptions(invoke="roundrobin"))
        got = [await caller.call("it.rpc.rr") for _ in range(4)]
        self.assertEqual(got, ["a", "b", "a", "b"])

    async def test_shared_registration_first_and_last(self):
        a, b, caller = await self.join(), await self.join(), await self.join()
        for policy, want in (("first", "a"), ("last", "b")):
            await a.register(lambda: "a", f"it.rpc.{policy}", options=RegisterOptions(invoke=policy))
            await b.register(lambda: "b", f"it.rpc.{policy}", options=RegisterOptions(invoke=policy))
            self.assertEqual([await caller.call(f"it.rpc.{policy}") for _ in range(3)], [want] * 3)

    async def test_a_second_single_registration_is_refused(self):
        a, b = await self.join(), await self.join("rawsocket", "cbor")
        await a.register(lambda: 1, "it.rpc.single")
        with self.assertRaises(ApplicationError) as cm:
            await b.register(lambda: 2, "it.rpc.single")
        self.assertEqual(cm.exception.error, "wamp.error.procedure_already_exists")

    async def test_concurrency_limits_outstanding_invocations_and_queues_the_rest(self):
        callee, caller = await self.join(), await self.join("rawsocket", "msgpack")
        running, peak = [0], [0]

        async def work(i):
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            await asyncio.sleep(0.02)
            running[0] -= 1
            return i
        await callee.register(work, "it.rpc.limited", options=RegisterOptions(concurrency=2))
        results = await asyncio.gather(*[caller.call("it.rpc.limited", i) for i in range(8)])
        self.assertEqual(results, list(range(8)))
        self.assertEqual(peak[0], 2)

    async def test_pattern_registrations_receive_the_concrete_procedure(self):
        callee, caller = await self.join("rawsocket", "msgpack"), await self.join()

        def who(details=None):
            return details.procedure
        await callee.register(who, "it.rpc.pat", options=RegisterOptions(match="prefix",
                                                                         details_arg="details"))
        await callee.register(lambda: "exact", "it.rpc.pat.exact")
        self.assertEqual(await caller.call("it.rpc.pat.any.thing"), "it.rpc.pat.any.thing")
        self.assertEqual(await caller.call("it.rpc.pat.exact"), "exact")

    async def test_callee_leaving_fails_its_pending_calls_with_canceled(self):
        callee, caller = await self.join(), await self.join()
        started = asyncio.Event()

        async def forever():
            started.set()
            await asyncio.sleep(30)
        await callee.register(forever, "it.rpc.leaver")
        call = asyncio.ensure_future(caller.call("it.rpc.leaver"))
        await asyncio.wait_for(started.wait(), 5)
        callee.leave()
        with self.assertRaises(ApplicationError) as cm:
            await asyncio.wait_for(call, 5)
        self.assertEqual(cm.exception.error, "wamp.error.canceled")


class MetaApiTest(WampTestCase):
    async def test_session_count_list_and_get(self):
        a, b = await self.join(), await self.join("rawsocket", "cbor")
        count = await a.call("wamp.session.count")
        ids = await a.call("wamp.session.list")
        self.assertGreaterEqual(count, 2)
        self.assertIn(a.session_id, ids)
        self.assertIn(b.session_id, ids)
        info = await a.call("wamp.session.get", b.session_id)
        self.assertEqual(info["session"], b.session_id)
        with self.assertRaises(ApplicationError) as cm:
            await a.call("wamp.session.get", 1)
        self.assertEqual(cm.exception.error, "wamp.error.no_such_session")

    async def test_on_join_and_on_leave_events(self):
        watcher = await self.join()
        joins, leaves = Collector(), Collector()
        await watcher.subscribe(joins, "wamp.session.on_join")
        await watcher.subscribe(leaves, "wamp.session.on_leave")
        other = await self.join("rawsocket", "msgpack")
        other_id = other.session_id
        (args, _), = await joins.wait(1)
        self.assertEqual(args[0]["session"], other_id)
        await close(other)
        (args, _), = await leaves.wait(1)
        self.assertEqual(args[0], other_id)

    async def test_subscription_lookup_match_and_subscribers(self):
        a = await self.join()
        sub = await a.subscribe(lambda *x: None, "it.meta.topic")
        self.assertEqual(await a.call("wamp.subscription.lookup", "it.meta.topic"), sub.id)
        self.assertIn(sub.id, await a.call("wamp.subscription.match", "it.meta.topic"))
        self.assertEqual(await a.call("wamp.subscription.list_subscribers", sub.id), [a.session_id])
        self.assertEqual(await a.call("wamp.subscription.count_subscribers", sub.id), 1)
        info = await a.call("wamp.subscription.get", sub.id)
        self.assertEqual(info["uri"], "it.meta.topic")

    async def test_registration_lookup_and_callees(self):
        a = await self.join("rawsocket", "json")
        reg = await a.register(lambda: 1, "it.meta.proc")
        self.assertEqual(await a.call("wamp.registration.lookup", "it.meta.proc"), reg.id)
        self.assertEqual(await a.call("wamp.registration.match", "it.meta.proc"), reg.id)
        self.assertEqual(await a.call("wamp.registration.list_callees", reg.id), [a.session_id])
        self.assertEqual(await a.call("wamp.registration.count_callees", reg.id), 1)
        lst = await a.call("wamp.registration.list")
        self.assertIn(reg.id, lst["exact"])

    async def test_a_testament_is_published_when_its_session_leaves(self):
        watcher, mortal = await self.join(), await self.join("rawsocket", "cbor")
        got = Collector()
        await watcher.subscribe(got, "it.meta.testament")
        await mortal.call("wamp.session.add_testament", "it.meta.testament", ["gone"], {"why": "left"})
        await close(mortal)
        (args, kwargs), = await got.wait(1)
        self.assertEqual((args, kwargs), (("gone",), {"why": "left"}))

    async def test_welcome_announces_the_implemented_features(self):
        a = await self.join()
        broker = a._router_roles["broker"]
        dealer = a._router_roles["dealer"]
        for f in ("publisher_exclusion", "publisher_identification", "subscriber_blackwhite_listing",
                  "pattern_based_subscription", "session_meta_api", "subscription_meta_api",
                  "subscription_revocation", "event_retention"):
            self.assertTrue(getattr(broker, f), f)
        for f in ("progressive_call_results", "call_canceling", "call_timeout",
                  "caller_identification", "shared_registration", "registration_meta_api",
                  "pattern_based_registration", "testament_meta_api"):
            self.assertTrue(getattr(dealer, f), f)


if __name__ == "__main__":
    unittest.main(verbosity=2)
