// store/ndb_sqlite: the ndb role's SQLite storage — what survives a reopen and a crash, ids of
// the history, contiguous kept prefixes, repeated commits, bounded committed segments, sync()
// answered only by flush(), refusal of a newer schema and of a corrupt file.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "store/ndb_sqlite.hpp"

using namespace fox;
using fox::cluster::ClusterEvent;
using fox::cluster::NdbStorage;
using fox::store::NdbSqlite;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/fox-ndb-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string db() const { return path + "/ndb.sqlite"; }
};

std::unique_ptr<NdbSqlite> open_ndb(const std::string& dir, std::string* error = nullptr) {
  std::string ignored;
  return NdbSqlite::open(dir, false, error ? error : &ignored);
}

ClusterEvent event(int n, const std::string& realm = "realm1") {
  ClusterEvent e;
  e.realm = realm;
  e.uri = {"sensor", std::to_string(n), "temp"};
  e.data = Json{{"args", Json::array({n, "x"})}, {"kwargs", Json{{"n", n}}}};
  e.opt = Json{{"retain", n % 2 == 0}};
  e.sid = 100 + static_cast<Id>(n);
  return e;
}

ClusterEvent with_id(ClusterEvent e, Id id) {
  e.id = id;
  return e;
}

std::vector<Id> ids(const std::vector<ClusterEvent>& events) {
  std::vector<Id> out;
  for (const ClusterEvent& e : events) out.push_back(e.id);
  return out;
}

// One integer a statement answers, read from the file with a connection of its own.
std::int64_t query_int(const std::string& file, const char* sql) {
  sqlite3* db = nullptr;
  std::int64_t out = -1;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
      out = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

std::string query_text(const std::string& file, const char* sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

}  // namespace

TEST_CASE("ndb_sqlite: a new database has schema version 1, WAL, and its tables") {
  TempDir dir;
  const std::string sub = dir.path + "/a/b";   // created
  std::string error;
  auto ndb = NdbSqlite::open(sub, false, &error);
  REQUIRE_MESSAGE(ndb, error);
  CHECK(ndb->path() == sub + "/ndb.sqlite");
  CHECK(ndb->last_id() == 0);
  CHECK(ndb->history(1, kMaxId, 100).empty());
  CHECK(ndb->kept_segments().empty());
  CHECK(ndb->committed_segments().empty());
  ndb.reset();
  CHECK(query_int(sub + "/ndb.sqlite", "PRAGMA user_version") == 1);
  CHECK(query_text(sub + "/ndb.sqlite", "PRAGMA journal_mode") == "wal");
  CHECK(query_int(sub + "/ndb.sqlite",
                  "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                  "name IN ('kept', 'history', 'committed')") == 3);
  // And it opens again (no second migration), also with synchronous=FULL.
  ndb = NdbSqlite::open(sub, true, &error);
  REQUIRE_MESSAGE(ndb, error);
}

TEST_CASE("ndb_sqlite: kept, committed and flushed events survive a reopen with their ids") {
  TempDir dir;
  {
    auto ndb = open_ndb(dir.path);
    REQUIRE(ndb);
    for (int o = 1; o <= 3; ++o) ndb->keep("entry1", 7, static_cast<std::uint64_t>(o), event(o));
    for (int o = 1; o <= 2; ++o) ndb->keep("entry2", 1, static_cast<std::uint64_t>(o), event(10 + o));
    ndb->commit("entry1", 7, 1001);
    ndb->commit("entry2", 1, 1004);
    // Reads see this turn's writes (the same connection).
    CHECK(ndb->last_id() == 1005);
    bool durable = false;
    ndb->sync([&] { durable = true; });
    ndb->flush();
    CHECK(durable);
  }
  auto ndb = open_ndb(dir.path);
  REQUIRE(ndb);
  CHECK(ndb->last_id() == 1005);
  const std::vector<ClusterEvent> h = ndb->history(1, kMaxId, 100);
  REQUIRE(h.size() == 5);
  CHECK(h[0] == with_id(event(1), 1001));
  CHECK(h[1] == with_id(event(2), 1002));
  CHECK(h[2] == with_id(event(3), 1003));
  CHECK(h[3] == with_id(event(11), 1004));
  CHECK(h[4] == with_id(event(12), 1005));
  const auto committed = ndb->committed_segments();
  REQUIRE(committed.size() == 2);
  CHECK(committed[0].owner == "entry1");
  CHECK(committed[0].segment == 7);
  CHECK(committed[0].first == 1001);
  CHECK(committed[0].count == 3);
  CHECK(committed[1].owner == "entry2");
  CHECK(committed[1].segment == 1);
  CHECK(committed[1].first == 1004);
  CHECK(committed[1].count == 2);
  CHECK(ndb->kept_segments().empty());   // committed rows left kept
}

TEST_CASE("ndb_sqlite: kept segments survive a reopen up to their first gap") {
  TempDir dir;
  {
    auto ndb = open_ndb(dir.path);
    REQUIRE(ndb);
    for (std::uint64_t o : {1, 2, 4}) ndb->keep("entry1", 3, o, event(static_cast<int>(o)));
    for (std::uint64_t o : {2, 3}) ndb->keep("entry1", 4, o, event(static_cast<int>(o)));
    ndb->keep("entry2", 1, 1, event(9, "realm2"));
    ndb->flush();
  }
  auto ndb = open_ndb(dir.path);
  REQUIRE(ndb);
  const auto kept = ndb->kept_segments();
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].owner == "entry1");
  CHECK(kept[0].segment == 3);
  REQUIRE(kept[0].events.size() == 2);
  CHECK(kept[0].events[0] == event(1));
  CHECK(kept[0].events[1] == event(2));
  CHECK(kept[1].segment == 4);
  CHECK(kept[1].events.empty());   // offset 1 missing
  CHECK(kept[2].owner == "entry2");
  REQUIRE(kept[2].events.size() == 1);
  CHECK(kept[2].events[0] == event(9, "realm2"));
  CHECK(ndb->history(1, kMaxId, 10).empty());
  CHECK(ndb->committed_segments().empty());
  // The retransmitted offset 3 fills the gap; offset 4 is written again, harmlessly.
  ndb->keep("entry1", 3, 3, event(3));
  ndb->keep("entry1", 3, 4, event(4));
  CHECK(ndb->kept_segments()[0].events.size() == 4);
}

TEST_CASE("ndb_sqlite: sync callbacks are called by flush(), in order, also with nothing written") {
  TempDir dir;
  auto ndb = open_ndb(dir.path);
  REQUIRE(ndb);
  std::vector<int> calls;
  ndb->sync([&] { calls.push_back(1); });   // nothing written yet
  ndb->keep("entry1", 1, 1, event(1));
  ndb->sync([&] { calls.push_back(2); });
  ndb->keep("entry1", 1, 2, event(2));
  ndb->sync([&] {
    calls.push_back(3);
    // A callback's own sync waits for the next flush.
    ndb->sync([&] { calls.push_back(4); });
  });
  CHECK(calls.empty());
  ndb->flush();
  CHECK(calls == std::vector<int>{1, 2, 3});
  ndb->flush();
  CHECK(calls == std::vector<int>{1, 2, 3, 4});
  ndb->flush();   // nothing waits: nothing called again
  CHECK(calls.size() == 4);
}

TEST_CASE("ndb_sqlite: a crash keeps what was flushed and loses what was not") {
  TempDir dir;
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child: no doctest here; exits without close() (no destructor runs).
    std::string error;
    auto ndb = NdbSqlite::open(dir.path, false, &error);
    if (!ndb) _exit(2);
    ndb->keep("entry1", 1, 1, event(1));
    ndb->keep("entry1", 1, 2, event(2));
    ndb->commit("entry1", 1, 50);
    ndb->keep("entry1", 2, 1, event(3));
    ndb->flush();
    ndb->keep("entry1", 2, 2, event(4));   // not flushed
    ndb->commit("entry1", 2, 52);          // not flushed
    ndb->keep("entry1", 3, 1, event(5));   // not flushed
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  auto ndb = open_ndb(dir.path);
  REQUIRE(ndb);
  CHECK(ids(ndb->history(1, kMaxId, 10)) == std::vector<Id>{50, 51});
  CHECK(ndb->last_id() == 51);
  const auto committed = ndb->committed_segments();
  REQUIRE(committed.size() == 1);
  CHECK(committed[0].segment == 1);
  const auto kept = ndb->kept_segments();
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].segment == 2);
  REQUIRE(kept[0].events.size() == 1);
  CHECK(kept[0].events[0] == event(3));
}

TEST_CASE("ndb_sqlite: a repeated commit is harmless") {
  TempDir dir;
  auto ndb = open_ndb(dir.path);
  REQUIRE(ndb);
  for (std::uint64_t o = 1; o <= 3; ++o) ndb->keep("entry1", 5, o, event(static_cast<int>(o)));
  ndb->commit("entry1", 5, 20);
  ndb->commit("entry1", 5, 20);   // same turn
  ndb->flush();
  ndb->commit("entry1", 5, 20);   // a later turn
  ndb->flush();
  CHECK(ids(ndb->history(1, kMaxId, 10)) == std::vector<Id>{20, 21, 22});
  auto committed = ndb->committed_segments();
  REQUIRE(committed.size() == 1);
  CHECK(committed[0].first == 20);
  CHECK(committed[0].count == 3);   // not overwritten by the repetition's 0
  ndb.reset();
  ndb = open_ndb(dir.path);
  REQUIRE(ndb);
  ndb->commit("entry1", 5, 20);     // after a restart
  ndb->flush();
  committed = ndb->committed_segments();
  REQUIRE(committed.size() == 1);
  CHECK(committed[0].count == 3);
  CHECK(ndb->history(1, kMaxId, 10).size() == 3);
  // An empty segment is recorded with count 0.
  ndb->commit("entry1", 6, 23);
  committed = ndb->committed_segments();
  REQUIRE(committed.size() == 2);
  CHECK(committed[1].segment == 6);
  CHECK(committed[1].first == 23);
  CHECK(committed[1].count == 0);
}

TEST_CASE("ndb_sqlite: history ranges are inclusive, increasing and bounded by max") {
  TempDir dir;
  auto ndb = open_ndb(dir.path);
  REQUIRE(ndb);
  // Two segments, committed out of id order, with a hole (ids 6..9 belong to nobody here).
  for (std::uint64_t o = 1; o <= 3; ++o) ndb->keep("e", 2, o, event(static_cast<int>(o)));
  for (std::uint64_t o = 1; o <= 5; ++o) ndb->keep("e", 1, o, event(static_cast<int>(10 + o)));
  ndb->commit("e", 2, 10);   // 10..12
  ndb->commit("e", 1, 1);    // 1..5
  ndb->flush();
  CHECK(ids(ndb->history(1, kMaxId, 100)) == std::vector<Id>{1, 2, 3, 4, 5, 10, 11, 12});
  CHECK(ids(ndb->history(2, 4, 100)) == std::vector<Id>{2, 3, 4});
  CHECK(ids(ndb->history(3, 11, 4)) == std::vector<Id>{3, 4, 5, 10});
  CHECK(ids(ndb->history(5, 10, 100)) == std::vector<Id>{5, 10});
  CHECK(ids(ndb->history(6, 9, 100)).empty());
  CHECK(ids(ndb->history(12, 12, 1)) == std::vector<Id>{12});
  CHECK(ndb->history(1, kMaxId, 0).empty());
  CHECK(ndb->history(5, 4, 10).empty());
  CHECK(ids(ndb->history(0, ~Id{0}, ~std::size_t{0})).size() == 8);   // no overflow into SQL
  CHECK(ndb->history(11, 11, 1).at(0) == with_id(event(2), 11));
  CHECK(ndb->last_id() == 12);
}

TEST_CASE("ndb_sqlite: at most 256 committed segments per owner, the lowest forgotten") {
  TempDir dir;
  auto ndb = open_ndb(dir.path);
  REQUIRE(ndb);
  ndb->keep("other", 1, 1, event(0));
  ndb->commit("other", 1, 1);
  Id first = 2;
  for (std::uint64_t seg = 1; seg <= 300; ++seg) {
    ndb->keep("entry1", seg, 1, event(static_cast<int>(seg)));
    ndb->commit("entry1", seg, first++);
    if (seg % 50 == 0) ndb->flush();
  }
  ndb->flush();
  auto committed = ndb->committed_segments();
  REQUIRE(committed.size() == 257);
  CHECK(committed[0].owner == "entry1");
  CHECK(committed[0].segment == 45);     // 45..300
  CHECK(committed[255].segment == 300);
  CHECK(committed[256].owner == "other");
  // The history itself is not bounded here.
  CHECK(ndb->history(1, kMaxId, 1000).size() == 301);
  // As Ndb does, the segment just committed stays even when it is not among the highest.
  ndb->keep("entry1", 10, 1, event(10));
  ndb->commit("entry1", 10, 1000);
  committed = ndb->committed_segments();
  REQUIRE(committed.size() == 257);
  CHECK(committed[0].segment == 10);
  CHECK(committed[1].segment == 46);
}

TEST_CASE("ndb_sqlite: a newer schema version is refused with an error naming the file") {
  TempDir dir;
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE t(x); PRAGMA user_version=2;", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    sqlite3_close(db);
  }
  std::string error;
  CHECK_FALSE(open_ndb(dir.path, &error));
  CHECK(error.find(dir.db()) != std::string::npos);
  CHECK(error.find("schema version 2") != std::string::npos);
  CHECK(error.find('\n') == std::string::npos);
  CHECK(query_int(dir.db(), "PRAGMA user_version") == 2);   // left as it was
}

TEST_CASE("ndb_sqlite: a corrupt file is refused with an error naming the file") {
  TempDir dir;
  {
    std::ofstream f(dir.db(), std::ios::binary);
    for (int i = 0; i < 512; ++i) f << "this is not a database ";
  }
  std::string error;
  CHECK_FALSE(open_ndb(dir.path, &error));
  CHECK(error.find(dir.db()) != std::string::npos);
  CHECK(error.find("corrupt") != std::string::npos);
  CHECK(error.find('\n') == std::string::npos);
}

TEST_CASE("ndb_sqlite: close() commits; afterwards nothing is written or read") {
  TempDir dir;
  auto ndb = open_ndb(dir.path);
  REQUIRE(ndb);
  ndb->keep("entry1", 1, 1, event(1));
  ndb->commit("entry1", 1, 7);
  bool called = false;
  ndb->sync([&] { called = true; });
  ndb->close();
  CHECK(called);   // the final commit reports what waited for it
  ndb->keep("entry1", 2, 1, event(2));
  ndb->commit("entry1", 2, 8);
  bool late = false;
  ndb->sync([&] { late = true; });
  ndb->flush();
  CHECK_FALSE(late);
  CHECK(ndb->history(1, kMaxId, 10).empty());
  CHECK(ndb->last_id() == 0);
  ndb->close();   // twice: harmless
  ndb.reset();
  ndb = open_ndb(dir.path);
  REQUIRE(ndb);
  CHECK(ids(ndb->history(1, kMaxId, 10)) == std::vector<Id>{7});
  CHECK(ndb->kept_segments().empty());
}

TEST_CASE("ndb_sqlite: a recorded close survives a reopen until its segment is committed") {
  TempDir dir;
  const std::string digest(16, '\x07');
  {
    auto ndb = open_ndb(dir.path);
    REQUIRE(ndb);
    ndb->keep("entry1", 4, 1, event(1));
    ndb->record_close("entry1", 4, 1, digest);
    ndb->record_close("entry1", 5, 3, digest);
    ndb->flush();
  }
  {
    auto ndb = open_ndb(dir.path);
    REQUIRE(ndb);
    auto closed = ndb->closed_segments();
    REQUIRE(closed.size() == 2);
    CHECK(closed[0].owner == "entry1");
    CHECK(closed[0].segment == 4);
    CHECK(closed[0].count == 1);
    CHECK(closed[0].digest == digest);
    ndb->commit("entry1", 4, 100);
    ndb->forget("entry1", 5);
    ndb->flush();
  }
  auto ndb = open_ndb(dir.path);
  REQUIRE(ndb);
  CHECK(ndb->closed_segments().empty());
  CHECK(ndb->history(100, 100, 1).size() == 1);
}
