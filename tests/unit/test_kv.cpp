// Retained state (SPEC §5): retain/merge/when/watch/will, testaments, and the subscribe options
// retained/filter/snapshot/after. Includes the reference bugs fox must not have.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>

#include "router/kv_value.hpp"
#include "router_fakes.hpp"

using namespace fox;
using namespace fox::test;

namespace {

PublishOptions opts(Json raw, bool acknowledge = false) {
  PublishOptions o;
  o.raw = std::move(raw);
  o.acknowledge = acknowledge;
  return o;
}

Id subscribe_with(Fixture& f, Id session, FakePeer& peer, const std::string& uri, Json raw,
                  MatchPolicy match = MatchPolicy::kExact) {
  SubscribeOptions o;
  o.match = match;
  o.raw = std::move(raw);
  (void)peer;
  return f.subscribe_with(session, subscription_parts(uri, match), o);
}

void publish_mqtt(Fixture& f, Id session, const std::string& uri, std::string payload, bool retain) {
  Publication pub;
  pub.topic = wamp_topic_parts(uri);
  pub.uri = uri;
  pub.payload = std::move(payload);
  pub.retain = retain;
  f.realm->publish(session, ++f.request_, std::move(pub), PublishOptions{});
}

Json value_of(const Delivery& e) { return publication_value(*e.publication).json; }

std::vector<Delivery> retained_events(const FakePeer& peer) {
  std::vector<Delivery> out;
  for (const auto& e : peer.events) {
    if (e.retained_replay) out.push_back(e);
  }
  return out;
}

std::vector<Delivery> live_events(const FakePeer& peer, const std::string& uri) {
  std::vector<Delivery> out;
  for (const auto& e : peer.events_on(uri)) {
    if (!e.retained_replay) out.push_back(e);
  }
  return out;
}

// The current retained value of a key (null when absent), read by a fresh retained subscriber.
std::optional<Json> current(Fixture& f, const std::string& uri) {
  FakePeer reader;
  Id r = f.join(reader);
  subscribe_with(f, r, reader, uri, Json{{"retained", true}});
  auto replay = retained_events(reader);
  f.realm->leave(r);
  if (replay.empty()) return std::nullopt;
  return value_of(replay[0]);
}

const Json kRetain = Json{{"retain", true}};

}  // namespace

TEST_CASE("a retained publication replaces the value of its key") {
  Fixture f;
  FakePeer pub;
  Id p = f.join(pub);
  f.publish(p, "k", Json::array({Json{{"a", 1}}}), nullptr, opts(kRetain));
  f.publish(p, "k", Json::array({Json{{"b", 2}}}), nullptr, opts(kRetain));
  CHECK(current(f, "k") == Json{{"b", 2}});
  f.publish(p, "other", Json::array({1}));  // not retained
  CHECK_FALSE(current(f, "other").has_value());
}

TEST_CASE("falsy values 0, false and the empty string are values, not deletions") {
  Fixture f;
  FakePeer pub;
  Id p = f.join(pub);
  for (const Json& value : {Json(0), Json(false), Json("")}) {
    f.publish(p, "k", Json::array({value}), nullptr, opts(kRetain));
    REQUIRE(current(f, "k").has_value());
    CHECK(*current(f, "k") == value);
  }
}

TEST_CASE("an empty retained publication deletes the key: no args, [], [null], empty MQTT payload") {
  Fixture f;
  FakePeer pub;
  Id p = f.join(pub, "", "anonymous");
  Id m = f.join(pub, "", "anonymous", "mqtt");
  for (const Json& args : {Json(nullptr), Json::array(), Json::parse("[null]")}) {
    f.publish(p, "k", Json::array({1}), nullptr, opts(kRetain));
    REQUIRE(current(f, "k").has_value());
    f.publish(p, "k", args, nullptr, opts(kRetain));
    CHECK_FALSE(current(f, "k").has_value());
  }
  publish_mqtt(f, m, "k", "1", true);
  REQUIRE(current(f, "k") == Json(1));
  publish_mqtt(f, m, "k", "", true);
  CHECK_FALSE(current(f, "k").has_value());
  // kwargs alone are a value.
  f.publish(p, "k", nullptr, Json{{"a", 1}}, opts(kRetain));
  CHECK(current(f, "k") == Json{{"a", 1}});
}

TEST_CASE("merge of scalars, strings and arrays replaces the value instead of corrupting it") {
  Fixture f;
  FakePeer pub;
  Id p = f.join(pub);
  const Json merge = Json{{"retain", true}, {"merge", true}};
  f.publish(p, "n", Json::array({5}), nullptr, opts(merge));
  f.publish(p, "n", Json::array({6}), nullptr, opts(merge));
  CHECK(current(f, "n") == Json(6));
  f.publish(p, "s", Json::array({"abc"}), nullptr, opts(merge));
  f.publish(p, "s", Json::array({"xy"}), nullptr, opts(merge));
  CHECK(current(f, "s") == Json("xy"));
  f.publish(p, "a", Json::array({Json::array({1, 2, 3})}), nullptr, opts(merge));
  f.publish(p, "a", Json::array({Json::array({4})}), nullptr, opts(merge));
  CHECK(current(f, "a") == Json::array({4}));
  // A scalar replaces an object, an object replaces a scalar.
  f.publish(p, "o", Json::array({Json{{"x", 1}}}), nullptr, opts(merge));
  f.publish(p, "o", Json::array({7}), nullptr, opts(merge));
  CHECK(current(f, "o") == Json(7));
}

TEST_CASE("merge of objects is a JSON merge patch and a null member deletes it") {
  Fixture f;
  FakePeer pub;
  Id p = f.join(pub);
  const Json merge = Json{{"retain", true}, {"merge", true}};
  f.publish(p, "k", Json::array({Json::parse(R"({"a":1,"b":{"c":2,"d":3},"e":4})")}), nullptr,
            opts(merge));
  f.publish(p, "k", Json::array({Json::parse(R"({"b":{"c":9},"e":null,"f":5})")}), nullptr,
            opts(merge));
  CHECK(current(f, "k") == Json::parse(R"({"a":1,"b":{"c":9,"d":3},"f":5})"));
  // A member scalar replaces a member object (the reference kept the old object).
  f.publish(p, "k", Json::array({Json::parse(R"({"b":0})")}), nullptr, opts(merge));
  CHECK(current(f, "k") == Json::parse(R"({"a":1,"b":0,"f":5})"));
}

TEST_CASE("merge of MQTT JSON payloads patches the stored payload") {
  Fixture f;
  FakePeer pub;
  Id m = f.join(pub, "", "anonymous", "mqtt");
  publish_mqtt(f, m, "k", R"({"a":1})", true);
  Publication patch;
  patch.topic = {"k"};
  patch.uri = "k";
  patch.payload = R"({"b":2})";
  patch.retain = true;
  f.realm->publish(m, ++f.request_, std::move(patch), opts(Json{{"merge", true}}));
  CHECK(current(f, "k") == Json::parse(R"({"a":1,"b":2})"));
}

TEST_CASE("when null accepts a publication only while the key is absent") {
  Fixture f;
  FakePeer pub;
  Id p = f.join(pub);
  const Json create = Json{{"retain", true}, {"when", nullptr}};
  f.publish(p, "k", Json::array({1}), nullptr, opts(create, true));
  f.publish(p, "k", Json::array({2}), nullptr, opts(create, true));
  CHECK(current(f, "k") == Json(1));
  CHECK(pub.published.size() == 1);
  REQUIRE(pub.errors.size() == 1);
  CHECK(pub.errors[0].type == RequestType::kPublish);
  CHECK(pub.errors[0].error.uri == "wamp.error.invalid_payload");
  CHECK(pub.errors[0].error.args == Json::array({"not accepted"}));
}

TEST_CASE("when with an object matches every given member recursively and never throws on a scalar") {
  Fixture f;
  FakePeer pub;
  Id p = f.join(pub);
  f.publish(p, "k", Json::array({Json::parse(R"({"owner":"a","meta":{"x":1,"y":2}})")}), nullptr,
            opts(kRetain));
  f.publish(p, "k", Json::array({"b1"}), nullptr,
            opts(Json{{"retain", true}, {"when", Json::parse(R"({"meta":{"x":1}})")}}, true));
  CHECK(current(f, "k") == Json("b1"));
  // The value is now a scalar: an object condition does not match (and does not throw).
  f.publish(p, "k", Json::array({"b2"}), nullptr,
            opts(Json{{"retain", true}, {"when", Json{{"owner", "a"}}}}, true));
  CHECK(current(f, "k") == Json("b1"));
  CHECK(pub.errors.size() == 1);
  // A scalar condition compares equal.
  f.publish(p, "k", Json::array({"b3"}), nullptr,
            opts(Json{{"retain", true}, {"when", "b1"}}, true));
  CHECK(current(f, "k") == Json("b3"));
}

TEST_CASE("a refused publication without acknowledge gets no answer at all") {
  Fixture f;
  FakePeer pub;
  Id p = f.join(pub);
  f.publish(p, "k", Json::array({1}), nullptr, opts(kRetain));
  f.publish(p, "k", Json::array({2}), nullptr, opts(Json{{"retain", true}, {"when", nullptr}}));
  CHECK(pub.errors.empty());
  CHECK(pub.published.empty());
}

TEST_CASE("a refused or waiting publication is not delivered to subscribers until applied") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  f.subscribe(s, sub, "k");
  f.publish(p, "k", Json::array({1}), nullptr, opts(kRetain));
  REQUIRE(live_events(sub, "k").size() == 1);
  f.publish(p, "k", Json::array({2}), nullptr, opts(Json{{"retain", true}, {"when", nullptr}}));
  f.publish(p, "k", Json::array({3}), nullptr,
            opts(Json{{"retain", true}, {"when", nullptr}, {"watch", true}}, true));
  CHECK(live_events(sub, "k").size() == 1);
  CHECK(pub.published.empty());
  f.publish(p, "k", nullptr, nullptr, opts(kRetain));  // delete → the watcher applies
  auto events = live_events(sub, "k");
  REQUIRE(events.size() == 3);
  CHECK(value_of(events[2]) == Json(3));
  REQUIRE(pub.published.size() == 1);
  CHECK(pub.published[0].second == events[2].publication->id);
}

TEST_CASE("a watcher on an existing key waits and is applied after the key is deleted") {
  Fixture f;
  FakePeer a, b;
  Id sa = f.join(a), sb = f.join(b);
  f.publish(sa, "lock", Json::array({"a"}), nullptr, opts(kRetain));
  f.publish(sb, "lock", Json::array({"b"}), nullptr,
            opts(Json{{"retain", true}, {"when", nullptr}, {"watch", true}}, true));
  CHECK(b.published.empty());
  CHECK(current(f, "lock") == Json("a"));
  f.publish(sa, "lock", Json::array(), nullptr, opts(kRetain));
  CHECK(b.published.size() == 1);
  CHECK(current(f, "lock") == Json("b"));
}

TEST_CASE("a watcher on a missing key is kept and applied when the key appears") {
  Fixture f;
  FakePeer a, b;
  Id sa = f.join(a), sb = f.join(b);
  f.publish(sb, "state", Json::array({"seen"}), nullptr,
            opts(Json{{"retain", true}, {"when", Json{{"ready", true}}}, {"watch", true}}, true));
  f.publish(sa, "state", Json::array({Json{{"ready", false}}}), nullptr, opts(kRetain));
  CHECK(b.published.empty());
  f.publish(sa, "state", Json::array({Json{{"ready", true}}}), nullptr, opts(kRetain));
  CHECK(b.published.size() == 1);
  CHECK(current(f, "state") == Json("seen"));
}

TEST_CASE("chained watchers apply in FIFO order on the fresh value") {
  Fixture f;
  FakePeer a, w;
  Id sa = f.join(a), sw = f.join(w);
  auto step = [&](int from, int to) {
    f.publish(sw, "n", Json::array({Json{{"v", to}}}), nullptr,
              opts(Json{{"retain", true}, {"merge", true}, {"when", Json{{"v", from}}}, {"watch", true}},
                   true));
  };
  step(2, 3);  // queued first, needs v=2
  step(1, 2);
  step(1, 99);  // needs v=1 too, but the first v=1 waiter changes it first
  CHECK(w.published.empty());
  f.publish(sa, "n", Json::array({Json{{"v", 1}, {"keep", "x"}}}), nullptr, opts(kRetain));
  // v=1 → (1,2) applies → v=2 → (2,3) applies → v=3; (1,99) keeps waiting.
  CHECK(w.published.size() == 2);
  CHECK(current(f, "n") == Json{{"v", 3}, {"keep", "x"}});
  CHECK(w.published[0].second < w.published[1].second);
}

TEST_CASE("waiters of a session that leaves are dropped") {
  Fixture f;
  FakePeer a, b, sub;
  Id sa = f.join(a), sb = f.join(b), ss = f.join(sub);
  f.subscribe(ss, sub, "k");
  f.publish(sa, "k", Json::array({1}), nullptr, opts(kRetain));
  f.publish(sb, "k", Json::array({2}), nullptr,
            opts(Json{{"retain", true}, {"when", nullptr}, {"watch", true}}));
  f.realm->leave(sb);
  f.publish(sa, "k", nullptr, nullptr, opts(kRetain));
  CHECK_FALSE(current(f, "k").has_value());
  CHECK(live_events(sub, "k").size() == 2);  // the write and the delete, never the waiter
}

TEST_CASE("a will is applied when the writing session leaves and reaches subscribers") {
  Fixture f;
  FakePeer a, sub;
  Id sa = f.join(a), ss = f.join(sub);
  f.subscribe(ss, sub, "status.a");
  f.publish(sa, "status.a", Json::array({"online"}), nullptr,
            opts(Json{{"retain", true}, {"will", "offline"}}));
  f.realm->leave(sa);
  CHECK(current(f, "status.a") == Json("offline"));
  auto events = live_events(sub, "status.a");
  REQUIRE(events.size() == 2);
  CHECK(value_of(events[1]) == Json("offline"));
  CHECK(events[1].publication->publisher == sa);
  CHECK_FALSE(events[1].details.contains("publisher"));  // not disclosed: it did not ask
}

TEST_CASE("a will of null deletes the key when the session leaves") {
  Fixture f;
  FakePeer a;
  Id sa = f.join(a);
  f.publish(sa, "k", Json::array({1}), nullptr, opts(Json{{"retain", true}, {"will", nullptr}}));
  f.realm->leave(sa);
  CHECK_FALSE(current(f, "k").has_value());
}

TEST_CASE("the last writer of a key owns its will") {
  Fixture f;
  FakePeer a, b;
  Id sa = f.join(a), sb = f.join(b);
  f.publish(sa, "k", Json::array({"a"}), nullptr, opts(Json{{"retain", true}, {"will", "a-gone"}}));
  f.publish(sb, "k", Json::array({"b"}), nullptr, opts(kRetain));  // clears a's will
  f.realm->leave(sa);
  CHECK(current(f, "k") == Json("b"));
  f.publish(sb, "k", Json::array({"b2"}), nullptr, opts(Json{{"retain", true}, {"will", "b-gone"}}));
  f.realm->leave(sb);
  CHECK(current(f, "k") == Json("b-gone"));
}

TEST_CASE("a lock is handed over to exactly one waiter when the holder leaves and on release") {
  Fixture f;
  FakePeer p1, p2, p3;
  Id s1 = f.join(p1), s2 = f.join(p2), s3 = f.join(p3);
  const Json acquire = Json{{"retain", true}, {"when", nullptr}, {"watch", true}, {"will", nullptr}};
  f.publish(s1, "lock.res", Json::array({"p1"}), nullptr, opts(acquire, true));
  f.publish(s2, "lock.res", Json::array({"p2"}), nullptr, opts(acquire, true));
  f.publish(s3, "lock.res", Json::array({"p3"}), nullptr, opts(acquire, true));
  CHECK(p1.published.size() == 1);
  CHECK(p2.published.empty());
  CHECK(p3.published.empty());
  f.realm->leave(s1);  // kill -9 of the holder
  CHECK(p2.published.size() + p3.published.size() == 1);
  CHECK(p2.published.size() == 1);  // FIFO
  CHECK(current(f, "lock.res") == Json("p2"));
  f.publish(s2, "lock.res", Json::array(), nullptr, opts(kRetain));  // unlock
  CHECK(p3.published.size() == 1);
  CHECK(current(f, "lock.res") == Json("p3"));
  f.realm->leave(s3);
  CHECK_FALSE(current(f, "lock.res").has_value());
}

TEST_CASE("an acknowledged publication that waited gets PUBLISHED with an id bigger than earlier ones") {
  Fixture f;
  FakePeer a, b;
  Id sa = f.join(a), sb = f.join(b);
  f.publish(sa, "k", Json::array({1}), nullptr, opts(kRetain, true));
  f.publish(sb, "k", Json::array({2}), nullptr,
            opts(Json{{"retain", true}, {"when", nullptr}, {"watch", true}}, true));
  f.publish(sa, "x", Json::array({1}), nullptr, opts(Json::object(), true));
  f.publish(sa, "k", nullptr, nullptr, opts(kRetain, true));
  REQUIRE(a.published.size() == 3);
  REQUIRE(b.published.size() == 1);
  CHECK(b.published[0].second > a.published[2].second);  // id given when applied
}

TEST_CASE("retained subscribers get the current values first and then live updates") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  f.publish(p, "k", Json::array({1}), nullptr, opts(kRetain));
  Id id = subscribe_with(f, s, sub, "k", Json{{"retainedState", true}});
  REQUIRE(sub.events.size() == 1);
  CHECK(sub.events[0].retained_replay);
  CHECK(sub.events[0].details["retained"] == true);
  CHECK(sub.events[0].subscription == id);
  CHECK(sub.log[sub.log.size() - 2] == "subscribed");
  f.publish(p, "k", Json::array({2}), nullptr, opts(kRetain));
  f.publish(p, "k", Json::array({3}));  // not retained: still a live event
  REQUIRE(sub.events.size() == 3);
  CHECK_FALSE(sub.events[1].retained_replay);
  CHECK_FALSE(sub.events[1].details.contains("retained"));
  CHECK(value_of(sub.events[2]) == Json(3));
}

TEST_CASE("retained replay is pattern-aware and a leading wildcard does not match a $ topic") {
  Fixture f;
  FakePeer pub, a, b, c;
  Id p = f.join(pub, "", "anonymous", "mqtt");
  Id sa = f.join(a), sb = f.join(b), sc = f.join(c);
  publish_mqtt(f, p, "sensor.1.temp", "21", true);
  publish_mqtt(f, p, "sensor.2.temp", "22", true);
  publish_mqtt(f, p, "sensor.2.hum", "50", true);
  publish_mqtt(f, p, "$SYS.load", "1", true);
  subscribe_with(f, sa, a, "sensor.*.temp", Json{{"retained", true}});
  REQUIRE(a.events.size() == 2);
  CHECK(a.events[0].details["topic"] == "sensor.1.temp");
  CHECK(a.events[1].details["topic"] == "sensor.2.temp");
  subscribe_with(f, sb, b, "#", Json{{"retained", true}});
  CHECK(retained_events(b).size() == 3);  // not $SYS.load
  subscribe_with(f, sc, c, "sensor.2", Json{{"retained", true}}, MatchPolicy::kPrefix);
  CHECK(c.events.size() == 2);
}

TEST_CASE("filter applies to retained replay and to live events, and a non-JSON payload never matches") {
  Fixture f;
  FakePeer pub, sub, plain;
  Id p = f.join(pub, "", "anonymous", "mqtt"), s = f.join(sub), sp = f.join(plain);
  publish_mqtt(f, p, "dev.1", R"({"kind":"lamp","on":true})", true);
  publish_mqtt(f, p, "dev.2", R"({"kind":"fan","on":true})", true);
  publish_mqtt(f, p, "dev.3", "\xff\xfe not json", true);
  subscribe_with(f, s, sub, "dev.*", Json{{"retained", true}, {"filter", Json{{"kind", "lamp"}}}});
  f.subscribe(sp, plain, "dev.*");
  REQUIRE(sub.events.size() == 1);
  CHECK(sub.events[0].details["topic"] == "dev.1");
  publish_mqtt(f, p, "dev.2", R"({"kind":"lamp","on":false})", false);
  publish_mqtt(f, p, "dev.3", "\x01\x02", false);
  publish_mqtt(f, p, "dev.4", R"({"kind":"fan"})", false);
  REQUIRE(sub.events.size() == 2);
  CHECK(sub.events[1].details["topic"] == "dev.2");
  CHECK(plain.events.size() == 3);  // the filter is that subscriber's only
  // A scalar filter compares equal.
  FakePeer scalar;
  Id sc = f.join(scalar);
  subscribe_with(f, sc, scalar, "n", Json{{"filter", 5}});
  f.publish(sp, "n", Json::array({4}));
  f.publish(sp, "n", Json::array({5}));
  REQUIRE(scalar.events.size() == 1);
  CHECK(value_of(scalar.events[0]) == Json(5));
}

TEST_CASE("a snapshot subscription replays and is then revoked, also with nothing to replay") {
  Fixture f;
  FakePeer pub, sub, empty;
  Id p = f.join(pub), s = f.join(sub), se = f.join(empty);
  f.publish(p, "k.1", Json::array({1}), nullptr, opts(kRetain));
  f.publish(p, "k.2", Json::array({2}), nullptr, opts(kRetain));
  Id id = subscribe_with(f, s, sub, "k.*", Json{{"retained", true}, {"snapshot", true}});
  CHECK(sub.log == std::vector<std::string>{"subscribed", "event", "event", "revoked"});
  REQUIRE(sub.revoked.size() == 1);
  CHECK(sub.revoked[0] == std::make_pair(id, std::string("fox.snapshot.complete")));
  f.publish(p, "k.1", Json::array({3}), nullptr, opts(kRetain));
  CHECK(sub.events.size() == 2);  // nothing after the end
  Id id2 = subscribe_with(f, se, empty, "none", Json{{"snapshot", true}});
  CHECK(empty.log == std::vector<std::string>{"subscribed", "revoked"});
  CHECK(empty.revoked[0].first == id2);
}

TEST_CASE("snapshot must be a boolean and after an integer event id") {
  Fixture f;
  FakePeer sub;
  Id s = f.join(sub);
  subscribe_with(f, s, sub, "k", Json{{"snapshot", "yes"}});
  subscribe_with(f, s, sub, "k", Json{{"after", "12"}});
  subscribe_with(f, s, sub, "k", Json{{"after", -1}});
  REQUIRE(sub.errors.size() == 3);
  for (const auto& e : sub.errors) {
    CHECK(e.type == RequestType::kSubscribe);
    CHECK(e.error.uri == "wamp.error.invalid_argument");
  }
  CHECK(sub.subscribed.empty());
}

TEST_CASE("after replays history in id order, pattern-aware, with ids compared as integers") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  std::vector<Id> ids;
  for (int i = 0; i < 15; ++i) {
    f.publish(p, i % 2 ? "h.odd" : "h.even", Json::array({i}), nullptr, opts(Json::object(), true));
    f.publish(p, "other", Json::array({i}));
    ids.push_back(pub.published.back().second);
  }
  const Id after = ids[2];  // the ids are larger than 9 by now: "10" < "9" must not happen
  CHECK(ids.back() > 10);
  subscribe_with(f, s, sub, "h.*", Json{{"after", after}});
  REQUIRE(sub.events.size() == 12);
  for (std::size_t i = 0; i < sub.events.size(); ++i) {
    CHECK(sub.events[i].publication->id == ids[i + 3]);
    CHECK(sub.events[i].details["topic"] == (value_of(sub.events[i]).get<int>() % 2 ? "h.odd" : "h.even"));
    CHECK_FALSE(sub.events[i].retained_replay);
  }
  f.publish(p, "h.odd", Json::array({99}));
  REQUIRE(sub.events.size() == 13);  // then live
  CHECK(value_of(sub.events[12]) == Json(99));
}

TEST_CASE("history keeps only the configured number of publications") {
  Fixture f{3};
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  for (int i = 0; i < 5; ++i) f.publish(p, "h", Json::array({i}));
  subscribe_with(f, s, sub, "h", Json{{"after", 0}});
  REQUIRE(sub.events.size() == 3);
  CHECK(value_of(sub.events[0]) == Json(2));
}

TEST_CASE("retained replay with after waits for that id and a non-retained publication does not release it") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  f.publish(p, "k", Json::array({1}), nullptr, opts(kRetain, true));
  const Id last = pub.published.back().second;
  const Id after = last + 2;  // not applied yet
  subscribe_with(f, s, sub, "k", Json{{"retained", true}, {"after", after}});
  CHECK(sub.events.empty());
  f.publish(p, "k", Json::array({2}), nullptr, opts(Json::object(), true));  // id last+1, live
  f.publish(p, "k", Json::array({3}), nullptr, opts(Json::object(), true));  // id last+2, not retained
  REQUIRE(sub.events.size() == 2);
  CHECK_FALSE(sub.events[1].retained_replay);
  f.publish(p, "k", Json::array({4}), nullptr, opts(kRetain, true));  // retained, id ≥ after
  REQUIRE(sub.events.size() == 4);
  CHECK_FALSE(sub.events[2].retained_replay);
  CHECK(sub.events[3].retained_replay);
  CHECK(value_of(sub.events[3]) == Json(4));
  CHECK(f.env.active_timers() == 0);
}

TEST_CASE("retained replay with after is skipped on timeout and the subscription stays live") {
  Fixture f;
  KvOptions o;
  o.retained_wait_ms = 50;
  f.router.set_kv_options(o);
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  f.publish(p, "k", Json::array({1}), nullptr, opts(kRetain));
  subscribe_with(f, s, sub, "k", Json{{"retained", true}, {"after", 1000000}});
  CHECK(sub.events.empty());
  f.env.advance(49);
  CHECK(f.env.active_timers() == 1);
  f.env.advance(1);
  CHECK(f.env.active_timers() == 0);
  CHECK(sub.events.empty());
  CHECK(sub.revoked.empty());
  f.publish(p, "k", Json::array({2}));
  REQUIRE(sub.events.size() == 1);
  CHECK_FALSE(sub.events[0].retained_replay);
}

TEST_CASE("a snapshot with after and retained ends after the timeout when the id never comes") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  f.publish(p, "k", Json::array({1}), nullptr, opts(kRetain));
  subscribe_with(f, s, sub, "k", Json{{"retained", true}, {"after", 1000000}, {"snapshot", true}});
  f.publish(p, "k", Json::array({2}));
  CHECK(sub.events.empty());  // a snapshot gets no live events
  f.env.advance(30000);
  CHECK(sub.revoked.size() == 1);
}

TEST_CASE("MQTT payload bytes are replayed byte for byte") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub, "", "anonymous", "mqtt"), s = f.join(sub, "", "anonymous", "mqtt");
  const std::string bytes("\x00\x01\xff{\"a\":1}", 10);
  publish_mqtt(f, p, "bin", bytes, true);
  const std::string json = "{ \"b\" : 2 }";
  publish_mqtt(f, p, "json", json, true);
  subscribe_with(f, s, sub, "#", Json{{"retained", true}});
  auto replay = retained_events(sub);
  REQUIRE(replay.size() == 2);
  CHECK(*replay[0].publication->payload == bytes);
  CHECK(*replay[1].publication->payload == json);
}

TEST_CASE("WAMP args and kwargs of a retained value are replayed unchanged") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  f.publish(p, "k", Json::parse("[[1,2],null]"), Json{{"x", 1}}, opts(kRetain));
  subscribe_with(f, s, sub, "k", Json{{"retained", true}});
  REQUIRE(sub.events.size() == 1);
  CHECK(sub.events[0].publication->args.dump() == "[[1,2],null]");
  CHECK(sub.events[0].publication->kwargs == Json{{"x", 1}});
}

TEST_CASE("live events of a plain subscription stay one shared publication for all subscribers") {
  Fixture f;
  FakePeer pub, a, b;
  Id p = f.join(pub), sa = f.join(a), sb = f.join(b);
  subscribe_with(f, sa, a, "k", Json{{"retained", true}});
  f.subscribe(sb, b, "k");
  f.publish(p, "k", Json::array({1}), nullptr, opts(kRetain));
  REQUIRE(a.events.size() == 1);
  REQUIRE(b.events.size() == 1);
  CHECK(a.events[0].publication.get() == b.events[0].publication.get());
}

TEST_CASE("a testament is published when the session leaves and flush_testaments clears it") {
  Fixture f;
  FakePeer a, b, sub;
  Id sa = f.join(a), sb = f.join(b), ss = f.join(sub);
  f.subscribe(ss, sub, "gone");
  f.call(sa, "wamp.session.add_testament", Json::array({"gone", Json::array({"a"}), Json{{"k", 1}}}),
         Json{{"publish_options", Json{{"retain", true}}}});
  REQUIRE(a.results.size() == 1);
  CHECK(a.results[0].second.args.is_null());
  f.call(sb, "wamp.session.add_testament", Json::array({"gone", Json::array({"b"})}));
  f.call(sb, "wamp.session.flush_testaments");
  CHECK(b.results.size() == 2);
  f.realm->leave(sb);
  CHECK(sub.events_on("gone").empty());
  f.realm->leave(sa);
  auto events = sub.events_on("gone");
  REQUIRE(events.size() == 1);
  CHECK(events[0].publication->args == Json::array({"a"}));
  CHECK(events[0].publication->kwargs == Json{{"k", 1}});
  CHECK(current(f, "gone") == Json("a"));
}

TEST_CASE("add_testament checks its arguments") {
  Fixture f;
  FakePeer a;
  Id sa = f.join(a);
  f.call(sa, "wamp.session.add_testament", Json::array({42}));
  f.call(sa, "wamp.session.add_testament", Json::array({"a.*"}));
  f.call(sa, "wamp.session.add_testament", Json::array({"a", "not a list"}));
  REQUIRE(a.errors.size() == 3);
  CHECK(a.errors[0].error.uri == "wamp.error.invalid_argument");
  CHECK(a.errors[1].error.uri == "wamp.error.invalid_uri");
  CHECK(a.errors[2].error.uri == "wamp.error.invalid_argument");
}

TEST_CASE("one session can keep at most a bounded number of publications waiting") {
  Fixture f;
  FakePeer holder, waiter;
  Id h = f.join(holder), w = f.join(waiter);
  f.publish(h, "lock", Json::array({"held"}), nullptr, opts(kRetain));
  const Json wait = Json{{"retain", true}, {"when", nullptr}, {"watch", true}};
  for (int i = 0; i < 1000; ++i) f.publish(w, "lock", Json::array({i}), nullptr, opts(wait, true));
  CHECK(waiter.errors.empty());
  f.publish(w, "lock", Json::array({"one more"}), nullptr, opts(wait, true));
  REQUIRE(waiter.errors.size() == 1);
  CHECK(waiter.errors[0].error.uri == "wamp.error.invalid_argument");
  f.realm->leave(w);  // its waiters go; a new session may wait again
  FakePeer again;
  Id a = f.join(again);
  f.publish(a, "lock", Json::array({"x"}), nullptr, opts(wait, true));
  CHECK(again.errors.empty());
}

TEST_CASE("a snapshot of a topic the session already subscribes to is a subscription of its own and the live one stays") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  const Id live = subscribe_with(f, s, sub, "live.t", Json::object());
  const Id snapshot = subscribe_with(f, s, sub, "live.t", Json{{"retained", true}, {"snapshot", true}});
  CHECK(sub.errors.empty());
  CHECK(snapshot != live);
  REQUIRE(sub.revoked.size() == 1);
  CHECK(sub.revoked[0].first == snapshot);
  f.publish(p, "live.t", Json::array({1}));
  REQUIRE(sub.events.size() == 1);
  CHECK(sub.events[0].subscription == live);
}

TEST_CASE("a replay that reaches the wait for `after` while its peer is congested still times out and ends its snapshot") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  f.publish(p, "k", Json::array({1}), nullptr, opts(kRetain, true));
  f.publish(p, "k", Json::array({2}), nullptr, opts(Json::object(), true));
  f.publish(p, "k", Json::array({3}), nullptr, opts(Json::object(), true));
  const Id first = pub.published[0].second;
  sub.events.clear();
  sub.congested_at = 1;   // congested after the first replayed event
  subscribe_with(f, s, sub, "k", Json{{"after", first + 1}, {"retained", true}, {"snapshot", true}});
  CHECK(f.env.active_timers() == 1);   // the bounded wait for `after` is armed anyway
  f.env.advance(KvOptions{}.retained_wait_ms);
  REQUIRE(sub.revoked.size() == 1);
  CHECK(sub.revoked[0].second == "fox.snapshot.complete");
}

TEST_CASE("a history replay overtaken by retention revokes its subscription instead of losing events silently") {
  Fixture f{4};   // a history of 4 publications
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  sub.congested_ = true;   // the replay cannot start
  const Id id = subscribe_with(f, s, sub, "t", Json{{"after", 0}});
  for (int i = 1; i <= 10; ++i) f.publish(p, "t", Json::array({i}));   // muted: the replay owes them
  sub.congested_ = false;
  f.realm->drained(s);
  REQUIRE(sub.revoked.size() == 1);
  CHECK(sub.revoked[0] == std::make_pair(id, std::string("fox.history.overrun")));
  f.publish(p, "t", Json::array({11}));
  CHECK(live_events(sub, "t").empty());
}

TEST_CASE("subscribing again restarts the replay of the subscription: each event once, in order") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  for (int i = 1; i <= 3; ++i) f.publish(p, "t", Json::array({i}));
  sub.congested_ = true;
  subscribe_with(f, s, sub, "t", Json{{"after", 0}});
  subscribe_with(f, s, sub, "t", Json{{"after", 0}});   // the same subscription, replay restarted
  sub.congested_ = false;
  sub.congested_at = 3;
  f.realm->drained(s);
  f.publish(p, "t", Json::array({4}));
  sub.congested_at = SIZE_MAX;
  f.realm->drained(s);
  std::vector<Json> got;
  for (const auto& e : sub.events_on("t")) got.push_back(value_of(e));
  CHECK(got == std::vector<Json>{1, 2, 3, 4});
}

TEST_CASE("re-subscribing while congested keeps one replay per subscription") {
  Fixture f;
  FakePeer pub, sub;
  Id p = f.join(pub), s = f.join(sub);
  f.publish(p, "k", Json::array({1}), nullptr, opts(kRetain));
  sub.congested_ = true;
  for (int i = 0; i < 1000; ++i) subscribe_with(f, s, sub, "k", Json{{"retained", true}});
  sub.congested_ = false;
  f.realm->drained(s);
  CHECK(retained_events(sub).size() == 1);
}

TEST_CASE("a leaving session's wills and testaments are all published before the waiters they release") {
  Fixture f;
  FakePeer a, b, obs;
  Id ia = f.join(a), ib = f.join(b), io = f.join(obs);
  f.subscribe(io, obs, "lock");
  f.subscribe(io, obs, "log");
  f.publish(ia, "lock", Json::array({"a"}), nullptr, opts({{"retain", true}, {"will", nullptr}}));
  f.publish(ib, "lock", Json::array({"b"}), nullptr,
            opts({{"retain", true}, {"when", nullptr}, {"watch", true}}));
  for (int i = 1; i <= 2; ++i) {
    f.realm->call(ia, 900 + static_cast<Id>(i), split_topic("wamp.session.add_testament"),
                  Json::array({"log", Json::array({i})}), Json{{"publish_options", Json::object()}},
                  CallOptions{});
  }
  obs.events.clear();
  f.realm->leave(ia);
  std::vector<std::string> order;
  for (const auto& e : obs.events) {
    order.push_back(e.publication->uri + "=" +
                    (e.publication->args.is_null() ? "null" : e.publication->args.dump()));
  }
  CHECK(order == std::vector<std::string>{"lock=null", "log=[1]", "log=[2]", "lock=[\"b\"]"});
}
