#include <doctest/doctest.h>

#include "router_fakes.hpp"

using namespace fox;
using namespace fox::test;

TEST_CASE("a subscriber gets the event of a matching publication") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  Id subscription = f.subscribe(s, sub, "topic1");
  f.publish(p, "topic1", Json::array({"arg1"}), Json{{"foo", "bar"}});
  REQUIRE(sub.events.size() == 1);
  const Delivery& e = sub.events[0];
  CHECK(e.subscription == subscription);
  CHECK(e.publication->args == Json::array({"arg1"}));
  CHECK(e.publication->kwargs == Json{{"foo", "bar"}});
  CHECK(e.publication->publisher == p);
  CHECK(e.details == Json::object());  // exact match, publisher not disclosed
}

TEST_CASE("args of a single array and a single null arrive unchanged") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  f.subscribe(s, sub, "t");
  f.publish(p, "t", Json::parse("[[1,2]]"));
  f.publish(p, "t", Json::parse("[null]"));
  f.publish(p, "t", nullptr, nullptr);
  REQUIRE(sub.events.size() == 3);
  CHECK(sub.events[0].publication->args.dump() == "[[1,2]]");
  CHECK(sub.events[1].publication->args.dump() == "[null]");
  CHECK(sub.events[2].publication->args.is_null());
  CHECK(sub.events[2].publication->kwargs.is_null());
}

TEST_CASE("the publisher is excluded from its own publication by default") {
  Fixture f;
  FakePeer peer;
  Id s = f.join(peer);
  f.subscribe(s, peer, "t");
  f.publish(s, "t");
  CHECK(peer.events.empty());
}

TEST_CASE("exclude_me false delivers the publication to the publisher too") {
  Fixture f;
  FakePeer peer;
  Id s = f.join(peer);
  f.subscribe(s, peer, "t");
  PublishOptions options;
  options.exclude_me = false;
  f.publish(s, "t", nullptr, nullptr, options);
  CHECK(peer.events.size() == 1);
}

TEST_CASE("subscribers of one topic share one subscription id") {
  Fixture f;
  FakePeer a, b;
  Id sa = f.join(a), sb = f.join(b);
  Id ida = f.subscribe(sa, a, "t.x");
  Id idb = f.subscribe(sb, b, "t.x");
  CHECK(ida == idb);
  CHECK(f.subscribe(sb, b, "t.x", MatchPolicy::kPrefix) != ida);
}

TEST_CASE("subscribing twice gives the same id and one event per publication") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  Id first = f.subscribe(s, sub, "t");
  Id second = f.subscribe(s, sub, "t");
  CHECK(first == second);
  CHECK(sub.subscribed.size() == 2);
  f.publish(p, "t");
  CHECK(sub.events.size() == 1);
}

TEST_CASE("all subscribers of a subscription get the same event object contents") {
  Fixture f;
  FakePeer pub, a, b;
  Id p = f.join(pub), sa = f.join(a), sb = f.join(b);
  f.subscribe(sa, a, "t.*");
  f.subscribe(sb, b, "t.*");
  f.publish(p, "t.1", Json::array({1}));
  REQUIRE(a.events.size() == 1);
  REQUIRE(b.events.size() == 1);
  // One Publication object shared by every receiver, not copied per receiver.
  CHECK(a.events[0].publication.get() == b.events[0].publication.get());
}

TEST_CASE("a pattern subscription gets details.topic and an exact one does not") {
  Fixture f;
  FakePeer pub, exact, star, prefix, wildcard;
  Id p = f.join(pub);
  Id se = f.join(exact), ss = f.join(star), sp = f.join(prefix), sw = f.join(wildcard);
  f.subscribe(se, exact, "a.b.c");
  f.subscribe(ss, star, "a.*.c");
  f.subscribe(sp, prefix, "a.b", MatchPolicy::kPrefix);
  f.subscribe(sw, wildcard, "a..c", MatchPolicy::kWildcard);
  f.publish(p, "a.b.c");
  REQUIRE(exact.events.size() == 1);
  CHECK_FALSE(exact.events[0].details.contains("topic"));
  for (FakePeer* peer : {&star, &prefix, &wildcard}) {
    REQUIRE(peer->events.size() == 1);
    CHECK(peer->events[0].details["topic"] == "a.b.c");
  }
}

TEST_CASE("a session with two matching subscriptions gets one event per subscription") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  Id one = f.subscribe(s, sub, "a.*");
  Id two = f.subscribe(s, sub, "a.#");
  f.publish(p, "a.b");
  REQUIRE(sub.events.size() == 2);
  CHECK(sub.events[0].subscription != sub.events[1].subscription);
  CHECK((sub.events[0].subscription == one || sub.events[0].subscription == two));
}

TEST_CASE("exclude lists keep the named sessions from getting the event") {
  Fixture f;
  FakePeer pub, a, b;
  Id p = f.join(pub), sa = f.join(a), sb = f.join(b);
  f.subscribe(sa, a, "t");
  f.subscribe(sb, b, "t");
  PublishOptions options;
  options.exclude = {sa};
  f.publish(p, "t", nullptr, nullptr, options);
  CHECK(a.events.empty());
  CHECK(b.events.size() == 1);
}

TEST_CASE("eligible lists deliver only to the named sessions") {
  Fixture f;
  FakePeer pub, a, b;
  Id p = f.join(pub), sa = f.join(a), sb = f.join(b);
  f.subscribe(sa, a, "t");
  f.subscribe(sb, b, "t");
  PublishOptions options;
  options.eligible = {sb};
  options.has_eligible = true;
  f.publish(p, "t", nullptr, nullptr, options);
  CHECK(a.events.empty());
  CHECK(b.events.size() == 1);
}

TEST_CASE("an empty eligible list delivers to nobody") {
  Fixture f;
  FakePeer pub, a;
  Id p = f.join(pub), sa = f.join(a);
  f.subscribe(sa, a, "t");
  PublishOptions options;
  options.has_eligible = true;
  f.publish(p, "t", nullptr, nullptr, options);
  CHECK(a.events.empty());
}

TEST_CASE("authid and authrole black and white lists filter subscribers") {
  Fixture f;
  FakePeer pub, joe, ann, bot;
  Id p = f.join(pub);
  Id sj = f.join(joe, "joe", "user"), sa = f.join(ann, "ann", "admin"),
     sb = f.join(bot, "bot", "user");
  f.subscribe(sj, joe, "t");
  f.subscribe(sa, ann, "t");
  f.subscribe(sb, bot, "t");

  PublishOptions by_authid;
  by_authid.exclude_authid = {"joe"};
  f.publish(p, "t", nullptr, nullptr, by_authid);
  CHECK(joe.events.empty());
  CHECK(ann.events.size() == 1);
  CHECK(bot.events.size() == 1);

  PublishOptions by_role;
  by_role.eligible_authrole = {"user"};
  by_role.has_eligible_authrole = true;
  by_role.exclude = {sb};
  f.publish(p, "t", nullptr, nullptr, by_role);
  CHECK(joe.events.size() == 1);
  CHECK(ann.events.size() == 1);
  CHECK(bot.events.size() == 1);

  PublishOptions by_eligible_authid;
  by_eligible_authid.eligible_authid = {"ann"};
  by_eligible_authid.has_eligible_authid = true;
  by_eligible_authid.exclude_authrole = {"user"};
  f.publish(p, "t", nullptr, nullptr, by_eligible_authid);
  CHECK(ann.events.size() == 2);
  CHECK(joe.events.size() == 1);
}

TEST_CASE("disclose_me puts the publisher identity into the event details") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub, "joe", "user"), s = f.join(sub);
  f.subscribe(s, sub, "t");
  PublishOptions options;
  options.disclose_me = true;
  f.publish(p, "t", nullptr, nullptr, options);
  REQUIRE(sub.events.size() == 1);
  CHECK(sub.events[0].details["publisher"] == p);
  CHECK(sub.events[0].details["publisher_authid"] == "joe");
  CHECK(sub.events[0].details["publisher_authrole"] == "user");
}

TEST_CASE("an acknowledged publication gets PUBLISHED with its increasing id") {
  Fixture f;
  FakePeer pub;
  Id p = f.join(pub);
  PublishOptions options;
  options.acknowledge = true;
  f.publish(p, "t", nullptr, nullptr, options);
  f.publish(p, "t", nullptr, nullptr, options);
  REQUIRE(pub.published.size() == 2);
  CHECK(pub.published[0].second >= 1);
  CHECK(pub.published[1].second > pub.published[0].second);
  CHECK(pub.published[1].second <= kMaxId);
}

TEST_CASE("a publication without acknowledge gets no answer") {
  Fixture f;
  FakePeer pub;
  Id p = f.join(pub);
  f.publish(p, "t");
  f.publish(p, "t.*");
  CHECK(pub.published.empty());
  CHECK(pub.errors.empty());
}

TEST_CASE("publishing to a topic with a wildcard part is an invalid uri error") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  f.subscribe(s, sub, "#");
  PublishOptions options;
  options.acknowledge = true;
  f.publish(p, "a.*", nullptr, nullptr, options);
  f.publish(p, "a.#", nullptr, nullptr, options);
  f.publish(p, "a..b", nullptr, nullptr, options);
  REQUIRE(pub.errors.size() == 3);
  CHECK(pub.errors[0].error.uri == "wamp.error.invalid_uri");
  CHECK(pub.errors[0].type == RequestType::kPublish);
  CHECK(pub.published.empty());
  CHECK(sub.events_on("a.*").empty());
}

TEST_CASE("an MQTT session may publish to a topic with an empty level") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub, "", "anonymous", "mqtt"), s = f.join(sub, "", "anonymous", "mqtt");
  f.subscribe(s, sub, "a..b");
  f.publish(p, "a..b");
  CHECK(sub.events.size() == 1);
}

TEST_CASE("a WAMP subscription to a topic with an empty part is an invalid uri error") {
  Fixture f;
  FakePeer sub;
  Id s = f.join(sub);
  f.subscribe(s, sub, "a..b");
  REQUIRE(sub.errors.size() == 1);
  CHECK(sub.errors[0].type == RequestType::kSubscribe);
  CHECK(sub.errors[0].error.uri == "wamp.error.invalid_uri");
  f.subscribe(s, sub, "a..b", MatchPolicy::kWildcard);
  CHECK(sub.subscribed.size() == 1);
}

TEST_CASE("an unsubscribed session gets no more events") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  Id id = f.subscribe(s, sub, "t");
  f.unsubscribe(s, 77, id);
  CHECK(sub.unsubscribed == std::vector<Id>{77});
  f.publish(p, "t");
  CHECK(sub.events.empty());
}

TEST_CASE("unsubscribing an unknown subscription is no_such_subscription") {
  Fixture f;
  FakePeer a, b;
  Id sa = f.join(a), sb = f.join(b);
  Id id = f.subscribe(sa, a, "t");
  f.unsubscribe(sb, 5, id);  // b is not a subscriber of it
  f.unsubscribe(sb, 6, 123456);
  REQUIRE(b.errors.size() == 2);
  CHECK(b.errors[0].error.uri == "wamp.error.no_such_subscription");
  CHECK(b.errors[1].request == 6);
}

TEST_CASE("one subscriber leaving keeps the subscription for the others") {
  Fixture f;
  FakePeer pub, a, b;
  Id p = f.join(pub), sa = f.join(a), sb = f.join(b);
  f.subscribe(sa, a, "t");
  f.subscribe(sb, b, "t");
  f.realm->leave(sa);
  f.publish(p, "t");
  CHECK(a.events.empty());
  CHECK(b.events.size() == 1);
}

TEST_CASE("a revoked subscriber is told and gets no more events") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  Id id = f.subscribe(s, sub, "t");
  CHECK(f.realm->revoke_subscription(s, id, "snapshot done"));
  REQUIRE(sub.revoked.size() == 1);
  CHECK(sub.revoked[0] == std::make_pair(id, std::string("snapshot done")));
  f.publish(p, "t");
  CHECK(sub.events.empty());
  CHECK_FALSE(f.realm->revoke_subscription(s, id, "again"));
}
