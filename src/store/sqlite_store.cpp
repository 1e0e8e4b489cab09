#include "store/sqlite_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

#include "core/log.hpp"
#include "core/topic.hpp"
#include "store/file_access.hpp"

namespace fox::store {
namespace {

constexpr const char* kLog = "store";
// Ids are reserved this far ahead of the last id handed out, renewed at half.
constexpr Id kReserveChunk = Id{1} << 20;

// Realm names are values (a column), never part of a table name. Migrations: kMigrations[v]
// brings a database from user_version v to v + 1 (its SQL, then its rewrite of rows, if any).
bool canonical_topics(sqlite3* db, std::string* error);
struct Migration {
  const char* sql;
  bool (*rewrite)(sqlite3* db, std::string* error);
};
const Migration kMigrations[] = {
    {
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE history(
  id INTEGER PRIMARY KEY,          -- the event id == WAMP publication id
  realm TEXT NOT NULL,
  topic TEXT NOT NULL,             -- dotted
  parts BLOB,                      -- msgpack topic parts, only when a part contains a '.'
  args BLOB, kwargs BLOB,          -- msgpack; NULL = absent
  payload BLOB,                    -- MQTT payload bytes; NULL = absent
  options BLOB,                    -- msgpack publish options as sent; NULL = none
  publisher INTEGER NOT NULL, publisher_authid TEXT NOT NULL, publisher_authrole TEXT NOT NULL,
  disclose INTEGER NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL,
  time_ms INTEGER NOT NULL);
CREATE INDEX history_realm_id ON history(realm, id);
CREATE TABLE retained(
  realm TEXT NOT NULL, key TEXT NOT NULL, id INTEGER NOT NULL,
  topic TEXT NOT NULL, parts BLOB, args BLOB, kwargs BLOB, payload BLOB, options BLOB,
  publisher INTEGER NOT NULL, publisher_authid TEXT NOT NULL, publisher_authrole TEXT NOT NULL,
  disclose INTEGER NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  PRIMARY KEY(realm, key)) WITHOUT ROWID;
CREATE TABLE wills(
  realm TEXT NOT NULL, key TEXT NOT NULL, parts BLOB NOT NULL, value BLOB NOT NULL,
  owner INTEGER NOT NULL, disclose INTEGER NOT NULL, authid TEXT NOT NULL, authrole TEXT NOT NULL,
  PRIMARY KEY(realm, key)) WITHOUT ROWID;
CREATE TABLE mqtt_sessions(
  realm TEXT NOT NULL, client_id TEXT NOT NULL, subscriptions TEXT NOT NULL,
  PRIMARY KEY(realm, client_id)) WITHOUT ROWID;
CREATE TABLE mqtt_messages(
  realm TEXT NOT NULL, client_id TEXT NOT NULL, seq INTEGER NOT NULL,
  topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL,
  packet_id INTEGER NOT NULL, stage INTEGER NOT NULL,
  PRIMARY KEY(realm, client_id, seq)) WITHOUT ROWID;
)sql",
     nullptr},
    // 2: topics in their canonical WAMP text (core/topic.hpp: a '.' inside a part is escaped, so
    // the text names one list of parts and `parts` is no longer needed); MQTT CONNECT wills,
    // inbound QoS 2 ids and WAMP testaments survive a crash.
    {R"sql(
CREATE TABLE mqtt_wills(
  realm TEXT NOT NULL, client_id TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
  qos INTEGER NOT NULL, retain INTEGER NOT NULL,
  PRIMARY KEY(realm, client_id)) WITHOUT ROWID;
CREATE TABLE mqtt_qos2(
  realm TEXT NOT NULL, client_id TEXT NOT NULL, packet_id INTEGER NOT NULL,
  PRIMARY KEY(realm, client_id, packet_id)) WITHOUT ROWID;
CREATE TABLE testaments(
  realm TEXT NOT NULL, owner INTEGER NOT NULL, seq INTEGER NOT NULL, scope TEXT NOT NULL,
  topic TEXT NOT NULL, args BLOB, kwargs BLOB, options BLOB,
  authid TEXT NOT NULL, authrole TEXT NOT NULL, disclose INTEGER NOT NULL,
  PRIMARY KEY(realm, owner, seq)) WITHOUT ROWID;
)sql",
     canonical_topics},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion);

// The columns a Publication is read from, same order for history and retained.
#define FOX_PUB_COLUMNS \
  "id, topic, parts, args, kwargs, payload, options, publisher, publisher_authid, " \
  "publisher_authrole, disclose, qos, retain"

std::string to_msgpack(const Json& j) {
  std::string out;
  Json::to_msgpack(j, out);
  return out;
}

Json from_blob(sqlite3_stmt* s, int col) {
  if (sqlite3_column_type(s, col) == SQLITE_NULL) return nullptr;
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(s, col));
  int n = sqlite3_column_bytes(s, col);
  if (!data || n <= 0) return nullptr;
  Json j;
  if (parse_json(JsonFormat::kMsgpack,
                 std::string_view(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n)),
                 &j) != JsonParse::kOk) {
    return nullptr;
  }
  return j;
}

std::string text(sqlite3_stmt* s, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : std::string();
}

std::string blob(sqlite3_stmt* s, int col) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : std::string();
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
// NULL for an empty optional blob.
void bind_blob(sqlite3_stmt* s, int i, const std::string* v) {
  if (!v) {
    sqlite3_bind_null(s, i);
  } else {
    sqlite3_bind_blob(s, i, v->data(), static_cast<int>(v->size()), SQLITE_STATIC);
  }
}
void bind_int(sqlite3_stmt* s, int i, std::int64_t v) { sqlite3_bind_int64(s, i, v); }

// Reads a publication from columns FOX_PUB_COLUMNS starting at 0.
PublicationPtr read_publication(sqlite3_stmt* s) {
  Publication p;
  p.id = static_cast<Id>(sqlite3_column_int64(s, 0));
  p.uri = text(s, 1);
  p.topic = wamp_topic_parts(p.uri);  // the canonical text names exactly one list of parts
  p.args = from_blob(s, 3);
  p.kwargs = from_blob(s, 4);
  if (sqlite3_column_type(s, 5) != SQLITE_NULL) p.payload = blob(s, 5);
  Json options = from_blob(s, 6);
  if (options.is_object()) p.options = std::move(options);
  p.publisher = static_cast<Id>(sqlite3_column_int64(s, 7));
  p.publisher_authid = text(s, 8);
  p.publisher_authrole = text(s, 9);
  p.disclose_publisher = sqlite3_column_int(s, 10) != 0;
  p.qos = sqlite3_column_int(s, 11);
  p.retain = sqlite3_column_int(s, 12) != 0;
  return std::make_shared<const Publication>(std::move(p));
}

// The literal start of a pattern as a key prefix: every retained key it can match starts with
// it. Exact/wildcard patterns: the parts before the first wildcard part, each followed by '.';
// prefix policy: the URI string itself.
std::string literal_prefix(const TopicParts& pattern, MatchPolicy policy) {
  if (policy == MatchPolicy::kPrefix) return wamp_uri(pattern);
  std::string out;
  for (const std::string& part : pattern) {
    bool wild = policy == MatchPolicy::kWildcard ? part.empty() : is_wildcard_part(part);
    if (wild) return out;
    out += wamp_part(part);  // keys are canonical texts: escaped parts, joined with '.'
    out += '.';
  }
  return out;  // (unused for literal patterns)
}

// Migration 2: every stored topic in its canonical text. Version 1 wrote the plain dotted join of
// the parts (and the parts themselves only when one held a '.'), so any row may change: a part
// with a dot, whitespace or '#' gets escapes, a '%' that reads as an escape gets one. Every row is
// read once; only the rows whose text changes are written. Keys move through a temporary table
// (out, then back in with their new text), so a new key that equals another row's old key cannot
// clash midway; the new keys are distinct since the canonical text is injective.
bool canonical_topics(sqlite3* db, std::string* error) {
  auto fail = [&] {
    *error = sqlite3_errmsg(db);
    return false;
  };
  auto exec = [&](const std::string& sql) {
    return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
  };
  struct Row {
    std::string realm, old_key, new_key;
    std::int64_t id = 0;
  };
  for (const std::string t : {"history", "retained", "wills"}) {
    const bool history = t == "history";
    const std::string select = history ? "SELECT id, topic, parts FROM history"
                                       : "SELECT realm, key, parts FROM " + t;
    std::vector<Row> rows;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, select.c_str(), -1, &s, nullptr) != SQLITE_OK) return fail();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      Row row;
      if (history) row.id = sqlite3_column_int64(s, 0);
      else row.realm = text(s, 0);
      row.old_key = text(s, 1);
      TopicParts parts;
      Json blob = from_blob(s, 2);
      if (blob.is_array()) {
        for (const auto& part : blob) parts.push_back(part.is_string() ? part.get<std::string>() : "");
      } else {
        parts = split_topic(row.old_key);
      }
      row.new_key = wamp_uri(parts);
      if (row.new_key != row.old_key || !blob.is_null()) rows.push_back(std::move(row));
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return fail();
    if (rows.empty()) continue;
    if (history) {
      // The id is the key: the topic text changes in place.
      if (sqlite3_prepare_v2(db, "UPDATE history SET topic = ?2, parts = NULL WHERE id = ?1", -1, &s,
                             nullptr) != SQLITE_OK) {
        return fail();
      }
      for (const Row& row : rows) {
        sqlite3_bind_int64(s, 1, row.id);
        bind_text(s, 2, row.new_key);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) break;
      }
      sqlite3_finalize(s);
      if (rc != SQLITE_DONE) return fail();
      continue;
    }
    const std::string moved = "fox_moved_" + t;
    if (!exec("CREATE TEMP TABLE " + moved + " AS SELECT *, '' AS new_key FROM " + t + " WHERE 0")) {
      return fail();
    }
    if (sqlite3_prepare_v2(db, ("INSERT INTO " + moved + " SELECT *, ?3 FROM " + t +
                                " WHERE realm = ?1 AND key = ?2").c_str(),
                           -1, &s, nullptr) != SQLITE_OK) {
      return fail();
    }
    for (const Row& row : rows) {
      bind_text(s, 1, row.realm);
      bind_text(s, 2, row.old_key);
      bind_text(s, 3, row.new_key);
      rc = sqlite3_step(s);
      sqlite3_reset(s);
      if (rc != SQLITE_DONE) break;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return fail();
    const std::string columns =
        t == "retained"
            ? "realm, new_key, id, new_key, NULL, args, kwargs, payload, options, publisher, "
              "publisher_authid, publisher_authrole, disclose, qos, retain, time_ms"
            : "realm, new_key, parts, value, owner, disclose, authid, authrole";
    if (!exec("DELETE FROM " + t + " WHERE (realm, key) IN (SELECT realm, key FROM " + moved + ")") ||
        !exec("INSERT INTO " + t + " SELECT " + columns + " FROM " + moved) ||
        !exec("DROP TABLE " + moved)) {
      return fail();
    }
  }
  return true;
}

class Reset {
public:
  explicit Reset(sqlite3_stmt* s) : s_(s) {}
  // Every statement binds all its parameters on each use: no clear_bindings needed.
  ~Reset() { sqlite3_reset(s_); }

private:
  sqlite3_stmt* s_;
};

// A one-off read at start-up (loaders): prepare, step until done, finalize. Errors are logged.
struct Query {
  sqlite3_stmt* s = nullptr;
  sqlite3* db;
  bool failed = false;
  Query(sqlite3* database, const char* sql) : db(database) {
    failed = sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK;
  }
  ~Query() { sqlite3_finalize(s); }
  // True while there is a row; a failure is logged once, naming `what`.
  bool step(const std::string& path, const char* what) {
    int rc = failed ? SQLITE_ERROR : sqlite3_step(s);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) log::error("store", path, ": ", what, ": ", sqlite3_errmsg(db));
    return false;
  }
};

// Per-realm engines: thin handles on the store.
class SqliteRetained final : public RetainedStore {
public:
  SqliteRetained(SqliteStore& store, std::string realm) : store_(store), realm_(std::move(realm)) {}
  PublicationPtr get(const std::string& key) const override { return store_.get_retained(realm_, key); }
  void put(const std::string& key, PublicationPtr value) override {
    store_.put_retained(realm_, key, value);
  }
  void erase(const std::string& key) override { store_.erase_retained(realm_, key); }
  std::vector<PublicationPtr> match(const TopicParts& pattern, MatchPolicy policy) const override {
    return store_.match_retained(realm_, pattern, policy);
  }
  std::size_t size() const override { return store_.retained_count(realm_); }

private:
  SqliteStore& store_;
  std::string realm_;
};

class SqliteHistory final : public HistoryStore {
public:
  SqliteHistory(SqliteStore& store, std::string realm) : store_(store), realm_(std::move(realm)) {}
  void append(const PublicationPtr& publication) override { store_.append_history(realm_, publication); }
  std::vector<PublicationPtr> after(Id after, const TopicParts& pattern,
                                    MatchPolicy policy) const override {
    return store_.history_after(realm_, after, pattern, policy);
  }
  // Retention of the SQLite history is limits.history_max_rows / history_max_age (the store's).
  void set_capacity(std::size_t) override {}
  std::size_t size() const override { return store_.history_rows(realm_); }

private:
  SqliteStore& store_;
  std::string realm_;
};

}  // namespace

struct SqliteStore::Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

struct SqliteStore::Encoded {
  const Publication* source = nullptr;
  PublicationPtr keep;   // keeps `source` alive while the cache refers to it
  std::string args, kwargs, options;
  bool has_args = false, has_kwargs = false, has_options = false;
};

SqliteStore::SqliteStore(SqliteOptions options)
    : options_(std::move(options)), encoded_(std::make_unique<Encoded>()) {}

SqliteStore::~SqliteStore() {
  if (db_) {
    if (!closed_) close();
    stmts_.clear();
    sqlite3_close_v2(db_);
  }
}

std::unique_ptr<SqliteStore> SqliteStore::open(const SqliteOptions& options, std::string* error) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  if (!store->init(error)) return nullptr;
  return store;
}

bool SqliteStore::prepare(Stmt*& out, const char* sql, std::string* error) {
  auto stmt = std::make_unique<Stmt>();
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt->s, nullptr) != SQLITE_OK) {
    *error = path_ + ": " + sqlite3_errmsg(db_) + " (unexpected schema; is this a fox database?)";
    return false;
  }
  out = stmt.get();
  stmts_.push_back(std::move(stmt));
  return true;
}

bool SqliteStore::init(std::string* error) {
  if (options_.dir.empty()) options_.dir = ".";
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) {
    *error = cannot_create_dir(options_.dir, ec.message());
    return false;
  }
  path_ = (std::filesystem::path(options_.dir) / "fox.db").string();
  // Before SQLite reads anything: it would call an unreadable file "disk I/O error".
  if (std::string why = permission_problem(options_.dir, path_); !why.empty()) {
    *error = why;
    return false;
  }
  if (sqlite3_open_v2(path_.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    *error = path_ + ": cannot open: " + (db_ ? sqlite3_errmsg(db_) : "out of memory");
    return false;
  }
  auto exec = [&](const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      *error = path_ + ": " + (msg ? msg : sqlite3_errmsg(db_));
      sqlite3_free(msg);
      return false;
    }
    return true;
  };
  auto query_int = [&](const char* sql, std::int64_t* out) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &s, nullptr);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        rc = SQLITE_OK;
      } else if (rc == SQLITE_DONE) {
        *out = 0;
        rc = SQLITE_OK;
      }
    }
    if (rc != SQLITE_OK) *error = path_ + ": " + sqlite3_errmsg(db_);
    sqlite3_finalize(s);
    return rc == SQLITE_OK;
  };
  // One process owns the database (no -shm file; a second fox on the same directory is refused).
  if (!exec("PRAGMA locking_mode=EXCLUSIVE")) return false;
  sqlite3_busy_timeout(db_, 0);
  // Reading the schema is the first real read: garbage gives "file is not a database".
  std::int64_t tables = 0;
  if (!query_int("SELECT count(*) FROM sqlite_master", &tables)) {
    int code = sqlite3_errcode(db_);
    *error += code == SQLITE_BUSY || code == SQLITE_LOCKED
                  ? " (another process uses it: is another fox running on this data directory?)"
                  : " (corrupt or not a SQLite database; move it away to start empty)";
    return false;
  }
  std::int64_t version = 0;
  if (!query_int("PRAGMA user_version", &version)) return false;
  if (version > kSchemaVersion) {
    *error = path_ + ": schema version " + std::to_string(version) +
             " is newer than this fox supports (" + std::to_string(kSchemaVersion) +
             "); refusing to start (use a newer fox)";
    return false;
  }
  sqlite3_stmt* mode = nullptr;
  std::string journal;
  if (sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &mode, nullptr) == SQLITE_OK &&
      sqlite3_step(mode) == SQLITE_ROW) {
    journal = text(mode, 0);
  }
  sqlite3_finalize(mode);
  if (journal != "wal") {
    *error = path_ + ": cannot switch to WAL mode: " + sqlite3_errmsg(db_);
    return false;
  }
  if (!exec(options_.sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL")) return false;
  // Fewer, larger checkpoints (the WAL is reset after each one); 8 MiB of page cache.
  if (!exec("PRAGMA wal_autocheckpoint=4000") || !exec("PRAGMA cache_size=-8192")) return false;
  // A small database is checked page by page; a large one by the reads below (schema, indexes).
  std::error_code size_ec;
  auto size = std::filesystem::file_size(path_, size_ec);
  if (!size_ec && size <= options_.quick_check_max_bytes && tables > 0) {
    sqlite3_stmt* check = nullptr;
    std::string result;
    if (sqlite3_prepare_v2(db_, "PRAGMA quick_check(1)", -1, &check, nullptr) == SQLITE_OK &&
        sqlite3_step(check) == SQLITE_ROW) {
      result = text(check, 0);
    } else {
      result = sqlite3_errmsg(db_);
    }
    sqlite3_finalize(check);
    if (result != "ok") {
      *error = path_ + ": integrity check failed: " + result + " (corrupt database)";
      return false;
    }
  }
  for (std::int64_t v = version; v < kSchemaVersion; ++v) {
    if (!exec("BEGIN IMMEDIATE")) return false;
    const Migration& m = kMigrations[v];
    std::string sql = std::string(m.sql) + "PRAGMA user_version=" + std::to_string(v + 1) + ";";
    std::string why;
    if (!exec(sql.c_str()) || (m.rewrite && !m.rewrite(db_, &why))) {
      if (!why.empty()) *error = path_ + ": migration to schema version " + std::to_string(v + 1) + ": " + why;
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return false;
    }
    if (!exec("COMMIT")) return false;
    log::info(kLog, path_, ": schema version ", v + 1);
  }

  const bool ok =
      prepare(begin_, "BEGIN", error) && prepare(commit_, "COMMIT", error) &&
      prepare(rollback_, "ROLLBACK", error) &&
      prepare(history_insert_,
              "INSERT INTO history(id, realm, topic, parts, args, kwargs, payload, options, "
              "publisher, publisher_authid, publisher_authrole, disclose, qos, retain, time_ms) "
              "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
              error) &&
      prepare(history_after_,
              "SELECT " FOX_PUB_COLUMNS " FROM history WHERE realm = ?1 AND id > ?2 ORDER BY id",
              error) &&
      prepare(history_trim_,
              "DELETE FROM history WHERE id IN "
              "(SELECT id FROM history WHERE realm = ?1 ORDER BY id LIMIT ?2)",
              error) &&
      prepare(history_trim_age_,
              "DELETE FROM history WHERE id IN "
              "(SELECT id FROM history WHERE realm = ?1 ORDER BY id LIMIT ?2) AND time_ms < ?3",
              error) &&
      prepare(retained_put_,
              "INSERT OR REPLACE INTO retained(realm, key, id, topic, parts, args, kwargs, payload, "
              "options, publisher, publisher_authid, publisher_authrole, disclose, qos, retain, "
              "time_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
              error) &&
      prepare(retained_get_,
              "SELECT " FOX_PUB_COLUMNS " FROM retained WHERE realm = ?1 AND key = ?2", error) &&
      prepare(retained_erase_, "DELETE FROM retained WHERE realm = ?1 AND key = ?2", error) &&
      prepare(retained_range_,
              "SELECT " FOX_PUB_COLUMNS " FROM retained WHERE realm = ?1 AND key >= ?2 AND key < ?3 "
              "ORDER BY key",
              error) &&
      prepare(retained_realm_,
              "SELECT " FOX_PUB_COLUMNS " FROM retained WHERE realm = ?1 ORDER BY key", error) &&
      prepare(retained_count_, "SELECT count(*) FROM retained WHERE realm = ?1", error) &&
      prepare(will_put_,
              "INSERT OR REPLACE INTO wills(realm, key, parts, value, owner, disclose, authid, "
              "authrole) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
              error) &&
      prepare(will_erase_, "DELETE FROM wills WHERE realm = ?1 AND key = ?2", error) &&
      prepare(session_put_,
              "INSERT OR REPLACE INTO mqtt_sessions(realm, client_id, subscriptions) VALUES(?1, ?2, ?3)",
              error) &&
      prepare(session_delete_, "DELETE FROM mqtt_sessions WHERE realm = ?1 AND client_id = ?2", error) &&
      prepare(session_messages_delete_,
              "DELETE FROM mqtt_messages WHERE realm = ?1 AND client_id = ?2", error) &&
      prepare(message_put_,
              "INSERT OR REPLACE INTO mqtt_messages(realm, client_id, seq, topic, payload, qos, "
              "retain, packet_id, stage) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
              error) &&
      prepare(message_update_,
              "UPDATE mqtt_messages SET packet_id = ?4, stage = ?5, "
              "payload = CASE WHEN ?5 = 2 THEN x'' ELSE payload END "
              "WHERE realm = ?1 AND client_id = ?2 AND seq = ?3",
              error) &&
      prepare(message_delete_,
              "DELETE FROM mqtt_messages WHERE realm = ?1 AND client_id = ?2 AND seq = ?3", error) &&
      prepare(meta_put_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", error) &&
      prepare(qos2_put_,
              "INSERT OR REPLACE INTO mqtt_qos2(realm, client_id, packet_id) VALUES(?1, ?2, ?3)",
              error) &&
      prepare(qos2_delete_,
              "DELETE FROM mqtt_qos2 WHERE realm = ?1 AND client_id = ?2 AND packet_id = ?3", error) &&
      prepare(session_qos2_delete_, "DELETE FROM mqtt_qos2 WHERE realm = ?1 AND client_id = ?2",
              error) &&
      prepare(mqtt_will_put_,
              "INSERT OR REPLACE INTO mqtt_wills(realm, client_id, topic, payload, qos, retain) "
              "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
              error) &&
      prepare(mqtt_will_delete_, "DELETE FROM mqtt_wills WHERE realm = ?1 AND client_id = ?2",
              error) &&
      prepare(testament_put_,
              "INSERT OR REPLACE INTO testaments(realm, owner, seq, scope, topic, args, kwargs, "
              "options, authid, authrole, disclose) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
              "?10, ?11)",
              error) &&
      prepare(testament_erase_,
              "DELETE FROM testaments WHERE realm = ?1 AND owner = ?2 AND (?3 = '' OR scope = ?3)",
              error);
  if (!ok) return false;

  // Ids: above every id stored and every id reserved by the previous process.
  std::int64_t max_history = 0, max_retained = 0, reserved = 0;
  if (!query_int("SELECT coalesce(max(id), 0) FROM history", &max_history) ||
      !query_int("SELECT coalesce(max(id), 0) FROM retained", &max_retained) ||
      !query_int("SELECT coalesce(max(value), 0) FROM meta WHERE key = 'reserved_id'", &reserved)) {
    return false;
  }
  id_seed_ = static_cast<Id>(std::max({max_history, max_retained, reserved, std::int64_t{0}}));
  reserved_ = id_seed_;
  sqlite3_stmt* counts = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT realm, count(*) FROM history GROUP BY realm", -1, &counts,
                         nullptr) != SQLITE_OK) {
    *error = path_ + ": " + sqlite3_errmsg(db_);
    return false;
  }
  int rc;
  while ((rc = sqlite3_step(counts)) == SQLITE_ROW) {
    history_rows_[text(counts, 0)] = static_cast<std::uint64_t>(sqlite3_column_int64(counts, 1));
  }
  sqlite3_finalize(counts);
  if (rc != SQLITE_DONE) {
    *error = path_ + ": " + sqlite3_errmsg(db_) + " (corrupt database)";
    return false;
  }
  // Reserve the first block now, so ids handed out before the first commit are covered.
  id_source_ = [this] { return id_seed_; };
  reserve_ids();
  flush();
  if (commits_ == 0) {
    *error = path_ + ": cannot write: " + sqlite3_errmsg(db_);
    return false;
  }
  id_source_ = nullptr;
  return true;
}

std::uint64_t SqliteStore::now_ms() const {
  if (clock_) return clock_();
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::uint64_t SqliteStore::history_rows(const std::string& realm) const {
  auto it = history_rows_.find(realm);
  return it == history_rows_.end() ? 0 : it->second;
}

// ---- transactions ------------------------------------------------------------------------

void SqliteStore::begin() {
  if (in_tx_) return;
  int rc = sqlite3_step(begin_->s);
  sqlite3_reset(begin_->s);
  if (rc != SQLITE_DONE) {
    fail("BEGIN");
    return;
  }
  in_tx_ = true;
  tx_time_ms_ = now_ms();   // one clock read per transaction: the time of the loop turn
}

void SqliteStore::fail(const char* what) {
  failed_ = true;
  ++errors_logged_;
  if (errors_logged_ <= 10 || errors_logged_ % 1000 == 0) {
    log::error(kLog, path_, ": ", what, ": ", sqlite3_errmsg(db_), " (", errors_logged_,
               " errors so far); the acknowledgements of this transaction become errors");
  }
}

bool SqliteStore::write(sqlite3_stmt* stmt) {
  if (closed_) return false;
  begin();
  if (!in_tx_) return false;
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fail("write");
    return false;
  }
  return true;
}

void SqliteStore::after_commit(std::function<void(bool ok)> fn) {
  // Nothing uncommitted: every earlier write is already durable (or the store is closed).
  if (!in_tx_ && !failed_) {
    fn(true);
    return;
  }
  waiting_.push_back(std::move(fn));
}

void SqliteStore::reserve_ids() {
  if (!id_source_) return;
  Id last = id_source_();
  if (last + kReserveChunk / 2 < reserved_) return;
  reserved_ = last + kReserveChunk;
  Reset r(meta_put_->s);
  sqlite3_bind_text(meta_put_->s, 1, "reserved_id", -1, SQLITE_STATIC);
  bind_int(meta_put_->s, 2, static_cast<std::int64_t>(reserved_));
  write(meta_put_->s);
}

void SqliteStore::enforce_retention(bool* more) {
  *more = false;
  const std::uint64_t batch = std::max<std::uint64_t>(1, options_.retention_batch);
  for (auto& [realm, rows] : history_rows_) {
    if (rows > options_.history_max_rows) {
      std::uint64_t n = std::min(rows - options_.history_max_rows, batch);
      Reset r(history_trim_->s);
      bind_text(history_trim_->s, 1, realm);
      bind_int(history_trim_->s, 2, static_cast<std::int64_t>(n));
      if (!write(history_trim_->s)) return;
      std::uint64_t deleted = static_cast<std::uint64_t>(sqlite3_changes(db_));
      rows -= std::min(rows, deleted);
      if (rows > options_.history_max_rows) *more = true;
    }
  }
  if (options_.history_max_age_s == 0) return;
  const std::uint64_t now = now_ms();
  // At most once a second when idle (a clock that went back counts as due).
  if (!age_more_ && now >= last_age_check_ms_ && now < last_age_check_ms_ + 1000) return;
  last_age_check_ms_ = now;
  age_more_ = false;
  const std::uint64_t age_ms = options_.history_max_age_s * 1000;
  const std::uint64_t cutoff = now > age_ms ? now - age_ms : 0;
  for (auto& [realm, rows] : history_rows_) {
    if (rows == 0) continue;
    Reset r(history_trim_age_->s);
    bind_text(history_trim_age_->s, 1, realm);
    bind_int(history_trim_age_->s, 2, static_cast<std::int64_t>(batch));
    bind_int(history_trim_age_->s, 3, static_cast<std::int64_t>(cutoff));
    if (!write(history_trim_age_->s)) return;
    std::uint64_t deleted = static_cast<std::uint64_t>(sqlite3_changes(db_));
    rows -= std::min(rows, deleted);
    if (deleted == batch) age_more_ = true;
  }
  if (age_more_) *more = true;
}

void SqliteStore::flush() {
  if (closed_ || !db_) return;
  bool more = false;
  if (!failed_) {
    enforce_retention(&more);
    reserve_ids();
  }
  if (!in_tx_ && !failed_) return;
  bool ok = !failed_;
  if (in_tx_) {
    if (ok) {
      int rc = sqlite3_step(commit_->s);
      sqlite3_reset(commit_->s);
      if (rc != SQLITE_DONE) {
        fail("COMMIT");
        ok = false;
      }
    }
    if (!ok && !sqlite3_get_autocommit(db_)) {
      sqlite3_step(rollback_->s);
      sqlite3_reset(rollback_->s);
    }
  }
  if (ok) ++commits_;
  if (!ok) {
    // Counts may be off after a rollback: re-read them lazily is not worth it; they only drive
    // retention, which corrects itself (a DELETE of missing rows changes nothing).
    reserved_ = 0;  // the reservation may be lost: write it again next time
  }
  in_tx_ = false;
  failed_ = false;
  encoded_->source = nullptr;
  encoded_->keep.reset();
  std::vector<std::function<void(bool)>> waiting;
  waiting.swap(waiting_);
  for (auto& fn : waiting) fn(ok);
  (void)more;  // the next turn continues a retention that still has rows to delete
}

void SqliteStore::close() {
  if (closed_) return;
  flush();
  closed_ = true;
}

// ---- history and retained ---------------------------------------------------------------

const SqliteStore::Encoded& SqliteStore::encode(const PublicationPtr& publication) {
  Encoded& e = *encoded_;
  if (e.source == publication.get()) return e;
  const Publication& p = *publication;
  e.source = publication.get();
  e.keep = publication;
  e.has_args = !p.args.is_null();
  if (e.has_args) e.args = to_msgpack(p.args);
  e.has_kwargs = !p.kwargs.is_null();
  if (e.has_kwargs) e.kwargs = to_msgpack(p.kwargs);
  e.has_options = p.options.is_object() && !p.options.empty();
  if (e.has_options) e.options = to_msgpack(p.options);
  return e;
}

void SqliteStore::append_history(const std::string& realm, const PublicationPtr& publication) {
  if (closed_) return;
  const Publication& p = *publication;
  const Encoded& e = encode(publication);
  sqlite3_stmt* s = history_insert_->s;
  Reset r(s);
  bind_int(s, 1, static_cast<std::int64_t>(p.id));
  bind_text(s, 2, realm);
  bind_text(s, 3, p.uri);
  bind_blob(s, 4, nullptr);   // parts: the canonical text says them (schema version 2)
  bind_blob(s, 5, e.has_args ? &e.args : nullptr);
  bind_blob(s, 6, e.has_kwargs ? &e.kwargs : nullptr);
  bind_blob(s, 7, p.payload ? &*p.payload : nullptr);
  bind_blob(s, 8, e.has_options ? &e.options : nullptr);
  bind_int(s, 9, static_cast<std::int64_t>(p.publisher));
  bind_text(s, 10, p.publisher_authid);
  bind_text(s, 11, p.publisher_authrole);
  bind_int(s, 12, p.disclose_publisher ? 1 : 0);
  bind_int(s, 13, p.qos);
  bind_int(s, 14, p.retain ? 1 : 0);
  begin();
  bind_int(s, 15, static_cast<std::int64_t>(tx_time_ms_));
  if (write(s)) ++history_rows_[realm];
}

std::vector<PublicationPtr> SqliteStore::history_after(const std::string& realm, Id after,
                                                       const TopicParts& pattern,
                                                       MatchPolicy policy) {
  std::vector<PublicationPtr> out;
  PatternMatcher matcher(pattern, policy);
  sqlite3_stmt* s = history_after_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_int(s, 2, static_cast<std::int64_t>(std::min<Id>(after, kMaxId)));
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    ++rows_examined_;
    if (matcher.literal()) {
      // Cheap reject before decoding the blobs.
      const auto* uri = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
      if (!uri || wamp_uri(pattern) != uri) continue;
    }
    PublicationPtr pub = read_publication(s);
    if (matcher.matches(pub->topic)) out.push_back(std::move(pub));
  }
  if (rc != SQLITE_DONE) log::error(kLog, path_, ": history read: ", sqlite3_errmsg(db_));
  return out;
}

void SqliteStore::put_retained(const std::string& realm, const std::string& key,
                               const PublicationPtr& value) {
  if (closed_) return;
  const Publication& p = *value;
  const Encoded& e = encode(value);
  sqlite3_stmt* s = retained_put_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, key);
  bind_int(s, 3, static_cast<std::int64_t>(p.id));
  bind_text(s, 4, p.uri);
  bind_blob(s, 5, nullptr);
  bind_blob(s, 6, e.has_args ? &e.args : nullptr);
  bind_blob(s, 7, e.has_kwargs ? &e.kwargs : nullptr);
  bind_blob(s, 8, p.payload ? &*p.payload : nullptr);
  bind_blob(s, 9, e.has_options ? &e.options : nullptr);
  bind_int(s, 10, static_cast<std::int64_t>(p.publisher));
  bind_text(s, 11, p.publisher_authid);
  bind_text(s, 12, p.publisher_authrole);
  bind_int(s, 13, p.disclose_publisher ? 1 : 0);
  bind_int(s, 14, p.qos);
  bind_int(s, 15, p.retain ? 1 : 0);
  begin();
  bind_int(s, 16, static_cast<std::int64_t>(tx_time_ms_));
  write(s);
}

PublicationPtr SqliteStore::get_retained(const std::string& realm, const std::string& key) {
  sqlite3_stmt* s = retained_get_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, key);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return read_publication(s);
  if (rc != SQLITE_DONE) log::error(kLog, path_, ": retained read: ", sqlite3_errmsg(db_));
  return nullptr;
}

void SqliteStore::erase_retained(const std::string& realm, const std::string& key) {
  if (closed_) return;
  sqlite3_stmt* s = retained_erase_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, key);
  write(s);
}

std::vector<PublicationPtr> SqliteStore::match_retained(const std::string& realm,
                                                        const TopicParts& pattern,
                                                        MatchPolicy policy) {
  std::vector<PublicationPtr> out;
  PatternMatcher matcher(pattern, policy);
  if (matcher.literal()) {
    if (auto value = get_retained(realm, wamp_uri(pattern))) {
      if (value->topic == pattern) out.push_back(std::move(value));
    }
    return out;
  }
  // A range scan of the keys that start with the pattern's literal prefix (primary key order),
  // then the exact pattern test on each.
  const std::string low = literal_prefix(pattern, policy);
  // `a.#` also matches `a` itself, whose key ("a") is outside the range of "a.": one lookup.
  if (policy == MatchPolicy::kExact && low.size() > 1) {
    const std::size_t literal = static_cast<std::size_t>(std::count(low.begin(), low.end(), '.'));
    if (literal < pattern.size() && pattern[literal] == kAnyParts) {
      if (PublicationPtr parent = get_retained(realm, low.substr(0, low.size() - 1))) {
        ++rows_examined_;
        if (matcher.matches(parent->topic)) out.push_back(std::move(parent));
      }
    }
  }
  std::string high = low;
  high.push_back('\xff');   // above every UTF-8 continuation of `low`
  sqlite3_stmt* s = low.empty() ? retained_realm_->s : retained_range_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  if (!low.empty()) {
    bind_text(s, 2, low);
    bind_text(s, 3, high);
  }
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    ++rows_examined_;
    PublicationPtr pub = read_publication(s);
    if (matcher.matches(pub->topic)) out.push_back(std::move(pub));
  }
  if (rc != SQLITE_DONE) log::error(kLog, path_, ": retained read: ", sqlite3_errmsg(db_));
  return out;
}

std::size_t SqliteStore::retained_count(const std::string& realm) {
  sqlite3_stmt* s = retained_count_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  return sqlite3_step(s) == SQLITE_ROW ? static_cast<std::size_t>(sqlite3_column_int64(s, 0)) : 0;
}

std::unique_ptr<RetainedStore> SqliteStore::retained_store(const std::string& realm) {
  return std::make_unique<SqliteRetained>(*this, realm);
}

std::unique_ptr<HistoryStore> SqliteStore::history_store(const std::string& realm) {
  return std::make_unique<SqliteHistory>(*this, realm);
}

// ---- wills ------------------------------------------------------------------------------

void SqliteStore::put_will(const StoredWill& will) {
  if (closed_) return;
  std::string parts = to_msgpack(Json(will.topic));
  std::string value = to_msgpack(will.value);
  sqlite3_stmt* s = will_put_->s;
  Reset r(s);
  bind_text(s, 1, will.realm);
  bind_text(s, 2, will.key);
  bind_blob(s, 3, &parts);
  bind_blob(s, 4, &value);
  bind_int(s, 5, static_cast<std::int64_t>(will.owner));
  bind_int(s, 6, will.disclose ? 1 : 0);
  bind_text(s, 7, will.authid);
  bind_text(s, 8, will.authrole);
  write(s);
}

void SqliteStore::erase_will(const std::string& realm, const std::string& key) {
  if (closed_) return;
  sqlite3_stmt* s = will_erase_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, key);
  write(s);
}

std::vector<StoredWill> SqliteStore::load_wills() {
  std::vector<StoredWill> out;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "SELECT realm, key, parts, value, owner, disclose, authid, authrole "
                         "FROM wills ORDER BY realm, key",
                         -1, &s, nullptr) != SQLITE_OK) {
    log::error(kLog, path_, ": reading wills: ", sqlite3_errmsg(db_));
    return out;
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    StoredWill w;
    w.realm = text(s, 0);
    w.key = text(s, 1);
    w.topic = wamp_topic_parts(w.key);
    w.value = from_blob(s, 3);
    w.owner = static_cast<Id>(sqlite3_column_int64(s, 4));
    w.disclose = sqlite3_column_int(s, 5) != 0;
    w.authid = text(s, 6);
    w.authrole = text(s, 7);
    out.push_back(std::move(w));
  }
  sqlite3_finalize(s);
  return out;
}

// ---- MQTT sessions ----------------------------------------------------------------------

void SqliteStore::save_session(const std::string& realm, const std::string& client_id,
                               const std::vector<std::pair<std::string, int>>& subscriptions) {
  if (closed_) return;
  Json subs = Json::array();
  for (const auto& [filter, qos] : subscriptions) subs.push_back(Json::array({filter, qos}));
  std::string json = subs.dump(-1, ' ', false, Json::error_handler_t::replace);
  sqlite3_stmt* s = session_put_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_text(s, 3, json);
  write(s);
}

void SqliteStore::delete_session(const std::string& realm, const std::string& client_id) {
  if (closed_) return;
  for (Stmt* stmt : {session_delete_, session_messages_delete_, session_qos2_delete_}) {
    Reset r(stmt->s);
    bind_text(stmt->s, 1, realm);
    bind_text(stmt->s, 2, client_id);
    write(stmt->s);
  }
}

void SqliteStore::save_message(const std::string& realm, const std::string& client_id,
                               const StoredMqttMessage& m) {
  if (closed_) return;
  sqlite3_stmt* s = message_put_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_int(s, 3, static_cast<std::int64_t>(m.seq));
  bind_text(s, 4, m.topic);
  bind_blob(s, 5, &m.payload);
  bind_int(s, 6, m.qos);
  bind_int(s, 7, m.retain ? 1 : 0);
  bind_int(s, 8, m.packet_id);
  bind_int(s, 9, m.stage);
  write(s);
}

void SqliteStore::update_message(const std::string& realm, const std::string& client_id,
                                 std::uint64_t seq, std::uint16_t packet_id, int stage) {
  if (closed_) return;
  sqlite3_stmt* s = message_update_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_int(s, 3, static_cast<std::int64_t>(seq));
  bind_int(s, 4, packet_id);
  bind_int(s, 5, stage);
  write(s);
}

void SqliteStore::delete_message(const std::string& realm, const std::string& client_id,
                                 std::uint64_t seq) {
  if (closed_) return;
  sqlite3_stmt* s = message_delete_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_int(s, 3, static_cast<std::int64_t>(seq));
  write(s);
}

std::vector<StoredMqttSession> SqliteStore::load_mqtt_sessions() {
  std::vector<StoredMqttSession> out;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "SELECT realm, client_id, subscriptions FROM mqtt_sessions "
                         "ORDER BY realm, client_id",
                         -1, &s, nullptr) != SQLITE_OK) {
    log::error(kLog, path_, ": reading MQTT sessions: ", sqlite3_errmsg(db_));
    return out;
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    StoredMqttSession session;
    session.realm = text(s, 0);
    session.client_id = text(s, 1);
    Json subs = Json::parse(text(s, 2), nullptr, false);
    if (subs.is_array()) {
      for (const auto& sub : subs) {
        if (sub.is_array() && sub.size() == 2 && sub[0].is_string() && sub[1].is_number_integer()) {
          session.subscriptions.emplace_back(sub[0].get<std::string>(), sub[1].get<int>());
        }
      }
    }
    out.push_back(std::move(session));
  }
  sqlite3_finalize(s);
  if (sqlite3_prepare_v2(db_,
                         "SELECT seq, topic, payload, qos, retain, packet_id, stage FROM mqtt_messages "
                         "WHERE realm = ?1 AND client_id = ?2 ORDER BY seq",
                         -1, &s, nullptr) != SQLITE_OK) {
    log::error(kLog, path_, ": reading MQTT messages: ", sqlite3_errmsg(db_));
    return out;
  }
  for (auto& session : out) {
    bind_text(s, 1, session.realm);
    bind_text(s, 2, session.client_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
      StoredMqttMessage m;
      m.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
      m.topic = text(s, 1);
      m.payload = blob(s, 2);
      m.qos = sqlite3_column_int(s, 3);
      m.retain = sqlite3_column_int(s, 4) != 0;
      m.packet_id = static_cast<std::uint16_t>(sqlite3_column_int(s, 5));
      m.stage = sqlite3_column_int(s, 6);
      session.messages.push_back(std::move(m));
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  sqlite3_finalize(s);
  if (sqlite3_prepare_v2(db_,
                         "SELECT packet_id FROM mqtt_qos2 WHERE realm = ?1 AND client_id = ?2 "
                         "ORDER BY packet_id",
                         -1, &s, nullptr) != SQLITE_OK) {
    log::error(kLog, path_, ": reading MQTT QoS 2 ids: ", sqlite3_errmsg(db_));
    return out;
  }
  for (auto& session : out) {
    bind_text(s, 1, session.realm);
    bind_text(s, 2, session.client_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
      session.qos2_received.push_back(static_cast<std::uint16_t>(sqlite3_column_int(s, 0)));
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  sqlite3_finalize(s);
  return out;
}

void SqliteStore::save_qos2(const std::string& realm, const std::string& client_id,
                            std::uint16_t packet_id) {
  if (closed_) return;
  sqlite3_stmt* s = qos2_put_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_int(s, 3, packet_id);
  write(s);
}

void SqliteStore::delete_qos2(const std::string& realm, const std::string& client_id,
                              std::uint16_t packet_id) {
  if (closed_) return;
  sqlite3_stmt* s = qos2_delete_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_int(s, 3, packet_id);
  write(s);
}

// ---- MQTT CONNECT wills -------------------------------------------------------------------

void SqliteStore::save_will(const StoredMqttWill& will) {
  if (closed_) return;
  sqlite3_stmt* s = mqtt_will_put_->s;
  Reset r(s);
  bind_text(s, 1, will.realm);
  bind_text(s, 2, will.client_id);
  bind_text(s, 3, will.topic);
  bind_blob(s, 4, &will.payload);
  bind_int(s, 5, will.qos);
  bind_int(s, 6, will.retain ? 1 : 0);
  write(s);
}

void SqliteStore::delete_will(const std::string& realm, const std::string& client_id) {
  if (closed_) return;
  sqlite3_stmt* s = mqtt_will_delete_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  write(s);
}

std::vector<StoredMqttWill> SqliteStore::load_mqtt_wills() {
  std::vector<StoredMqttWill> out;
  Query q(db_, "SELECT realm, client_id, topic, payload, qos, retain FROM mqtt_wills "
               "ORDER BY realm, client_id");
  while (q.step(path_, "reading MQTT wills")) {
    StoredMqttWill w;
    w.realm = text(q.s, 0);
    w.client_id = text(q.s, 1);
    w.topic = text(q.s, 2);
    w.payload = blob(q.s, 3);
    w.qos = sqlite3_column_int(q.s, 4);
    w.retain = sqlite3_column_int(q.s, 5) != 0;
    out.push_back(std::move(w));
  }
  return out;
}

// ---- WAMP testaments ----------------------------------------------------------------------

void SqliteStore::put_testament(const StoredTestament& t) {
  if (closed_) return;
  const std::string args = to_msgpack(t.args), kwargs = to_msgpack(t.kwargs),
                    options = to_msgpack(t.options);
  sqlite3_stmt* s = testament_put_->s;
  Reset r(s);
  bind_text(s, 1, t.realm);
  bind_int(s, 2, static_cast<std::int64_t>(t.owner));
  bind_int(s, 3, static_cast<std::int64_t>(t.seq));
  bind_text(s, 4, t.scope);
  bind_text(s, 5, t.topic);
  bind_blob(s, 6, t.args.is_null() ? nullptr : &args);
  bind_blob(s, 7, t.kwargs.is_null() ? nullptr : &kwargs);
  bind_blob(s, 8, &options);
  bind_text(s, 9, t.authid);
  bind_text(s, 10, t.authrole);
  bind_int(s, 11, t.disclose ? 1 : 0);
  write(s);
}

void SqliteStore::erase_testaments(const std::string& realm, Id owner, const std::string& scope) {
  if (closed_) return;
  sqlite3_stmt* s = testament_erase_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_int(s, 2, static_cast<std::int64_t>(owner));
  bind_text(s, 3, scope);
  write(s);
}

std::vector<StoredTestament> SqliteStore::load_testaments() {
  std::vector<StoredTestament> out;
  Query q(db_, "SELECT realm, owner, seq, scope, topic, args, kwargs, options, authid, authrole, "
               "disclose FROM testaments ORDER BY realm, owner, seq");
  while (q.step(path_, "reading testaments")) {
    StoredTestament t;
    t.realm = text(q.s, 0);
    t.owner = static_cast<Id>(sqlite3_column_int64(q.s, 1));
    t.seq = static_cast<std::uint64_t>(sqlite3_column_int64(q.s, 2));
    t.scope = text(q.s, 3);
    t.topic = text(q.s, 4);
    t.args = from_blob(q.s, 5);
    t.kwargs = from_blob(q.s, 6);
    Json options = from_blob(q.s, 7);
    if (options.is_object()) t.options = std::move(options);
    t.authid = text(q.s, 8);
    t.authrole = text(q.s, 9);
    t.disclose = sqlite3_column_int(q.s, 10) != 0;
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace fox::store
