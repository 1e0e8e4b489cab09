// The SQLite engine (store/): schema, reopen, id seeding, refusal of newer/corrupt files,
// retention in batches, `after` and retained replays, group commit with the router.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/topic.hpp"
#include "router_fakes.hpp"
#include "store/sqlite_store.hpp"

using namespace fox;
using namespace fox::test;
using fox::store::SqliteOptions;
using fox::store::SqliteStore;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/fox-store-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string db() const { return path + "/fox.db"; }
};

FakeEnv& test_env() {
  static FakeEnv env;
  return env;
}

std::unique_ptr<SqliteStore> open_store(const std::string& dir, std::string* error = nullptr,
                                        SqliteOptions options = {}, Env& env = test_env()) {
  options.dir = dir;
  std::string ignored;
  return SqliteStore::open(options, env, error ? error : &ignored);
}

Publication make_pub_value(const std::string& uri, Json args, bool retain = false) {
  Publication p;
  p.uri = uri;
  p.topic = split_topic(uri);
  p.args = std::move(args);
  p.retain = retain;
  p.publisher = 77;
  p.publisher_authid = "joe";
  p.options = Json{{"retain", retain}};
  return p;
}

PublicationPtr make_pub(Id id, const std::string& uri, Json args, bool retain = false) {
  Publication p = make_pub_value(uri, std::move(args), retain);
  p.id = id;
  return std::make_shared<const Publication>(std::move(p));
}

// Appends to the log (the store decides the id) and returns that id.
Id append(SqliteStore& store, const std::string& realm, const std::string& uri, Json args = nullptr) {
  return store.append(realm, make_pub_value(uri, std::move(args))).publication->id;
}

// Every publication of the realm after `after` that the pattern matches (all scan pages).
std::vector<PublicationPtr> history(SqliteStore& store, const std::string& realm, Id after,
                                    TopicParts pattern, MatchPolicy policy) {
  PatternMatcher matcher(std::move(pattern), policy);
  std::vector<PublicationPtr> out;
  while (true) {
    ScanPage<Id> page = store.scan(realm, after, kMaxId, matcher);
    out.insert(out.end(), page.publications.begin(), page.publications.end());
    if (page.done) return out;
    after = page.next;
  }
}

// Every retained value the pattern matches (all scan pages), in key order.
std::vector<PublicationPtr> match(RetainedState& retained, TopicParts pattern, MatchPolicy policy) {
  PatternMatcher matcher(std::move(pattern), policy);
  std::vector<PublicationPtr> out;
  std::string after;
  while (true) {
    ScanPage<std::string> page = retained.scan(matcher, after);
    out.insert(out.end(), page.publications.begin(), page.publications.end());
    if (page.done) return out;
    after = page.next;
  }
}

std::int64_t query_int(const std::string& file, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_open(file.c_str(), &db);
  sqlite3_stmt* s = nullptr;
  std::int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
    v = sqlite3_column_int64(s, 0);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

std::vector<std::string> uris(const std::vector<PublicationPtr>& pubs) {
  std::vector<std::string> out;
  for (const auto& p : pubs) out.push_back(p->uri);
  return out;
}

}  // namespace

TEST_CASE("store: creates the data directory, the schema, WAL mode") {
  TempDir dir;
  std::string sub = dir.path + "/nested/data";
  auto store = open_store(sub);
  REQUIRE(store);
  CHECK(store->path() == sub + "/fox.db");
  CHECK(std::filesystem::exists(sub + "/fox.db"));
  store.reset();  // releases the exclusive lock
  CHECK(query_int(sub + "/fox.db", "PRAGMA user_version") == store::kSchemaVersion);
  CHECK(query_int(sub + "/fox.db",
                  "SELECT count(*) FROM sqlite_master WHERE name IN ('history', 'retained', "
                  "'wills', 'mqtt_sessions', 'mqtt_messages', 'history_realm_id')") == 6);
}

TEST_CASE("store: reopen keeps retained values, history, wills and MQTT sessions") {
  TempDir dir;
  {
    auto store = open_store(dir.path);
    REQUIRE(store);
    auto retained = store->retained("realm1");
    auto v1 = make_pub(5, "a.b", Json::array({Json{{"x", 1}}}), true);
    retained->put("a.b", v1);
    Publication row = *v1;
    store->append("realm1", std::move(row));
    Publication mqtt;
    mqtt.id = 6;
    mqtt.topic = {"sensor", "t.1"};   // an MQTT level with a dot
    mqtt.uri = wamp_uri(mqtt.topic);   // "sensor.t%2E1", as the router makes it
    mqtt.payload = std::string("\x00\x01\xff", 3);
    mqtt.qos = 1;
    store->append("realm1", std::move(mqtt));
    StoredWill will;
    will.realm = "realm1";
    will.key = "lock.x";
    will.topic = {"lock", "x"};
    will.value = "free";
    will.owner = 42;
    store->put_will(will);
    store->save_session("realm1", "dev1", {{"cmd/#", 1}, {"cfg/+", 2}});
    mqtt::StoredMessage m;
    m.seq = 1;
    m.topic = "cmd/a";
    m.payload = "hello";
    m.qos = 1;
    store->save_message("realm1", "dev1", m);
    m.seq = 2;
    m.packet_id = 9;
    m.stage = 0;
    store->save_message("realm1", "dev1", m);
    store->flush();
  }
  auto store = open_store(dir.path);
  REQUIRE(store);
  auto retained = store->retained("realm1");
  auto value = retained->get("a.b");
  REQUIRE(value);
  CHECK(value->id == 5);
  CHECK(value->args == Json::array({Json{{"x", 1}}}));
  CHECK(value->publisher_authid == "joe");
  CHECK(value->options == Json{{"retain", true}});
  CHECK_FALSE(retained->get("a.c"));
  CHECK(store->retained("other")->get("a.b") == nullptr);  // realms are separate
  auto rows = history(*store, "realm1", 0, {kAnyParts}, MatchPolicy::kExact);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]->topic == TopicParts{"sensor", "t.1"});
  CHECK(rows[1]->payload == std::string("\x00\x01\xff", 3));
  CHECK(rows[1]->args.is_null());
  auto wills = store->load_wills();
  REQUIRE(wills.size() == 1);
  CHECK(wills[0].value == "free");
  CHECK(wills[0].owner == 42);
  auto sessions = store->load_sessions();
  REQUIRE(sessions.size() == 1);
  CHECK(sessions[0].client_id == "dev1");
  CHECK(sessions[0].subscriptions.size() == 2);
  REQUIRE(sessions[0].messages.size() == 2);
  CHECK(sessions[0].messages[0].packet_id == 0);
  CHECK(sessions[0].messages[1].packet_id == 9);
  CHECK(sessions[0].messages[1].payload == "hello");
}

TEST_CASE("store: ids are decided by the store, above every stored id, also after a crash") {
  TempDir dir;
  Id first = 0, last = 0;
  {
    auto store = open_store(dir.path);
    REQUIRE(store);
    first = store->first_id();
    CHECK(append(*store, "r", "a") == first);
    CHECK(append(*store, "q", "a") == first + 1);   // one sequence for every realm
    store->retained("r")->put("b", make_pub(first + 20, "b", Json::array({1})));
    store->flush();
  }
  {
    auto store = open_store(dir.path);
    REQUIRE(store);
    CHECK(store->first_id() > first + 20);
    CHECK(store->first_id() <= kMaxId);
    // Ids handed out in a turn whose rows a crash then loses are covered by the reservation
    // written ahead of them: they are never handed out again.
    for (int i = 0; i < 1000; ++i) last = append(*store, "r", "a");
    store->flush();
  }
  {
    sqlite3* db = nullptr;
    sqlite3_open(dir.db().c_str(), &db);
    sqlite3_exec(db, "DELETE FROM history; DELETE FROM retained", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  auto again = open_store(dir.path);
  REQUIRE(again);
  CHECK(again->first_id() > last);
  CHECK(append(*again, "r", "a") > last);
}

TEST_CASE("store: a database of a newer schema is refused") {
  TempDir dir;
  {
    sqlite3* db = nullptr;
    sqlite3_open(dir.db().c_str(), &db);
    sqlite3_exec(db, "PRAGMA user_version = 7", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  std::string error;
  CHECK_FALSE(open_store(dir.path, &error));
  CHECK(error.find(dir.db()) != std::string::npos);
  CHECK(error.find("newer") != std::string::npos);
}

TEST_CASE("store: a corrupt file is refused with its path") {
  TempDir dir;
  {
    std::ofstream out(dir.db(), std::ios::binary);
    for (int i = 0; i < 1000; ++i) out << "garbage ";
  }
  std::string error;
  CHECK_FALSE(open_store(dir.path, &error));
  CHECK(error.find(dir.db()) != std::string::npos);
  CHECK(error.find("not a database") != std::string::npos);
}

TEST_CASE("store: a second process on the same file is refused") {
  TempDir dir;
  auto first = open_store(dir.path);
  REQUIRE(first);
  std::string error;
  CHECK_FALSE(open_store(dir.path, &error));
  CHECK(error.find("another") != std::string::npos);
}

TEST_CASE("store: retention deletes the oldest rows in bounded batches") {
  TempDir dir;
  SqliteOptions options;
  options.history_max_rows = 100;
  options.retention_batch = 30;
  auto store = open_store(dir.path, nullptr, options);
  REQUIRE(store);
  std::vector<Id> ids;
  for (int i = 1; i <= 200; ++i) ids.push_back(append(*store, "r", "t"));
  append(*store, "q", "t");
  CHECK(store->history_rows("r") == 200);
  store->flush();   // one batch
  CHECK(store->history_rows("r") == 170);
  auto rows = history(*store, "r", 0, {"t"}, MatchPolicy::kExact);
  REQUIRE(rows.size() == 170);
  CHECK(rows.front()->id == ids[30]);   // the oldest went first
  for (int i = 0; i < 5; ++i) store->flush();
  CHECK(store->history_rows("r") == 100);
  CHECK(history(*store, "r", 0, {"t"}, MatchPolicy::kExact).front()->id == ids[100]);
  CHECK(store->history_rows("q") == 1);   // per realm

  SUBCASE("by age") {
    TempDir dir2;
    SqliteOptions aged;
    aged.history_max_age_s = 60;
    aged.retention_batch = 10;
    FakeEnv clock;
    auto s2 = open_store(dir2.path, nullptr, aged, clock);
    REQUIRE(s2);
    for (int i = 1; i <= 25; ++i) append(*s2, "r", "t");
    s2->flush();   // rows carry the time of their transaction (one clock read per loop turn)
    clock.advance(30'000);
    Id first_young = append(*s2, "r", "t");
    for (int i = 27; i <= 30; ++i) append(*s2, "r", "t");
    s2->flush();   // nothing old yet
    CHECK(s2->history_rows("r") == 30);
    clock.advance(40'000);  // the first 25 are 70 s old, the last 5 are 40 s old
    s2->flush();
    CHECK(s2->history_rows("r") == 20);  // one batch of 10
    s2->flush();
    s2->flush();
    CHECK(s2->history_rows("r") == 5);
    auto left = history(*s2, "r", 0, {"t"}, MatchPolicy::kExact);
    REQUIRE_FALSE(left.empty());
    CHECK(left.front()->id == first_young);
  }
}

TEST_CASE("store: `after` is pattern-aware and by id") {
  TempDir dir;
  auto store = open_store(dir.path);
  REQUIRE(store);
  Id first = append(*store, "r", "a.b.c", Json::array({1}));
  append(*store, "r", "a.x.c", Json::array({2}));
  append(*store, "r", "b.b.c", Json::array({3}));
  Id last = append(*store, "r", "a.b.c", Json::array({4}));
  append(*store, "other", "a.b.c");
  auto h = [&](Id after, TopicParts pattern, MatchPolicy policy) {
    return uris(history(*store, "r", after, std::move(pattern), policy));
  };
  CHECK(h(first, {"a", kAnyPart, "c"}, MatchPolicy::kExact) == std::vector<std::string>{"a.x.c", "a.b.c"});
  CHECK(h(0, {"a", "b", "c"}, MatchPolicy::kExact).size() == 2);
  CHECK(h(0, {"a", ""}, MatchPolicy::kWildcard).empty());
  CHECK(h(0, {"a", "", "c"}, MatchPolicy::kWildcard).size() == 3);
  CHECK(h(0, split_topic("a."), MatchPolicy::kPrefix).size() == 3);
  CHECK(h(last, {kAnyParts}, MatchPolicy::kExact).empty());
}

TEST_CASE("store: a history scan reads a bounded page and stops at the given id") {
  TempDir dir;
  auto store = open_store(dir.path);
  REQUIRE(store);
  std::vector<Id> ids;
  for (std::size_t i = 0; i < kScanRows * 2 + 10; ++i) ids.push_back(append(*store, "r", "t"));
  PatternMatcher all({kAnyParts}, MatchPolicy::kExact);
  ScanPage<Id> page = store->scan("r", 0, kMaxId, all);
  CHECK(page.publications.size() == kScanRows);
  CHECK_FALSE(page.done);
  CHECK(page.next == ids[kScanRows - 1]);
  page = store->scan("r", 0, ids[9], all);   // `upto`: nothing after it
  CHECK(page.publications.size() == 10);
  CHECK(page.done);
  CHECK(history(*store, "r", 0, {kAnyParts}, MatchPolicy::kExact).size() == ids.size());
}

TEST_CASE("store: retained replay scans only the literal prefix of the pattern") {
  TempDir dir;
  auto store = open_store(dir.path);
  REQUIRE(store);
  auto r = store->retained("r");
  for (int i = 0; i < 500; ++i) {
    std::string key = "other.k" + std::to_string(i);
    r->put(key, make_pub(100 + i, key, Json::array({i})));
  }
  for (const char* key : {"home.kitchen.temp", "home.kitchen.light", "home.hall.temp",
                          "homeless.x", "$SYS.home"}) {
    r->put(key, make_pub(1, key, Json::array({key})));
  }
  store->flush();
  auto before = store->rows_examined();
  CHECK(uris(match(*r, {"home", "kitchen", kAnyParts}, MatchPolicy::kExact)) ==
        std::vector<std::string>{"home.kitchen.light", "home.kitchen.temp"});
  CHECK(store->rows_examined() - before == 2);
  before = store->rows_examined();
  CHECK(uris(match(*r, {"home", kAnyPart, "temp"}, MatchPolicy::kExact)) ==
        std::vector<std::string>{"home.hall.temp", "home.kitchen.temp"});
  CHECK(store->rows_examined() - before == 3);
  // Prefix policy is a prefix of the URI string: "home" matches "homeless" too.
  CHECK(uris(match(*r, {"home"}, MatchPolicy::kPrefix)).size() == 4);
  CHECK(uris(match(*r, {"home", "kitchen", "temp"}, MatchPolicy::kExact)) ==
        std::vector<std::string>{"home.kitchen.temp"});
  // The MQTT `$` rule: `#` does not match $SYS at the first level.
  auto all = match(*r, {kAnyParts}, MatchPolicy::kExact);
  CHECK(all.size() == 504);
  CHECK(r->size() == 505);
  r->erase("home.hall.temp");
  CHECK_FALSE(r->get("home.hall.temp"));
}

TEST_CASE("store: group commit — PUBLISHED only after the flush, ids from the store") {
  TempDir dir;
  auto store = open_store(dir.path);
  REQUIRE(store);
  FakeEnv env;
  Router router(env, *store);
  Realm* realm = router.realm("realm1", nullptr);
  FakePeer peer;
  SessionInfo info;
  info.transport = "websocket";
  Id session = realm->join(peer, info);

  PublishOptions o;
  o.acknowledge = true;
  o.raw = Json{{"retain", true}, {"acknowledge", true}};
  Publication pub;
  pub.topic = {"k"};
  pub.uri = "k";
  pub.args = Json::array({"v"});
  realm->publish(session, 1, pub, o);
  pub.retain = false;
  PublishOptions ack;
  ack.acknowledge = true;
  realm->publish(session, 2, pub, ack);
  CHECK(peer.published.empty());
  CHECK(store->in_transaction());
  store->flush();
  REQUIRE(peer.published.size() == 2);
  CHECK(peer.published[0].first == 1);
  CHECK(peer.published[0].second >= store->first_id());
  CHECK(peer.published[1].second > peer.published[0].second);

  // A will is written through and applied by the next process.
  Publication w;
  w.topic = {"lock"};
  w.uri = "lock";
  w.args = Json::array({"held"});
  PublishOptions wo;
  wo.raw = Json{{"retain", true}, {"will", "free"}};
  realm->publish(session, 3, w, wo);
  store->flush();
  CHECK(store->load_wills().size() == 1);
}

TEST_CASE("store: subscribers get a publication only after its commit") {
  TempDir dir;
  auto store = open_store(dir.path);
  REQUIRE(store);
  FakeEnv env;
  Router router(env, *store);
  Realm* realm = router.realm("realm1", nullptr);
  FakePeer pub, sub;
  SessionInfo info;
  info.transport = "websocket";
  Id p = realm->join(pub, info), s = realm->join(sub, info);
  SubscribeOutcome outcome = realm->subscribe(s, {"t"}, SubscribeOptions{});
  REQUIRE(outcome.ok());
  realm->replay(s, outcome);
  store->flush();   // the meta events of the joins
  sub.events.clear();

  Publication one;
  one.topic = {"t"};
  one.uri = "t";
  one.args = Json::array({1});
  realm->publish(p, 1, one, PublishOptions{});
  CHECK(sub.events.empty());
  store->flush();
  REQUIRE(sub.events.size() == 1);
  CHECK(sub.events[0].publication->args == Json::array({1}));
}

TEST_CASE("store: a retained replay does not send a value before its commit") {
  TempDir dir;
  auto store = open_store(dir.path);
  REQUIRE(store);
  FakeEnv env;
  Router router(env, *store);
  Realm* realm = router.realm("realm1", nullptr);
  FakePeer pub, sub;
  SessionInfo info;
  info.transport = "websocket";
  Id p = realm->join(pub, info), s = realm->join(sub, info);
  store->flush();

  Publication value;
  value.topic = {"k"};
  value.uri = "k";
  value.args = Json::array({"v"});
  PublishOptions retain;
  retain.raw = Json{{"retain", true}};
  realm->publish(p, 1, value, retain);
  SubscribeOptions o;
  o.raw = Json{{"retained", true}};
  SubscribeOutcome outcome = realm->subscribe(s, {"k"}, o);
  REQUIRE(outcome.ok());
  realm->replay(s, outcome);
  CHECK(sub.events.empty());   // in the retained state, but not committed yet
  store->flush();
  // The replay of the committed value (no live copy: nobody subscribed when it was published).
  REQUIRE(sub.events.size() == 1);
  CHECK(sub.events[0].retained_replay);
  CHECK(sub.events[0].publication->args == Json::array({"v"}));
}

TEST_CASE("store: a retained replay that waited for one commit waits again for a later uncommitted write") {
  TempDir dir;
  auto store = open_store(dir.path);
  REQUIRE(store);
  FakeEnv env;
  Router router(env, *store);
  Realm* realm = router.realm("realm1", nullptr);
  FakePeer pub, sub;
  SessionInfo info;
  info.transport = "websocket";
  Id p = realm->join(pub, info), s = realm->join(sub, info);
  store->flush();
  auto retained = [](const std::string& uri, int v) {
    Publication pub;
    pub.topic = split_topic(uri);
    pub.uri = uri;
    pub.args = Json::array({v});
    return pub;
  };
  PublishOptions retain;
  retain.raw = Json{{"retain", true}};
  realm->publish(p, 1, retained("k.a", 1), retain);   // not committed yet
  SubscribeOptions o;
  o.match = MatchPolicy::kPrefix;
  o.raw = Json{{"retained", true}};
  SubscribeOutcome outcome = realm->subscribe(s, {"k"}, o);
  REQUIRE(outcome.ok());
  realm->replay(s, outcome);   // waits for the commit of k.a
  sub.congested_ = true;
  store->flush();              // committed; the replay finds its peer congested and pauses
  sub.events.clear();
  realm->publish(p, 2, retained("k.b", 2), retain);   // a new uncommitted write
  REQUIRE(store->in_transaction());
  sub.congested_ = false;
  realm->drained(s);
  for (const auto& e : sub.events) CHECK_FALSE(e.retained_replay);
  store->flush();
  bool replayed_b = false;
  for (const auto& e : sub.events) replayed_b |= e.retained_replay && e.publication->uri == "k.b";
  CHECK(replayed_b);
}
