#include "store/sqlite_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

#include "core/metrics.hpp"
#include "store/file_access.hpp"
#include "store/sqlite_util.hpp"

namespace fox::store {
namespace {

constexpr const char* kLog = "store";
// Ids are reserved this far ahead of the last id handed out, renewed at half.
constexpr Id kReserveChunk = Id{1} << 20;

}  // namespace

SqliteStore::SqliteStore(SqliteOptions options, Env& env)
    : options_(std::move(options)), env_(env), encoded_(std::make_unique<Encoded>()) {}

SqliteStore::~SqliteStore() {
  if (db_) {
    // A store whose open failed may lack the statements flush() needs (they are prepared up
    // to meta_put_): it is not flushed.
    if (!closed_ && meta_put_) close();
    stmts_.clear();
    sqlite3_close_v2(db_);
  }
}

std::unique_ptr<SqliteStore> SqliteStore::open(const SqliteOptions& options, Env& env,
                                               std::string* error) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(options, env));
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
  if (!open_db(path_, &db_, error)) return false;
  auto exec = [&](const char* sql) { return exec_sql(db_, path_, sql, error); };
  auto query_int = [&](const char* sql, std::int64_t* out) {
    return query_one(db_, path_, sql, nullptr, out, error);
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
  if (!migrate(db_, path_, version, error)) return false;

  const bool ok =
      prepare(begin_, "BEGIN", error) && prepare(commit_, "COMMIT", error) &&
      prepare(rollback_, "ROLLBACK", error) &&
      prepare(history_insert_,
              "INSERT INTO history(id, realm, topic, parts, args, kwargs, payload, options, "
              "publisher, publisher_authid, publisher_authrole, disclose, qos, retain, time_ms) "
              "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
              error) &&
      prepare(history_after_,
              "SELECT " FOX_PUB_COLUMNS " FROM history WHERE realm = ?1 AND id > ?2 AND id <= ?3 "
              "ORDER BY id LIMIT ?4",
              error) &&
      prepare(history_trim_,
              "DELETE FROM history WHERE id IN "
              "(SELECT id FROM history WHERE realm = ?1 ORDER BY id LIMIT ?2) RETURNING id",
              error) &&
      prepare(history_trim_age_,
              "DELETE FROM history WHERE id IN "
              "(SELECT id FROM history WHERE realm = ?1 ORDER BY id LIMIT ?2) AND time_ms < ?3 "
              "RETURNING id",
              error) &&
      prepare(retained_put_,
              "INSERT OR REPLACE INTO retained(realm, key, id, topic, parts, args, kwargs, payload, "
              "options, publisher, publisher_authid, publisher_authrole, disclose, qos, retain, "
              "time_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
              error) &&
      prepare(retained_get_,
              "SELECT " FOX_PUB_COLUMNS " FROM retained WHERE realm = ?1 AND key = ?2", error) &&
      prepare(retained_erase_, "DELETE FROM retained WHERE realm = ?1 AND key = ?2", error) &&
      // From key ?2 (?2 itself left out when ?3 = 1) below ?4, at most ?5 rows (the index
      // range stays key >= ?2); _realm_: no upper bound.
      prepare(retained_range_,
              "SELECT " FOX_PUB_COLUMNS " FROM retained WHERE realm = ?1 AND "
              "key >= ?2 AND (?3 = 0 OR key <> ?2) AND key < ?4 ORDER BY key LIMIT ?5",
              error) &&
      prepare(retained_realm_,
              "SELECT " FOX_PUB_COLUMNS " FROM retained WHERE realm = ?1 AND "
              "key >= ?2 AND (?3 = 0 OR key <> ?2) ORDER BY key LIMIT ?5",
              error) &&
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
  last_id_ = durable_id_ = reserved_ = id_seed_;
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
  reserve_ids();
  flush();
  if (commits_ == 0) {
    *error = path_ + ": cannot write: " + sqlite3_errmsg(db_);
    return false;
  }
  return true;
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
  tx_time_ms_ = env_.now_ms();   // one clock read per transaction: the time of the loop turn
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
  // After a failed statement the turn is lost (SQLite may have rolled it back already): no later
  // write of it may commit on its own.
  if (closed_ || failed_) return false;
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
  // Closed: the writes it waits for were ignored. Nothing uncommitted: they are durable already.
  if (closed_) {
    fn(false);
    return;
  }
  if (!in_tx_ && !failed_) {
    fn(true);
    return;
  }
  waiting_.push_back({std::move(fn), nullptr, nullptr});
}

void SqliteStore::reserve_ids() {
  const Id last = last_id_;
  if (last + kReserveChunk / 2 < reserved_) return;
  reserved_ = last + kReserveChunk;
  Reset r(meta_put_->s);
  sqlite3_bind_text(meta_put_->s, 1, "reserved_id", -1, SQLITE_STATIC);
  bind_int(meta_put_->s, 2, static_cast<std::int64_t>(reserved_));
  write(meta_put_->s);
}

// One retention DELETE ... RETURNING id of `realm`: how many rows went, and the highest id gone
// (evicted_upto: a replay that has not read so far yet knows it lost rows).
bool SqliteStore::trim(sqlite3_stmt* s, const std::string& realm, std::uint64_t* deleted) {
  *deleted = 0;
  if (closed_ || failed_) return false;
  begin();
  if (!in_tx_) return false;
  Id top = 0;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    ++*deleted;
    top = std::max(top, static_cast<Id>(sqlite3_column_int64(s, 0)));
  }
  if (rc != SQLITE_DONE) {
    fail("retention");
    return false;
  }
  if (top != 0) {
    Id& evicted = evicted_[realm];
    evicted = std::max(evicted, top);
  }
  return true;
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
      std::uint64_t deleted = 0;
      if (!trim(history_trim_->s, realm, &deleted)) return;
      rows -= std::min(rows, deleted);
      if (rows > options_.history_max_rows) *more = true;
    }
  }
  if (options_.history_max_age_s == 0) return;
  const std::uint64_t now = env_.now_ms();
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
    std::uint64_t deleted = 0;
    if (!trim(history_trim_age_->s, realm, &deleted)) return;
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
  run_waiting(commit());
  (void)more;  // the next turn continues a retention that still has rows to delete
}

bool SqliteStore::commit() {
  bool ok = !failed_;
  if (in_tx_) {
    if (ok) {
      // The commit's latency for /metrics only (nothing decides on it): a real clock, not Env's
      // millisecond one.
      const auto started = std::chrono::steady_clock::now();
      int rc = sqlite3_step(commit_->s);
      sqlite3_reset(commit_->s);
      metrics::counters().sqlite_commit.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
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
  if (ok) {
    ++commits_;
    durable_id_ = std::max(durable_id_, tx_last_id_);
  }
  tx_last_id_ = 0;
  if (!ok) {
    // Counts may be off after a rollback: re-read them lazily is not worth it; they only drive
    // retention, which corrects itself (a DELETE of missing rows changes nothing).
    reserved_ = 0;  // the reservation may be lost: write it again next time
  }
  in_tx_ = false;
  failed_ = false;
  encoded_->source = nullptr;
  encoded_->keep.reset();
  return ok;
}

void SqliteStore::run_waiting(bool ok) {
  // What the callbacks add (a later turn's writes) goes to waiting_ again; the vector's capacity
  // is kept for the next turn.
  std::vector<Waiting> waiting;
  waiting.swap(waiting_);
  for (Waiting& w : waiting) {
    if (w.durable) {
      w.durable(w.publication, ok);
    } else {
      w.fn(ok);
    }
  }
  waiting.clear();
  if (waiting_.empty()) waiting_.swap(waiting);
}

void SqliteStore::close() {
  if (closed_) return;
  // The last turn is committed; what waited for it runs after closed_ is set, so whatever those
  // callbacks write is ignored instead of opening a transaction nobody commits.
  const bool ok = in_tx_ || failed_ ? commit() : true;
  closed_ = true;
  run_waiting(ok);
}

}  // namespace fox::store
