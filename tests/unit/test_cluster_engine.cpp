// store/cluster_engine: a publication as the cluster carries it, and back.
#include <doctest/doctest.h>

#include "router_fakes.hpp"
#include "cluster/sync_fsm.hpp"
#include "store/cluster_engine.hpp"

using namespace fox;

namespace {

Publication mqtt_publication() {
  Publication p;
  p.topic = {"a", "b"};
  p.payload = std::string("\x01\x02", 2);
  p.qos = 1;
  p.retain = true;
  p.publisher = 42;
  p.publisher_authid = "sensor";
  return p;
}

}  // namespace

TEST_CASE("cluster engine: a publication survives the trip as an event, in memory and over a link") {
  Publication p = mqtt_publication();
  cluster::ClusterEvent e = store::to_cluster_event("N1", p, nullptr);
  e.realm = "realm1";
  e.id = 7;
  // In memory (the ndb of the same node pushes the events it holds, never encoded): the qos
  // must come back too (it did not: a signed integer was not read, and MQTT delivered QoS 0).
  for (bool over_the_wire : {false, true}) {
    cluster::ClusterEvent x = e;
    if (over_the_wire) {
      std::string error;
      REQUIRE(cluster::event_from_json(Json::from_msgpack(Json::to_msgpack(cluster::event_to_json(e, true))), &x, &error));
    }
    PublicationPtr back = store::from_cluster_event(x);
    CHECK(back->qos == 1);
    CHECK(back->retain);
    CHECK(back->payload == p.payload);
    CHECK(back->topic == p.topic);
    CHECK(back->uri == "a.b");
    CHECK(back->id == 7);
    CHECK(back->publisher == 42);
    CHECK(back->publisher_authid == "sensor");
  }
}

TEST_CASE("cluster engine: the publisher's session lists apply only on its own node") {
  Publication p = mqtt_publication();
  PublishOptions o;
  o.exclude_me = true;
  o.exclude = {5};
  o.has_eligible_authrole = true;
  o.eligible_authrole = {"reader"};
  cluster::ClusterEvent e = store::to_cluster_event("N1", p, &o);
  PublishOptions here = store::audience_on("N1", e);
  CHECK(here.exclude_me);
  CHECK(here.exclude == std::vector<Id>{5});
  CHECK(here.has_eligible_authrole);
  PublishOptions there = store::audience_on("N2", e);
  CHECK_FALSE(there.exclude_me);   // session 42 on N2 is someone else
  CHECK(there.exclude.empty());
  CHECK(there.eligible_authrole == std::vector<std::string>{"reader"});
}

namespace {

struct NullOutbox final : fox::cluster::EntryOutbox {
  void to_ndb(const std::string&, const fox::cluster::Message&) override {}
  void to_sync(const std::string&, const fox::cluster::Message&) override {}
};

}  // namespace

TEST_CASE("cluster engine: a restarted entry serves only once it applied the history up to the head") {
  using namespace fox::cluster;
  fox::test::FakeEnv env;
  fox::store::ClusterEngine engine("E1", 100);
  fox::Router router(env, engine);
  NullOutbox out;
  EntryConfig c;
  c.name = "E1";
  c.ndbs = {"D1"};
  c.syncs = {"S1"};
  c.sync_quorum = 1;
  c.storage_quorum = 1;
  c.backfill = kMaxEventId;
  Entry entry(c, out, engine);
  engine.attach(&entry, &router);
  int served = 0;
  engine.on_ready([&] { ++served; });
  std::string error;
  REQUIRE(entry.on_message("S1", InitEntryAccepted{"S1", "E1", 0, 3}, &error));
  CHECK(entry.ready());
  CHECK(served == 0);   // accepted, but ids 1..3 came before it and are not applied yet
  History h;
  h.from = 1;
  h.upto = 3;
  for (Id id = 1; id <= 3; ++id) {
    ClusterEvent e;
    e.realm = "realm1";
    e.uri = {"k"};
    e.data = fox::Json{{"args", fox::Json::array({static_cast<int>(id)})}};
    e.opt = fox::Json{{"n", "E2"}, {"r", true}, {"kv", fox::Json{{"i", 1}, {"o", fox::Json{{"retain", true}}}}}};
    e.id = id;
    h.events.push_back(e);
  }
  REQUIRE(entry.on_message("D1", h, &error));
  CHECK(served == 1);
  CHECK(entry.delivered() == 3);
}
