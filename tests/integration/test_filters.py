"""Several subscriptions of ONE session to the same topic that differ only in their `filter`
option are independent subscriptions (fox's subscribe options, SPEC §6): each gets its own id,
each receives exactly the events its filter admits (an unfiltered one gets all), unsubscribing
one leaves the others, and the subscription meta API lists them apart, with get() showing each
filter.

The filter is fox's extra SUBSCRIBE option, which python3-autobahn 22.7 cannot express:
`extra_options()` adds it to the next SUBSCRIBE autobahn marshals (as test_wamp_retained.py
does). autobahn refuses the in-band wildcard `#` client-side, so its subscriptions use
match=prefix; the raw-client test uses `a.#` itself.

"Nothing else arrived": the publisher's PUBLISHED means the router has dispatched the events, and
a meta call of the subscriber made after that returns after every EVENT sent to it before.
"""
import contextlib
import json

from autobahn.wamp import message
from autobahn.wamp.types import PublishOptions, SubscribeOptions

from harness import main
from raw_wamp import (EVENT, PUBLISH, PUBLISHED, SUBSCRIBE, SUBSCRIBED, WELCOME, RawSocketClient,
                      hello)
from wamp_client import Collector, WampTestCase

_EXTRA = {}
_orig_subscribe_marshal = message.Subscribe.marshal


def _subscribe_marshal(self):
    msg = _orig_subscribe_marshal(self)
    msg[2].update(_EXTRA)
    return msg


message.Subscribe.marshal = _subscribe_marshal


@contextlib.contextmanager
def extra_subscribe_options(**options):
    _EXTRA.update(options)
    try:
        yield
    finally:
        _EXTRA.clear()


POST = {"type": "post"}
POST_EN = {"type": "post", "meta": {"lang": "en"}}
EVENTS = [{"type": "post", "meta": {"lang": "en"}, "n": 1},
          {"type": "post", "meta": {"lang": "de"}, "n": 2},
          {"type": "note", "n": 3}]


def numbers(collector):
    return [args[0]["n"] for args, _ in collector.items]


class FilterTest(WampTestCase):
    async def subscribe(self, session, topic, filter_=None):
        got = Collector()
        options = SubscribeOptions(match="prefix")
        if filter_ is None:
            sub = await session.subscribe(got, topic, options=options)
        else:
            with extra_subscribe_options(filter=filter_):
                sub = await session.subscribe(got, topic, options=options)
        return sub, got

    async def publish_all(self, publisher, topic, events):
        for e in events:
            await publisher.publish(topic, e, options=PublishOptions(acknowledge=True))

    async def barrier(self, session):
        """Returns after every event dispatched before this call reached `session`."""
        await session.call("wamp.session.count")

    async def test_three_subscriptions_of_one_session_with_different_filters_are_independent(self):
        sub, pub = await self.join(), await self.join("rawsocket", "msgpack")
        s_post, post = await self.subscribe(sub, "flt.a", POST)
        s_en, en = await self.subscribe(sub, "flt.a", POST_EN)
        s_all, all_ = await self.subscribe(sub, "flt.a")
        self.assertEqual(len({s_post.id, s_en.id, s_all.id}), 3,
                         f"ids {s_post.id}, {s_en.id}, {s_all.id}")
        await self.publish_all(pub, "flt.a.x", EVENTS)
        await self.barrier(sub)
        self.assertEqual(numbers(post), [1, 2])
        self.assertEqual(numbers(en), [1])
        self.assertEqual(numbers(all_), [1, 2, 3])

    async def test_unsubscribing_one_filtered_subscription_leaves_the_others_of_the_session(self):
        sub, pub = await self.join(), await self.join()
        s_post, post = await self.subscribe(sub, "flt.u", POST)
        s_en, en = await self.subscribe(sub, "flt.u", POST_EN)
        self.assertNotEqual(s_post.id, s_en.id, "one subscription for two filters")
        await s_post.unsubscribe()
        await self.publish_all(pub, "flt.u.x", EVENTS)
        await self.barrier(sub)
        self.assertEqual(numbers(post), [])
        self.assertEqual(numbers(en), [1])
        self.assertEqual(await sub.call("wamp.subscription.list_subscribers", s_en.id),
                         [sub.session_id])

    async def test_the_meta_api_lists_each_filtered_subscription_with_its_filter(self):
        sub = await self.join("rawsocket", "json")
        s_post, _ = await self.subscribe(sub, "flt.m", POST)
        s_en, _ = await self.subscribe(sub, "flt.m", POST_EN)
        s_all, _ = await self.subscribe(sub, "flt.m")
        listed = await sub.call("wamp.subscription.list")
        self.assertLessEqual({s_post.id, s_en.id, s_all.id}, set(listed["prefix"]), listed)
        details = {s.id: await sub.call("wamp.subscription.get", s.id)
                   for s in (s_post, s_en, s_all)}
        self.assertEqual(len(details), 3)
        self.assertEqual(details[s_post.id].get("filter"), POST)
        self.assertEqual(details[s_en.id].get("filter"), POST_EN)
        self.assertNotIn("filter", details[s_all.id])
        for d in details.values():
            self.assertEqual((d["uri"], d["match"]), ("flt.m", "prefix"))


class RawFilterTest(WampTestCase):
    def test_in_band_hash_subscriptions_with_different_filters_get_their_own_ids_and_events(self):
        sub = RawSocketClient(self.fox.rawsocket_port)
        pub = RawSocketClient(self.fox.rawsocket_port)
        self.addCleanup(sub.close)
        self.addCleanup(pub.close)
        for c in (sub, pub):
            c.send_msg(hello())
            self.assertEqual(c.recv_msg()[0], WELCOME)
        ids = []
        for request, options in enumerate([{"filter": POST}, {"filter": POST_EN}, {}], 1):
            sub.send_msg([SUBSCRIBE, request, options, "flt.raw.#"])
            reply = sub.recv_msg()
            self.assertEqual(reply[:2], [SUBSCRIBED, request], reply)
            ids.append(reply[2])
        self.assertEqual(len(set(ids)), 3, ids)
        for request, event in enumerate(EVENTS + [dict(POST_EN, n="end")], 1):
            pub.send_msg([PUBLISH, request, {"acknowledge": True}, "flt.raw.x", [event]])
            self.assertEqual(pub.recv_msg()[:2], [PUBLISHED, request])
        got = {i: [] for i in ids}
        while not all(got[i] and got[i][-1] == "end" for i in ids):  # "end" passes every filter
            ev = sub.recv_msg()
            self.assertEqual(ev[0], EVENT, ev)
            got[ev[1]].append(ev[4][0]["n"])
        self.assertEqual([got[i] for i in ids], [[1, 2, "end"], [1, "end"], [1, 2, 3, "end"]],
                         json.dumps(got))

    def test_the_same_filter_with_its_members_in_another_order_is_the_same_subscription(self):
        sub = RawSocketClient(self.fox.rawsocket_port)
        self.addCleanup(sub.close)
        sub.send_msg(hello())
        self.assertEqual(sub.recv_msg()[0], WELCOME)
        ids = []
        for request, flt in enumerate([{"a": 1, "b": 2}, {"b": 2, "a": 1}], 1):
            sub.send_msg([SUBSCRIBE, request, {"filter": flt}, "flt.order.#"])
            reply = sub.recv_msg()
            self.assertEqual(reply[:2], [SUBSCRIBED, request], reply)
            ids.append(reply[2])
        self.assertEqual(ids[0], ids[1])


if __name__ == "__main__":
    main()
