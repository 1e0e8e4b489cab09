"""Retained state and the fox subscribe options with python3-autobahn clients (issue 5):
retain + get_retained (the WAMP event-retention names), fox-wamp's `retained`, `merge`,
`snapshot` (the subscription revocation is received), `after` and `filter`.

autobahn 22.7 has no API for fox's extra options, so `extra_options()` adds them to the next
PUBLISH/SUBSCRIBE it marshals; and it announces subscription_revocation but raises a
ProtocolError on UNSUBSCRIBED(0, details), so `on_revoked()` handles that message first."""
import asyncio
import contextlib
import unittest

from autobahn.wamp import message
from autobahn.wamp.exception import ApplicationError, SerializationError
from autobahn.wamp.types import PublishOptions, SubscribeOptions

from wamp_client import Collector, WampTestCase, close

_EXTRA = {}
for _cls in (message.Publish, message.Subscribe):
    def _marshal(self, _orig=_cls.marshal, _name=_cls.__name__):
        msg = _orig(self)
        msg[2].update(_EXTRA.get(_name, {}))
        return msg
    _cls.marshal = _marshal


@contextlib.contextmanager
def extra_options(kind, **options):
    _EXTRA[kind] = options
    try:
        yield
    finally:
        _EXTRA.pop(kind, None)


def on_revoked(client):
    """Returns a future set with the details of the first subscription revocation."""
    revoked = asyncio.get_running_loop().create_future()
    orig = client.onMessage

    def on_message(msg):
        if isinstance(msg, message.Unsubscribed) and msg.request == 0:
            client._subscriptions.pop(msg.subscription, None)
            if not revoked.done():
                revoked.set_result((msg.subscription, msg.reason))
            return
        orig(msg)
    client.onMessage = on_message
    return revoked


class RetainedTest(WampTestCase):
    async def publish(self, client, topic, *args, **options):
        extra = {k: options.pop(k) for k in list(options) if k in ("merge", "when", "watch", "will")}
        with extra_options("Publish", **extra):
            return await client.publish(topic, *args, options=PublishOptions(acknowledge=True,
                                                                              **options))

    async def test_get_retained_gives_the_current_value_then_live_events(self):
        pub, sub = await self.join(), await self.join("rawsocket", "msgpack")
        await self.publish(pub, "ret.std.a", {"v": 1}, retain=True)
        got = Collector()
        await sub.subscribe(got, "ret.std.a", options=SubscribeOptions(get_retained=True,
                                                                         details_arg="details"))
        (args, kw), = await got.wait(1)
        self.assertEqual(args, ({"v": 1},))
        self.assertTrue(kw["details"].retained)
        await self.publish(pub, "ret.std.a", {"v": 2}, retain=True)
        items = await got.wait(2)
        self.assertEqual(items[1][0], ({"v": 2},))
        self.assertFalse(items[1][1]["details"].retained)

    async def test_fox_retained_option_replays_matching_keys_of_a_pattern(self):
        pub, sub = await self.join("rawsocket", "cbor"), await self.join()
        for i in range(3):
            await self.publish(pub, f"ret.pat.k{i}", i, retain=True)
        await self.publish(pub, "ret.other.k", "no", retain=True)
        got = Collector()
        with extra_options("Subscribe", retained=True):
            await sub.subscribe(got, "ret.pat", options=SubscribeOptions(match="prefix"))
        self.assertEqual(sorted(a[0] for a, _ in await got.wait(3)), [0, 1, 2])

    async def test_an_empty_retained_publication_deletes_the_key_and_falsy_values_stay(self):
        pub, sub = await self.join(), await self.join()
        await self.publish(pub, "ret.del.zero", 0, retain=True)
        await self.publish(pub, "ret.del.gone", "x", retain=True)
        await self.publish(pub, "ret.del.gone", retain=True)
        got = Collector()
        with extra_options("Subscribe", retained=True, snapshot=True):
            revoked = on_revoked(sub)
            await sub.subscribe(got, "ret.del", options=SubscribeOptions(match="prefix"))
        await asyncio.wait_for(revoked, 5)
        self.assertEqual([a for a, _ in got.items], [(0,)])

    async def test_merge_applies_a_json_merge_patch(self):
        pub, sub = await self.join(), await self.join("rawsocket", "json")
        await self.publish(pub, "ret.merge", {"a": 1, "b": {"c": 2, "d": 3}}, retain=True)
        await self.publish(pub, "ret.merge", {"b": {"c": None, "e": 4}, "f": 5}, retain=True,
                           merge=True)
        got = Collector()
        with extra_options("Subscribe", retained=True, snapshot=True):
            revoked = on_revoked(sub)
            await sub.subscribe(got, "ret.merge")
        await asyncio.wait_for(revoked, 5)
        self.assertEqual(got.items[0][0], ({"a": 1, "b": {"d": 3, "e": 4}, "f": 5},))

    async def test_snapshot_replays_then_the_subscription_is_revoked(self):
        pub, sub = await self.join(), await self.join("rawsocket", "msgpack")
        await self.publish(pub, "ret.snap.x", "value", retain=True)
        got = Collector()
        revoked = on_revoked(sub)
        with extra_options("Subscribe", retained=True, snapshot=True):
            s = await sub.subscribe(got, "ret.snap.x")
        sub_id, reason = await asyncio.wait_for(revoked, 5)
        self.assertEqual(sub_id, s.id)
        self.assertEqual(reason, "fox.snapshot.complete")
        self.assertEqual([a for a, _ in got.items], [("value",)])
        await self.publish(pub, "ret.snap.x", "later", retain=True)
        await self.publish(pub, "ret.snap.x", "later2", retain=True)
        self.assertEqual(len(got.items), 1, "no live events after a snapshot")

    async def test_after_replays_the_history_after_an_event_id_in_order(self):
        pub, sub = await self.join("rawsocket", "cbor"), await self.join()
        start = await self.publish(pub, "hist.a.start", "start")
        for i in range(3):
            await self.publish(pub, f"hist.a.{i}", f"h{i}")
        await self.publish(pub, "hist.b.0", "other topic")
        got = Collector()
        with extra_options("Subscribe", after=start.id):
            await sub.subscribe(got, "hist.a", options=SubscribeOptions(match="prefix",
                                                                        details_arg="details"))
        items = await got.wait(3)
        self.assertEqual([a for a, _ in items], [("h0",), ("h1",), ("h2",)])
        ids = [kw["details"].publication for _, kw in items]
        self.assertEqual(ids, sorted(ids))
        self.assertGreater(ids[0], start.id)

    async def test_filter_selects_replayed_and_live_events_by_value(self):
        pub, sub = await self.join(), await self.join("rawsocket", "json")
        await self.publish(pub, "ret.f.1", {"kind": "a", "n": 1}, retain=True)
        await self.publish(pub, "ret.f.2", {"kind": "b", "n": 2}, retain=True)
        got = Collector()
        with extra_options("Subscribe", retained=True, filter={"kind": "a"}):
            await sub.subscribe(got, "ret.f", options=SubscribeOptions(match="prefix"))
        await got.wait(1)
        await self.publish(pub, "ret.f.3", {"kind": "b", "n": 3})
        await self.publish(pub, "ret.f.4", {"kind": "a", "n": 4})
        items = await got.wait(2)
        self.assertEqual([a[0]["n"] for a, _ in items], [1, 4])

    async def test_when_null_with_watch_waits_and_will_hands_over_the_key(self):
        holder, waiter = await self.join(), await self.join("rawsocket", "msgpack")
        lock = dict(retain=True, when=None, watch=True, will=None)
        await self.publish(holder, "ret.lock", {"id": "holder"}, **lock)
        pending = asyncio.ensure_future(self.publish(waiter, "ret.lock", {"id": "waiter"}, **lock))
        await asyncio.sleep(0.05)  # gives a wrong router time to answer; the check is below
        self.assertFalse(pending.done(), "the waiter must not get PUBLISHED while the key is held")
        # autobahn turns ERROR wamp.error.invalid_payload into its SerializationError.
        with self.assertRaises((ApplicationError, SerializationError)) as cm:
            await self.publish(waiter, "ret.lock", {"id": "x"}, retain=True, when=None)
        self.assertIn("not accepted", str(cm.exception))
        await close(holder)  # will: null deletes the key → the waiter gets it
        await asyncio.wait_for(pending, 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
