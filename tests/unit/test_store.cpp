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

std::unique_ptr<SqliteStore> open_store(const std::string& dir, std::string* error = nullptr,
                                        SqliteOptions options = {}) {
  options.dir = dir;
  std::string ignored;
  return SqliteStore::open(options, error ? error : &ignored);
}

PublicationPtr make_pub(Id id, const std::string& uri, Json args, bool retain = false) {
  Publication p;
  p.id = id;
  p.uri = uri;
  p.topic = split_topic(uri);
  p.args = std::move(args);
  p.retain = retain;
  p.publisher = 77;
  p.publisher_authid = "joe";
  p.options = Json{{"retain", retain}};
  return std::make_shared<const Publication>(std::move(p));
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
    auto retained = store->retained_store("realm1");
    auto history = store->history_store("realm1");
    auto v1 = make_pub(5, "a.b", Json::array({Json{{"x", 1}}}), true);
    retained->put("a.b", v1);
    history->append(v1);
    Publication mqtt;
    mqtt.id = 6;
    mqtt.topic = {"sensor", "t.1"};   // an MQTT level with a dot
    mqtt.uri = wamp_uri(mqtt.topic);   // "sensor.t%2E1", as the router makes it
    mqtt.payload = std::string("\x00\x01\xff", 3);
    mqtt.qos = 1;
    history->append(std::make_shared<const Publication>(mqtt));
    StoredWill will;
    will.realm = "realm1";
    will.key = "lock.x";
    will.topic = {"lock", "x"};
    will.value = "free";
    will.owner = 42;
    store->put_will(will);
    store->save_session("realm1", "dev1", {{"cmd/#", 1}, {"cfg/+", 2}});
    StoredMqttMessage m;
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
  auto retained = store->retained_store("realm1");
  auto value = retained->get("a.b");
  REQUIRE(value);
  CHECK(value->id == 5);
  CHECK(value->args == Json::array({Json{{"x", 1}}}));
  CHECK(value->publisher_authid == "joe");
  CHECK(value->options == Json{{"retain", true}});
  CHECK_FALSE(retained->get("a.c"));
  CHECK(store->retained_store("other")->get("a.b") == nullptr);  // realms are separate
  auto history = store->history_store("realm1")->after(0, {kAnyParts}, MatchPolicy::kExact);
  REQUIRE(history.size() == 2);
  CHECK(history[1]->topic == TopicParts{"sensor", "t.1"});
  CHECK(history[1]->payload == std::string("\x00\x01\xff", 3));
  CHECK(history[1]->args.is_null());
  auto wills = store->load_wills();
  REQUIRE(wills.size() == 1);
  CHECK(wills[0].value == "free");
  CHECK(wills[0].owner == 42);
  auto sessions = store->load_mqtt_sessions();
  REQUIRE(sessions.size() == 1);
  CHECK(sessions[0].client_id == "dev1");
  CHECK(sessions[0].subscriptions.size() == 2);
  REQUIRE(sessions[0].messages.size() == 2);
  CHECK(sessions[0].messages[0].packet_id == 0);
  CHECK(sessions[0].messages[1].packet_id == 9);
  CHECK(sessions[0].messages[1].payload == "hello");
}

TEST_CASE("store: ids are seeded above every stored id, also after a crash") {
  TempDir dir;
  Id seed1 = 0;
  {
    auto store = open_store(dir.path);
    REQUIRE(store);
    seed1 = store->id_seed();
    store->history_store("r")->append(make_pub(seed1 + 10, "a", nullptr));
    store->retained_store("r")->put("b", make_pub(seed1 + 20, "b", Json::array({1})));
    store->flush();
  }
  auto store = open_store(dir.path);
  REQUIRE(store);
  CHECK(store->id_seed() >= seed1 + 20);
  CHECK(store->id_seed() <= kMaxId);
  // Ids handed out but never written (a turn that never committed) are covered by the
  // reservation written ahead of them.
  Id last = store->id_seed() + 1000;
  store->set_id_source([&] { return last; });
  store->flush();
  store.reset();
  auto again = open_store(dir.path);
  REQUIRE(again);
  CHECK(again->id_seed() >= last);
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
  auto history = store->history_store("r");
  auto other = store->history_store("q");
  for (Id id = 1; id <= 200; ++id) history->append(make_pub(id, "t", nullptr));
  other->append(make_pub(1000, "t", nullptr));
  CHECK(history->size() == 200);
  store->flush();   // one batch
  CHECK(history->size() == 170);
  auto rows = history->after(0, {"t"}, MatchPolicy::kExact);
  REQUIRE(rows.size() == 170);
  CHECK(rows.front()->id == 31);   // the oldest went first
  for (int i = 0; i < 5; ++i) store->flush();
  CHECK(history->size() == 100);
  CHECK(history->after(0, {"t"}, MatchPolicy::kExact).front()->id == 101);
  CHECK(other->size() == 1);   // per realm

  SUBCASE("by age") {
    TempDir dir2;
    SqliteOptions aged;
    aged.history_max_age_s = 60;
    aged.retention_batch = 10;
    auto s2 = open_store(dir2.path, nullptr, aged);
    REQUIRE(s2);
    std::uint64_t now = 1'000'000'000;
    s2->set_clock([&] { return now; });
    auto h = s2->history_store("r");
    for (Id id = 1; id <= 25; ++id) h->append(make_pub(id, "t", nullptr));
    s2->flush();   // rows carry the time of their transaction (one clock read per loop turn)
    now += 30'000;
    for (Id id = 26; id <= 30; ++id) h->append(make_pub(id, "t", nullptr));
    s2->flush();   // nothing old yet
    CHECK(h->size() == 30);
    now += 40'000;  // the first 25 are 70 s old, the last 5 are 40 s old
    s2->flush();
    CHECK(h->size() == 20);  // one batch of 10
    s2->flush();
    s2->flush();
    CHECK(h->size() == 5);
    auto left = h->after(0, {"t"}, MatchPolicy::kExact);
    REQUIRE_FALSE(left.empty());
    CHECK(left.front()->id == 26);
  }
}

TEST_CASE("store: `after` is pattern-aware and by id") {
  TempDir dir;
  auto store = open_store(dir.path);
  REQUIRE(store);
  auto h = store->history_store("r");
  h->append(make_pub(10, "a.b.c", Json::array({1})));
  h->append(make_pub(11, "a.x.c", Json::array({2})));
  h->append(make_pub(12, "b.b.c", Json::array({3})));
  h->append(make_pub(13, "a.b.c", Json::array({4})));
  store->history_store("other")->append(make_pub(14, "a.b.c", nullptr));
  CHECK(uris(h->after(10, {"a", kAnyPart, "c"}, MatchPolicy::kExact)) ==
        std::vector<std::string>{"a.x.c", "a.b.c"});
  CHECK(uris(h->after(0, {"a", "b", "c"}, MatchPolicy::kExact)).size() == 2);
  CHECK(uris(h->after(0, {"a", ""}, MatchPolicy::kWildcard)).empty());
  CHECK(uris(h->after(0, {"a", "", "c"}, MatchPolicy::kWildcard)).size() == 3);
  CHECK(uris(h->after(0, split_topic("a."), MatchPolicy::kPrefix)).size() == 3);
  CHECK(h->after(13, {kAnyParts}, MatchPolicy::kExact).empty());
}

TEST_CASE("store: retained replay scans only the literal prefix of the pattern") {
  TempDir dir;
  auto store = open_store(dir.path);
  REQUIRE(store);
  auto r = store->retained_store("r");
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
  CHECK(uris(r->match({"home", "kitchen", kAnyParts}, MatchPolicy::kExact)) ==
        std::vector<std::string>{"home.kitchen.light", "home.kitchen.temp"});
  CHECK(store->rows_examined() - before == 2);
  before = store->rows_examined();
  CHECK(uris(r->match({"home", kAnyPart, "temp"}, MatchPolicy::kExact)) ==
        std::vector<std::string>{"home.hall.temp", "home.kitchen.temp"});
  CHECK(store->rows_examined() - before == 3);
  // Prefix policy is a prefix of the URI string: "home" matches "homeless" too.
  CHECK(uris(r->match({"home"}, MatchPolicy::kPrefix)).size() == 4);
  CHECK(uris(r->match({"home", "kitchen", "temp"}, MatchPolicy::kExact)) ==
        std::vector<std::string>{"home.kitchen.temp"});
  // The MQTT `$` rule: `#` does not match $SYS at the first level.
  auto all = r->match({kAnyParts}, MatchPolicy::kExact);
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
  Router router(env);
  router.seed_publication_ids(store->id_seed());
  router.set_storage(store.get());
  store->set_id_source([&] { return router.last_publication_id(); });
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
  CHECK(peer.published[0].second > store->id_seed());
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
