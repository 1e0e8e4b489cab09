// Retained state on a cluster (router/publish.cpp: propose, apply_committed, settle): a fake log
// that delivers itself lets a test commit, refuse and interleave proposals as a cluster would.
#include <doctest/doctest.h>

#include <set>

#include "router_fakes.hpp"

using namespace fox;
using namespace fox::test;

namespace {

// A log that delivers itself (as store::ClusterEngine): what is appended waits until the test
// commits it (its id, then Realm::apply_committed) or refuses it (durable, not ok).
class FakeClusterLog final : public Engine, public EventLog {
public:
  struct Entry {
    std::string realm;
    Publication pub;
    PublishOptions audience;
    KvTag tag;
    DurableFn fn;
    bool done = false;
  };

  EventLog& log() override { return *this; }
  std::unique_ptr<RetainedState> retained(const std::string& realm) override {
    return memory.retained(realm);
  }
  WillStore* wills() override { return nullptr; }
  Appended append(const std::string& realm, Publication&& publication) override {
    entries.push_back(Entry{realm, std::move(publication), {}, {}, nullptr, false});
    Appended a;
    a.ticket = entries.size();
    return a;
  }
  void audience(const Appended& a, const PublishOptions& options, const KvTag* kv) override {
    entries[a.ticket - 1].audience = options;
    if (kv) entries[a.ticket - 1].tag = *kv;
  }
  void on_durable(const Appended& a, DurableFn fn) override { entries[a.ticket - 1].fn = std::move(fn); }
  bool durable_at_once() const override { return false; }
  bool delivers_itself() const override { return true; }
  std::string node_name() const override { return "A"; }
  std::uint64_t instance() const override { return 1; }
  bool node_lost(const std::string& node) const override { return lost.count(node) != 0; }
  void forget_durable_callbacks() override {}
  Id durable_id() const override { return last_id; }
  Id evicted_upto(const std::string&) const override { return 0; }
  ScanPage<Id> scan(const std::string& realm, Id after, Id upto, PatternMatcher& p) override {
    return memory.scan(realm, after, upto, p);
  }

  // Entry `n` (1-based) is committed: acknowledged (in order, as a cluster does), then applied.
  void commit(Router& router, std::size_t n) {
    Entry& e = entries.at(n - 1);
    REQUIRE_FALSE(e.done);
    e.done = true;
    Publication pub = e.pub;
    pub.id = ++last_id;
    auto live = std::make_shared<const Publication>(std::move(pub));
    if (e.fn) e.fn(nullptr, true);
    CommitOrigin origin;
    origin.here = true;
    origin.node = "A";
    origin.instance = 1;
    origin.kv = e.tag;
    router.realm(e.realm, nullptr)->apply_committed(live, e.audience, origin);
  }
  // Entry `n` is refused by the cluster (backpressure, not ready).
  void refuse(std::size_t n) {
    Entry& e = entries.at(n - 1);
    e.done = true;
    if (e.fn) e.fn(nullptr, false);
  }
  // A retained write (or, with `options`, any tagged event) committed by another node.
  void foreign(Router& router, const std::string& uri, Json args,
               Json options = Json{{"retain", true}}) {
    Publication pub;
    pub.topic = wamp_topic_parts(uri);
    pub.uri = uri;
    pub.args = std::move(args);
    pub.publisher = 77;
    pub.id = ++last_id;
    CommitOrigin origin;
    origin.node = "B";
    origin.instance = 9;
    origin.kv.options = std::move(options);
    router.realm("realm1", nullptr)->apply_committed(std::make_shared<const Publication>(std::move(pub)),
                                                     PublishOptions{}, origin);
  }

  store::MemoryEngine memory;
  std::set<std::string> lost;
  std::vector<Entry> entries;
  Id last_id = 0;
};

struct ClusterFixture {
  FakeEnv env;
  FakeClusterLog log;
  Router router{env, log};
  Realm* realm = router.realm("realm1", nullptr);
  Id request = 0;

  Id join(FakePeer& peer) {
    SessionInfo info;
    info.transport = "websocket";
    return realm->join(peer, info);
  }
  // Publishes to `uri` with KV options `raw` (null args: a delete); returns the request.
  Id publish(Id session, const std::string& uri, Json args, Json raw) {
    Publication pub;
    pub.topic = wamp_topic_parts(uri);
    pub.uri = uri;
    pub.args = std::move(args);
    PublishOptions o;
    o.acknowledge = true;
    o.raw = std::move(raw);
    realm->publish(session, ++request, std::move(pub), o);
    return request;
  }
  // The sessions whose publications were appended, in order, from entry `from` (1-based) on.
  std::vector<Id> proposed_by(std::size_t from) const {
    std::vector<Id> out;
    for (std::size_t i = from - 1; i < log.entries.size(); ++i) out.push_back(log.entries[i].pub.publisher);
    return out;
  }
};

const Json kTake = Json{{"retain", true}, {"when", nullptr}, {"watch", true}};
const Json kWrite = Json{{"retain", true}};

}  // namespace

TEST_CASE("cluster kv: a re-proposed waiter the cluster refused lets the key's next waiter go") {
  ClusterFixture f;
  FakePeer p1, p2, p3;
  Id s1 = f.join(p1), s2 = f.join(p2), s3 = f.join(p3);
  f.publish(s1, "k", Json::array({"x"}), kWrite);
  f.log.commit(f.router, 1);
  f.publish(s2, "k", Json::array({"two"}), kTake);   // waits here: k holds x
  f.publish(s3, "k", Json::array({"three"}), kTake);
  CHECK(f.log.entries.size() == 1);
  f.publish(s1, "k", nullptr, kWrite);   // k cleared
  f.log.commit(f.router, 2);
  REQUIRE(f.proposed_by(3) == std::vector<Id>{s2});   // the first waiter, alone
  f.log.refuse(3);
  REQUIRE(p2.errors.size() == 1);
  CHECK(p2.errors[0].error.uri == "wamp.error.runtime_error");
  // The key is no longer in flight: the next waiter is proposed.
  REQUIRE(f.proposed_by(4) == std::vector<Id>{s3});
  f.log.commit(f.router, 4);
  REQUIRE(p3.published.size() == 1);
}

TEST_CASE("cluster kv: a re-proposed waiter whose session left and whose `when` failed at commit "
          "releases the key") {
  ClusterFixture f;
  FakePeer p1, p2, p3;
  Id s1 = f.join(p1), s2 = f.join(p2), s3 = f.join(p3);
  f.publish(s1, "k", Json::array({"x"}), kWrite);
  f.log.commit(f.router, 1);
  f.publish(s2, "k", Json::array({"two"}), Json{{"retain", true}, {"when", "y"}, {"watch", true}});
  f.publish(s3, "k", Json::array({"three"}), kTake);
  f.log.foreign(f.router, "k", Json::array({"y"}));   // s2's condition holds: proposed
  REQUIRE(f.proposed_by(2) == std::vector<Id>{s2});
  f.log.foreign(f.router, "k", nullptr);   // k cleared: s3 would be ready, but k is in flight
  CHECK(f.log.entries.size() == 2);
  f.realm->leave(s2);
  f.log.commit(f.router, 2);   // `when: "y"` fails now; nobody to put back in line
  REQUIRE(f.proposed_by(3) == std::vector<Id>{s3});
}

TEST_CASE("cluster kv: another write of this node on the key does not release a waiter in flight") {
  ClusterFixture f;
  FakePeer p1, p2, p3, p4;
  Id s1 = f.join(p1), s2 = f.join(p2), s3 = f.join(p3), s4 = f.join(p4);
  f.publish(s1, "k", Json::array({"x"}), kWrite);
  f.log.commit(f.router, 1);
  f.publish(s2, "k", Json::array({"two"}), kTake);
  f.publish(s3, "k", Json::array({"three"}), kTake);
  f.publish(s1, "k", nullptr, kWrite);
  f.log.commit(f.router, 2);
  REQUIRE(f.proposed_by(3) == std::vector<Id>{s2});   // entry 3: s2 in flight
  f.publish(s4, "k", nullptr, kWrite);                  // entry 4: a plain delete
  f.log.commit(f.router, 4);
  // s2 is still in flight: s3 is not proposed beside it (FIFO per entry, one at a time).
  CHECK(f.log.entries.size() == 4);
  f.log.commit(f.router, 3);
  REQUIRE(p2.published.size() == 1);
  CHECK(f.log.entries.size() == 4);   // k holds s2's value now: s3 keeps waiting
  f.publish(s2, "k", nullptr, kWrite);
  f.log.commit(f.router, 5);
  REQUIRE(f.proposed_by(6) == std::vector<Id>{s3});
}

TEST_CASE("cluster kv: an orphan publication proposes no `watch` or `will` of its raw options") {
  ClusterFixture f;
  Publication pub;
  pub.topic = wamp_topic_parts("k");
  pub.uri = "k";
  pub.args = Json::array({"v"});
  PublishOptions o;
  o.raw = Json{{"retain", true}, {"watch", true}, {"will", nullptr}, {"when", nullptr}};
  f.realm->publish_orphan(std::move(pub), o);
  REQUIRE(f.log.entries.size() == 1);
  const Json& tag = f.log.entries[0].tag.options;
  CHECK(tag.contains("retain"));
  CHECK(tag.contains("when"));
  CHECK_FALSE(tag.contains("watch"));
  CHECK_FALSE(tag.contains("will"));
}

TEST_CASE("cluster kv: last words of a lost node are published by the nodes left, once") {
  ClusterFixture f;
  FakePeer watcher;
  Id sw = f.join(watcher);
  SubscribeOptions so;
  so.match = MatchPolicy::kPrefix;
  REQUIRE(f.realm->subscribe(sw, wamp_topic_parts("lw"), so).ok());
  const Json keep = Json{{"lw", Json{{"op", "keep"}, {"t", 1}, {"o", Json::object()}}}};
  f.log.foreign(f.router, "lw.gone", Json::array({"B's session is gone"}), keep);
  f.log.foreign(f.router, "lw.dropped", Json::array({"never"}),
                Json{{"lw", Json{{"op", "keep"}, {"t", 2}, {"o", Json::object()}}}});
  f.log.foreign(f.router, "fox.last_words", nullptr, Json{{"lw", Json{{"op", "drop"}, {"t", 2}}}});
  CHECK(watcher.events.empty());   // keeping them delivers nothing
  f.router.check_wills(f.env.now_ms());
  CHECK(f.log.entries.empty());    // B is not lost
  f.log.lost.insert("B");
  f.router.check_wills(f.env.now_ms());
  REQUIRE(f.log.entries.size() == 1);   // the dropped one is not fired
  f.router.check_wills(f.env.now_ms() + 100);
  CHECK(f.log.entries.size() == 1);     // proposed once (again only after 5 s)
  f.log.commit(f.router, 1);
  REQUIRE(watcher.events.size() == 1);
  CHECK(watcher.events[0].publication->uri == "lw.gone");
  CHECK(watcher.events[0].publication->args == Json::array({"B's session is gone"}));
  // Another node's firing of the same committed later: no effect, not delivered.
  f.log.foreign(f.router, "lw.gone", Json::array({"B's session is gone"}),
                Json{{"lw", Json{{"op", "fire"}, {"of", 1}}}});
  CHECK(watcher.events.size() == 1);
  f.router.check_wills(f.env.now_ms() + 10000);
  CHECK(f.log.entries.size() == 1);
}

TEST_CASE("cluster kv: a testament is kept as last words, dropped when its session publishes it") {
  ClusterFixture f;
  FakePeer p1;
  Id s1 = f.join(p1);
  f.realm->call(s1, 1, wamp_topic_parts("wamp.session.add_testament"),
                Json::array({"lw.testament", Json::array({"bye"})}), Json::object(), CallOptions{});
  REQUIRE(p1.results.size() == 1);
  REQUIRE(f.log.entries.size() == 1);
  CHECK(f.log.entries[0].tag.options["lw"]["op"] == "keep");
  f.log.commit(f.router, 1);
  f.realm->leave(s1);
  // Dropped, then published by this node itself (the same segment).
  REQUIRE(f.log.entries.size() == 3);
  CHECK(f.log.entries[1].tag.options["lw"]["op"] == "drop");
  CHECK(f.log.entries[2].pub.uri == "lw.testament");
  CHECK_FALSE(f.log.entries[2].tag.options.contains("lw"));
}

TEST_CASE("cluster kv: last words keep only the retained effect of their options") {
  ClusterFixture f;
  FakePeer p1;
  Id s1 = f.join(p1);
  f.realm->call(s1, 1, wamp_topic_parts("wamp.session.add_testament"),
                Json::array({"lw.t", Json::array({"bye"})}),
                Json{{"publish_options", Json{{"retain", true},
                                              {"lw", Json{{"op", "fire"}, {"of", 1}}},
                                              {"exclude_me", false}}}},
                CallOptions{});
  REQUIRE(f.log.entries.size() == 1);
  CHECK(f.log.entries[0].tag.options["lw"]["o"] == Json{{"retain", true}});
  // A fire whose kept options name last words again (another node's malformed event) publishes
  // once and is not read as last words a second time.
  FakePeer watcher;
  Id sw = f.join(watcher);
  SubscribeOptions so;
  REQUIRE(f.realm->subscribe(sw, wamp_topic_parts("lw.x"), so).ok());
  f.log.foreign(f.router, "lw.x", Json::array({1}),
                Json{{"lw", Json{{"op", "keep"}, {"t", 5}, {"o", Json{{"lw", Json{{"op", 7}}}}}}}});
  const Id kept = f.log.last_id;
  f.log.foreign(f.router, "lw.x", Json::array({1}), Json{{"lw", Json{{"op", "fire"}, {"of", kept}}}});
  CHECK(watcher.events.size() == 1);
}

TEST_CASE("cluster kv: a session whose will the cluster fired (its node judged lost) is ended") {
  ClusterFixture f;
  FakePeer holder;
  Id sh = f.join(holder);
  f.publish(sh, "lock", Json::array({"mine"}),
            Json{{"retain", true}, {"when", nullptr}, {"watch", true}, {"will", nullptr}});
  f.log.commit(f.router, 1);
  REQUIRE(holder.published.size() == 1);
  // Another node fires the will of event 1 (it judged this node lost).
  f.log.foreign(f.router, "lock", nullptr, Json{{"retain", true}});   // not a firing: a write
  CHECK(holder.kicked.empty());
  FakePeer holder2;
  Id sh2 = f.join(holder2);
  f.publish(sh2, "lock", Json::array({"again"}),
            Json{{"retain", true}, {"when", nullptr}, {"will", nullptr}});
  f.log.commit(f.router, 2);
  REQUIRE(holder2.published.size() == 1);
  const Id registration = f.log.last_id;
  Publication fire;
  fire.topic = wamp_topic_parts("lock");
  fire.uri = "lock";
  fire.publisher = sh2;
  fire.id = ++f.log.last_id;
  CommitOrigin origin;
  origin.node = "B";
  origin.instance = 9;
  origin.kv.will_fire = registration;
  origin.kv.options = Json{{"retain", true}};
  f.realm->apply_committed(std::make_shared<const Publication>(std::move(fire)), PublishOptions{}, origin);
  CHECK(holder2.kicked.empty());   // on the next turn, not inside the realm's call
  f.env.advance(0);
  REQUIRE(holder2.kicked.size() == 1);
  CHECK(holder2.kicked[0] == "fox.close.will_fired");
}
