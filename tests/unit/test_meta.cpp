#include <doctest/doctest.h>

#include <algorithm>

#include "router_fakes.hpp"

using namespace fox;
using namespace fox::test;

namespace {

// Calls a meta procedure and returns its single positional result (or the error uri).
Json meta(Fixture& f, Id session, FakePeer& peer, const std::string& uri, Json args = nullptr) {
  std::size_t results = peer.results.size(), errors = peer.errors.size();
  f.call(session, uri, std::move(args));
  if (peer.errors.size() > errors) return Json{{"error", peer.errors.back().error.uri}};
  REQUIRE(peer.results.size() == results + 1);
  const Json& out = peer.results.back().second.args;
  REQUIRE(out.is_array());
  REQUIRE(out.size() == 1);
  return out[0];
}

}  // namespace

TEST_CASE("wamp.session.count and list give the sessions of the realm") {
  Fixture f;
  FakePeer a, b;
  Id sa = f.join(a, "ann", "admin"), sb = f.join(b, "bob", "user");
  CHECK(meta(f, sa, a, "wamp.session.count") == 2);
  Json ids = meta(f, sa, a, "wamp.session.list");
  std::vector<Id> list = ids.get<std::vector<Id>>();
  std::sort(list.begin(), list.end());
  std::vector<Id> expected{sa, sb};
  std::sort(expected.begin(), expected.end());
  CHECK(list == expected);
}

TEST_CASE("wamp.session.count and list filter by authrole") {
  Fixture f;
  FakePeer a, b;
  Id sa = f.join(a, "ann", "admin");
  Id sb = f.join(b, "bob", "user");
  CHECK(meta(f, sa, a, "wamp.session.count", Json::parse(R"([["user"]])")) == 1);
  CHECK(meta(f, sa, a, "wamp.session.list", Json::parse(R"([["user"]])")) == Json::array({sb}));
}

TEST_CASE("wamp.session.get gives the session details") {
  Fixture f;
  FakePeer a;
  Id sa = f.join(a, "ann", "admin");
  Json details = meta(f, sa, a, "wamp.session.get", Json::array({sa}));
  CHECK(details["session"] == sa);
  CHECK(details["authid"] == "ann");
  CHECK(details["authrole"] == "admin");
  CHECK(details["authmethod"] == "anonymous");
  CHECK(details["authprovider"] == "static");
  CHECK(details["transport"]["type"] == "websocket");
}

TEST_CASE("wamp.session.get of an unknown session is no_such_session") {
  Fixture f;
  FakePeer a;
  Id sa = f.join(a);
  CHECK(meta(f, sa, a, "wamp.session.get", Json::array({12345}))["error"] ==
        "wamp.error.no_such_session");
  CHECK(meta(f, sa, a, "wamp.session.get", Json::array({"x"}))["error"] ==
        "wamp.error.invalid_argument");
}

TEST_CASE("session join and leave are published as meta events") {
  Fixture f;
  FakePeer watcher, joiner;
  Id sw = f.join(watcher);
  f.subscribe(sw, watcher, "wamp.session.on_join");
  f.subscribe(sw, watcher, "wamp.session.on_leave");
  Id sj = f.join(joiner, "joe", "user");
  f.realm->leave(sj);
  auto joins = watcher.events_on("wamp.session.on_join");
  REQUIRE(joins.size() == 1);
  const Json& details = joins[0].publication->args[0];
  CHECK(details["session"] == sj);
  CHECK(details["authid"] == "joe");
  CHECK(joins[0].publication->publisher == 0);
  auto leaves = watcher.events_on("wamp.session.on_leave");
  REQUIRE(leaves.size() == 1);
  CHECK(leaves[0].publication->args == Json::array({sj, "joe", "user"}));
}

TEST_CASE("subscription meta events follow create subscribe unsubscribe delete") {
  Fixture f;
  FakePeer watcher, sub;
  Id sw = f.join(watcher), ss = f.join(sub);
  f.subscribe(sw, watcher, "wamp.subscription.", MatchPolicy::kPrefix);
  watcher.events.clear();  // the events about the watcher's own subscription
  Id id = f.subscribe(ss, sub, "app.t");
  f.unsubscribe(ss, 9, id);
  std::vector<std::string> seen;
  for (const auto& e : watcher.events) seen.push_back(e.publication->uri);
  CHECK(seen == std::vector<std::string>{"wamp.subscription.on_create", "wamp.subscription.on_subscribe",
                                         "wamp.subscription.on_unsubscribe",
                                         "wamp.subscription.on_delete"});
  const Json& created = watcher.events[0].publication->args;
  CHECK(created[0] == ss);
  CHECK(created[1]["id"] == id);
  CHECK(created[1]["uri"] == "app.t");
  CHECK(created[1]["match"] == "exact");
  CHECK(created[1]["created"].is_string());
  CHECK(watcher.events[1].publication->args == Json::array({ss, id}));
  CHECK(watcher.events[3].publication->args == Json::array({ss, id}));
}

TEST_CASE("registration meta events are published when a callee leaves") {
  Fixture f;
  FakePeer watcher, callee;
  Id sw = f.join(watcher), se = f.join(callee);
  f.subscribe(sw, watcher, "wamp.registration.", MatchPolicy::kPrefix);
  Id reg = f.register_procedure(se, callee, "app.p");
  f.realm->leave(se);
  std::vector<std::string> seen;
  for (const auto& e : watcher.events) seen.push_back(e.publication->uri);
  CHECK(seen == std::vector<std::string>{"wamp.registration.on_create", "wamp.registration.on_register",
                                         "wamp.registration.on_unregister",
                                         "wamp.registration.on_delete"});
  CHECK(watcher.events[0].publication->args[1]["invoke"] == "single");
  CHECK(watcher.events[2].publication->args == Json::array({se, reg}));
}

TEST_CASE("wamp.subscription list lookup match and get describe subscriptions") {
  Fixture f;
  FakePeer a, b;
  Id sa = f.join(a), sb = f.join(b);
  Id exact = f.subscribe(sa, a, "app.t");
  Id prefix = f.subscribe(sb, b, "app", MatchPolicy::kPrefix);
  Json lists = meta(f, sa, a, "wamp.subscription.list");
  CHECK(lists["exact"] == Json::array({exact}));
  CHECK(lists["prefix"] == Json::array({prefix}));
  CHECK(lists["wildcard"] == Json::array());
  CHECK(meta(f, sa, a, "wamp.subscription.lookup", Json::array({"app.t"})) == exact);
  CHECK(meta(f, sa, a, "wamp.subscription.lookup",
             Json::parse(R"(["app", {"match": "prefix"}])")) == prefix);
  CHECK(meta(f, sa, a, "wamp.subscription.lookup", Json::array({"nope"})).is_null());
  Json matching = meta(f, sa, a, "wamp.subscription.match", Json::array({"app.t"}));
  CHECK(matching.size() == 2);
  CHECK(meta(f, sa, a, "wamp.subscription.match", Json::array({"zzz"})).is_null());
  Json details = meta(f, sa, a, "wamp.subscription.get", Json::array({prefix}));
  CHECK(details["uri"] == "app");
  CHECK(details["match"] == "prefix");
  CHECK(meta(f, sa, a, "wamp.subscription.get", Json::array({424242}))["error"] ==
        "wamp.error.no_such_subscription");
}

TEST_CASE("wamp.subscription list_subscribers and count_subscribers give the sessions") {
  Fixture f;
  FakePeer a, b;
  Id sa = f.join(a), sb = f.join(b);
  Id id = f.subscribe(sa, a, "t");
  f.subscribe(sb, b, "t");
  CHECK(meta(f, sa, a, "wamp.subscription.list_subscribers", Json::array({id})) ==
        Json::array({sa, sb}));
  CHECK(meta(f, sa, a, "wamp.subscription.count_subscribers", Json::array({id})) == 2);
}

TEST_CASE("wamp.registration list lookup match get and callees describe registrations") {
  Fixture f;
  FakePeer caller, one, two;
  Id sc = f.join(caller), s1 = f.join(one), s2 = f.join(two);
  Id exact = f.register_procedure(s1, one, "app.p", [] {
    RegisterOptions o;
    o.invoke = InvokePolicy::kRoundRobin;
    return o;
  }());
  f.register_procedure(s2, two, "app.p", [] {
    RegisterOptions o;
    o.invoke = InvokePolicy::kRoundRobin;
    return o;
  }());
  Id wildcard = f.register_procedure(s1, one, "app..q", [] {
    RegisterOptions o;
    o.match = MatchPolicy::kWildcard;
    return o;
  }());
  Json lists = meta(f, sc, caller, "wamp.registration.list");
  CHECK(lists["exact"] == Json::array({exact}));
  CHECK(lists["wildcard"] == Json::array({wildcard}));
  CHECK(meta(f, sc, caller, "wamp.registration.lookup", Json::array({"app.p"})) == exact);
  CHECK(meta(f, sc, caller, "wamp.registration.match", Json::array({"app.x.q"})) == wildcard);
  CHECK(meta(f, sc, caller, "wamp.registration.match", Json::array({"none"})).is_null());
  Json details = meta(f, sc, caller, "wamp.registration.get", Json::array({exact}));
  CHECK(details["uri"] == "app.p");
  CHECK(details["invoke"] == "roundrobin");
  CHECK(details["match"] == "exact");
  CHECK(meta(f, sc, caller, "wamp.registration.list_callees", Json::array({exact})) ==
        Json::array({s1, s2}));
  CHECK(meta(f, sc, caller, "wamp.registration.count_callees", Json::array({exact})) == 2);
  CHECK(meta(f, sc, caller, "wamp.registration.get", Json::array({999}))["error"] ==
        "wamp.error.no_such_registration");
}

TEST_CASE("an unknown wamp procedure is no_such_procedure") {
  Fixture f;
  FakePeer a;
  Id sa = f.join(a);
  CHECK(meta(f, sa, a, "wamp.session.kill_all")["error"] == "wamp.error.no_such_procedure");
}

TEST_CASE("a realm name outside a-z 0-9 underscore and dot is no_such_realm") {
  FakeEnv env;
  store::MemoryEngine engine;
  Router router(env, engine);
  Error error;
  CHECK(router.realm("Realm1", &error) == nullptr);
  CHECK(error.uri == "wamp.error.no_such_realm");
  CHECK(router.realm("", &error) == nullptr);
  CHECK(router.realm("a-b", &error) == nullptr);
  Realm* realm = router.realm("my_realm.1", &error);
  REQUIRE(realm != nullptr);
  CHECK(router.realm("my_realm.1", &error) == realm);
}

TEST_CASE("allowed realms restrict names unless a star entry allows any") {
  FakeEnv env;
  store::MemoryEngine engine;
  Router router(env, engine);
  Error error;
  router.set_allowed_realms({"realm1"});
  CHECK(router.realm("realm1", &error) != nullptr);
  CHECK(router.realm("realm2", &error) == nullptr);
  CHECK(error.uri == "wamp.error.no_such_realm");
  router.set_allowed_realms({"realm1", "*"});
  CHECK(router.realm("realm2", &error) != nullptr);
  CHECK(router.realm("Bad", &error) == nullptr);
}

TEST_CASE("session ids are random in range and never collide") {
  FakeEnv env;
  env.randoms = {5, 5, kMaxId - 1, kMaxId};  // the second 5 collides and is retried
  store::MemoryEngine engine;
  Router router(env, engine);
  Realm* realm = router.realm("r", nullptr);
  FakePeer a, b, c;
  Id ia = realm->join(a, {});
  Id ib = realm->join(b, {});
  Id ic = realm->join(c, {});
  CHECK(ia == 6);
  CHECK(ib == kMaxId);
  CHECK(ic == 1);
  CHECK(realm->session_count() == 3);
  realm->leave(ib);
  CHECK(realm->session_count() == 2);
}

TEST_CASE("realms created on demand are bounded but configured realms are always allowed") {
  FakeEnv env;
  store::MemoryEngine engine;
  Router router(env, engine);
  router.set_allowed_realms({"*", "configured"});
  for (std::size_t i = 0; i < kMaxAutoRealms; ++i) {
    REQUIRE(router.realm("r" + std::to_string(i), nullptr) != nullptr);
  }
  Error error;
  CHECK(router.realm("one.too.many", &error) == nullptr);
  CHECK(error.uri == "wamp.error.no_such_realm");
  CHECK(router.realm("r7", nullptr) != nullptr);          // existing realms stay reachable
  CHECK(router.realm("configured", nullptr) != nullptr);  // listed in the config
  CHECK(router.realm(std::string(kMaxRealmNameLength + 1, 'a'), nullptr) == nullptr);
}
