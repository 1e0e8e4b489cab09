#include "store/ndb_sqlite.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <system_error>

#include "store/file_access.hpp"
#include "store/sqlite_util.hpp"

namespace fox::store {
namespace {

constexpr const char* kLog = "ndb";
// A database up to this size gets PRAGMA quick_check at open (as SqliteStore's default).
constexpr std::uintmax_t kQuickCheckMaxBytes = 64u * 1024 * 1024;

constexpr const char* kSchema = R"sql(
CREATE TABLE kept(
  owner TEXT NOT NULL, segment INTEGER NOT NULL, offset INTEGER NOT NULL, event BLOB NOT NULL,
  PRIMARY KEY(owner, segment, offset)) WITHOUT ROWID;
CREATE TABLE history(id INTEGER PRIMARY KEY, event BLOB NOT NULL);
CREATE TABLE committed(
  owner TEXT NOT NULL, segment INTEGER NOT NULL, first INTEGER NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY(owner, segment)) WITHOUT ROWID;
CREATE TABLE closed(
  owner TEXT NOT NULL, segment INTEGER NOT NULL, count INTEGER NOT NULL, digest BLOB NOT NULL,
  PRIMARY KEY(owner, segment)) WITHOUT ROWID;
PRAGMA user_version=1;
)sql";

// Numbers of the protocol are at most 2^53; anything larger is clamped, never negative in SQL.
std::int64_t sql_int(std::uint64_t v) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(v, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
}

}  // namespace

std::unique_ptr<NdbSqlite> NdbSqlite::open(const std::string& dir, bool sync_full, std::string* error) {
  const std::string d = dir.empty() ? std::string(".") : dir;
  std::error_code ec;
  std::filesystem::create_directories(d, ec);
  if (ec) {
    *error = cannot_create_dir(d, ec.message());
    return nullptr;
  }
  std::unique_ptr<NdbSqlite> db(new NdbSqlite((std::filesystem::path(d) / "ndb.sqlite").string()));
  // Before SQLite reads anything: it would call an unreadable file "disk I/O error".
  if (std::string why = permission_problem(d, db->path_); !why.empty()) {
    *error = why;
    return nullptr;
  }
  if (!db->init(sync_full, error)) return nullptr;
  return db;
}

NdbSqlite::~NdbSqlite() { close(); }

bool NdbSqlite::prepare(sqlite3_stmt** out, const char* sql, std::string* error) {
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, out, nullptr) != SQLITE_OK) {
    *error = path_ + ": " + sqlite3_errmsg(db_) + " (unexpected schema; is this a fox ndb database?)";
    return false;
  }
  return true;
}

bool NdbSqlite::init(bool sync_full, std::string* error) {
  if (!open_db(path_, &db_, error)) return false;
  auto exec = [&](const char* sql) { return exec_sql(db_, path_, sql, error); };
  auto query = [&](const char* sql, std::string* text_out, std::int64_t* int_out) {
    return query_one(db_, path_, sql, text_out, int_out, error);
  };
  // One process owns the database (no -shm file; a second one on the same file is refused).
  if (!exec("PRAGMA locking_mode=EXCLUSIVE")) return false;
  sqlite3_busy_timeout(db_, 0);
  // Reading the schema is the first real read: garbage gives "file is not a database".
  std::int64_t tables = 0;
  if (!query("SELECT count(*) FROM sqlite_master", nullptr, &tables)) {
    const int code = sqlite3_errcode(db_);
    *error += code == SQLITE_BUSY || code == SQLITE_LOCKED
                  ? " (another process uses it: is another fox running on this data directory?)"
                  : " (corrupt or not a SQLite database; move it away to start empty)";
    return false;
  }
  std::int64_t version = 0;
  if (!query("PRAGMA user_version", nullptr, &version)) return false;
  if (version > kSchemaVersion) {
    *error = path_ + ": schema version " + std::to_string(version) +
             " is newer than this fox supports (" + std::to_string(kSchemaVersion) +
             "); refusing to start (use a newer fox)";
    return false;
  }
  std::string journal;
  if (!query("PRAGMA journal_mode=WAL", &journal, nullptr)) return false;
  if (journal != "wal") {
    *error = path_ + ": cannot switch to WAL mode (journal mode is " + journal + ")";
    return false;
  }
  if (!exec(sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL")) return false;
  std::error_code size_ec;
  const auto size = std::filesystem::file_size(path_, size_ec);
  if (!size_ec && size <= kQuickCheckMaxBytes && tables > 0) {
    std::string result;
    if (!query("PRAGMA quick_check(1)", &result, nullptr)) {
      *error += " (corrupt database)";
      return false;
    }
    if (result != "ok") {
      *error = path_ + ": integrity check failed: " + result + " (corrupt database)";
      return false;
    }
  }
  if (version == 0) {
    if (!exec("BEGIN IMMEDIATE")) return false;
    if (!exec(kSchema)) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return false;
    }
    if (!exec("COMMIT")) return false;
    log::info(kLog, path_, ": schema version ", kSchemaVersion);
  }

  ready_ = prepare(&begin_, "BEGIN", error) && prepare(&commit_, "COMMIT", error) &&
         prepare(&rollback_, "ROLLBACK", error) &&
         prepare(&kept_put_,
                 "INSERT OR REPLACE INTO kept(owner, segment, offset, event) VALUES(?1, ?2, ?3, ?4)",
                 error) &&
         prepare(&history_move_,
                 "INSERT OR IGNORE INTO history(id, event) SELECT ?3 + offset - 1, event FROM kept "
                 "WHERE owner = ?1 AND segment = ?2",
                 error) &&
         prepare(&kept_delete_, "DELETE FROM kept WHERE owner = ?1 AND segment = ?2", error) &&
         prepare(&committed_put_,
                 "INSERT OR REPLACE INTO committed(owner, segment, first, count) "
                 "VALUES(?1, ?2, ?3, ?4)",
                 error) &&
         // Nothing was kept any more (a repeated commit): the row of the first one stays; an
         // empty segment gets one with count 0.
         prepare(&committed_keep_,
                 "INSERT OR IGNORE INTO committed(owner, segment, first, count) "
                 "VALUES(?1, ?2, ?3, 0)",
                 error) &&
         // As Ndb forgets: the segment just committed stays, with the ?3 highest others.
         prepare(&committed_prune_,
                 "DELETE FROM committed WHERE owner = ?1 AND segment <> ?2 AND segment NOT IN "
                 "(SELECT segment FROM committed WHERE owner = ?1 AND segment <> ?2 "
                 "ORDER BY segment DESC LIMIT ?3)",
                 error) &&
         prepare(&history_range_,
                 "SELECT id, event FROM history WHERE id >= ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
                 error) &&
         prepare(&kept_all_,
                 "SELECT owner, segment, offset, event FROM kept ORDER BY owner, segment, offset",
                 error) &&
         prepare(&committed_all_,
                 "SELECT owner, segment, first, count FROM committed ORDER BY owner, segment",
                 error) &&
         prepare(&last_id_, "SELECT coalesce(max(id), 0) FROM history", error) &&
         prepare(&history_put_, "INSERT OR IGNORE INTO history(id, event) VALUES(?1, ?2)", error) &&
         prepare(&history_ids_, "SELECT id FROM history WHERE id >= ?1 ORDER BY id LIMIT 512",
                 error) &&
         prepare(&closed_put_,
                 "INSERT OR REPLACE INTO closed(owner, segment, count, digest) VALUES(?1, ?2, ?3, ?4)",
                 error) &&
         prepare(&closed_delete_, "DELETE FROM closed WHERE owner = ?1 AND segment = ?2", error) &&
         prepare(&closed_all_, "SELECT owner, segment, count, digest FROM closed", error);
  return ready_;
}

// ---- transactions ------------------------------------------------------------------------

void NdbSqlite::fail(const char* what) {
  failed_ = true;
  ++errors_logged_;
  if (errors_logged_ <= 10 || errors_logged_ % 1000 == 0) {
    log::error(kLog, path_, ": ", what, ": ", sqlite3_errmsg(db_), " (", errors_logged_,
               " errors so far); this turn's writes are rolled back, its syncs never reported");
  }
}

bool NdbSqlite::begin() {
  if (in_tx_) return true;
  const int rc = sqlite3_step(begin_);
  sqlite3_reset(begin_);
  if (rc != SQLITE_DONE) {
    fail("BEGIN");
    return false;
  }
  in_tx_ = true;
  return true;
}

bool NdbSqlite::write(sqlite3_stmt* stmt, const char* what) {
  // After a failed statement the transaction is lost (SQLite may have rolled it back already):
  // no later write of it may commit on its own.
  if (!db_ || failed_ || !begin()) return false;
  const int rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fail(what);
    return false;
  }
  return true;
}

bool NdbSqlite::end_transaction() {
  bool ok = !failed_;
  if (in_tx_ && ok) {
    const int rc = sqlite3_step(commit_);
    sqlite3_reset(commit_);
    if (rc != SQLITE_DONE) {
      fail("COMMIT");
      ok = false;
    }
  }
  if (!ok && !sqlite3_get_autocommit(db_)) {
    sqlite3_step(rollback_);
    sqlite3_reset(rollback_);
  }
  in_tx_ = false;
  failed_ = false;
  return ok;
}

bool NdbSqlite::flush() {
  if (!db_) return true;
  const bool ok = end_transaction();
  // What the callbacks queue (sync() again) waits for the next flush.
  std::vector<std::function<void()>> done;
  done.swap(waiting_);
  if (!ok) {
    log::error(kLog, path_, ": the transaction was rolled back; ", done.size(),
               " waiting syncs dropped (their entries send again)");
    return false;
  }
  for (std::function<void()>& fn : done) fn();
  return true;
}

void NdbSqlite::close() {
  if (!db_) return;
  if (ready_) {   // not a database whose open failed halfway
    flush();
    // What the last callbacks wrote; nobody is told any more.
    if (in_tx_ || failed_) end_transaction();
  }
  waiting_.clear();
  for (sqlite3_stmt** s : {&begin_, &commit_, &rollback_, &kept_put_, &history_move_, &kept_delete_,
                           &committed_put_, &committed_keep_, &committed_prune_, &history_range_,
                           &kept_all_, &committed_all_, &last_id_, &history_put_,
                           &history_ids_, &closed_put_, &closed_delete_, &closed_all_}) {
    sqlite3_finalize(*s);
    *s = nullptr;
  }
  sqlite3_close_v2(db_);
  db_ = nullptr;
}

// ---- writes ------------------------------------------------------------------------------

void NdbSqlite::keep(const std::string& owner, std::uint64_t segment, std::uint64_t offset,
                     const cluster::ClusterEvent& event) {
  if (!db_ || failed_) return;
  keep_encoded(owner, segment, offset, event, cluster::event_bytes(event));
}

void NdbSqlite::keep_encoded(const std::string& owner, std::uint64_t segment, std::uint64_t offset,
                             const cluster::ClusterEvent& /*event*/, const std::string& bytes) {
  if (!db_ || failed_) return;
  event_buf_ = bytes;
  Reset r(kept_put_);
  bind_text(kept_put_, 1, owner);
  bind_int(kept_put_, 2, sql_int(segment));
  bind_int(kept_put_, 3, sql_int(offset));
  bind_blob(kept_put_, 4, &event_buf_);
  write(kept_put_, "keep");
}

void NdbSqlite::commit(const std::string& owner, std::uint64_t segment, Id first) {
  drop_close(owner, segment);
  if (!db_ || failed_) return;
  {
    Reset r(history_move_);
    bind_text(history_move_, 1, owner);
    bind_int(history_move_, 2, sql_int(segment));
    bind_int(history_move_, 3, sql_int(first));
    if (!write(history_move_, "commit (history)")) return;
  }
  int moved = 0;
  {
    Reset r(kept_delete_);
    bind_text(kept_delete_, 1, owner);
    bind_int(kept_delete_, 2, sql_int(segment));
    if (!write(kept_delete_, "commit (kept)")) return;
    moved = sqlite3_changes(db_);
  }
  {
    sqlite3_stmt* s = moved > 0 ? committed_put_ : committed_keep_;
    Reset r(s);
    bind_text(s, 1, owner);
    bind_int(s, 2, sql_int(segment));
    bind_int(s, 3, sql_int(first));
    if (moved > 0) bind_int(s, 4, moved);
    if (!write(s, "commit (committed)")) return;
  }
  Reset r(committed_prune_);
  bind_text(committed_prune_, 1, owner);
  bind_int(committed_prune_, 2, sql_int(segment));
  bind_int(committed_prune_, 3, static_cast<std::int64_t>(kCommittedPerOwner - 1));
  write(committed_prune_, "commit (forget old segments)");
}

void NdbSqlite::sync(std::function<void()> done) {
  if (!db_) return;   // closed: nothing becomes durable any more
  waiting_.push_back(std::move(done));
}

// ---- reads -------------------------------------------------------------------------------

std::vector<cluster::ClusterEvent> NdbSqlite::history(Id from, Id upto, std::size_t max) const {
  std::vector<cluster::ClusterEvent> out;
  if (!db_ || max == 0 || from > upto) return out;
  Reset r(history_range_);
  bind_int(history_range_, 1, sql_int(from));
  bind_int(history_range_, 2, sql_int(upto));
  bind_int(history_range_, 3, sql_int(max));
  int rc;
  while ((rc = sqlite3_step(history_range_)) == SQLITE_ROW) {
    const auto id = static_cast<Id>(sqlite3_column_int64(history_range_, 0));
    cluster::ClusterEvent e;
    std::string why;
    if (!cluster::event_from_json(from_blob(history_range_, 1), &e, &why)) {
      log::error(kLog, path_, ": history id ", id, ": ", why, " (corrupt row, left out)");
      continue;
    }
    e.id = id;
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) log::error(kLog, path_, ": history: ", sqlite3_errmsg(db_));
  return out;
}

std::vector<cluster::NdbStorage::KeptSegment> NdbSqlite::kept_segments() const {
  std::vector<KeptSegment> out;
  if (!db_) return out;
  Reset r(kept_all_);
  bool gap = false;   // the current segment stopped at a missing (or unreadable) offset
  int rc;
  while ((rc = sqlite3_step(kept_all_)) == SQLITE_ROW) {
    std::string owner = text(kept_all_, 0);
    const auto segment = static_cast<std::uint64_t>(sqlite3_column_int64(kept_all_, 1));
    const auto offset = static_cast<std::uint64_t>(sqlite3_column_int64(kept_all_, 2));
    if (out.empty() || out.back().owner != owner || out.back().segment != segment) {
      out.push_back({std::move(owner), segment, {}});
      gap = false;
    }
    KeptSegment& k = out.back();
    if (gap) continue;
    if (offset != k.events.size() + 1) {
      gap = true;
      continue;
    }
    cluster::ClusterEvent e;
    std::string why;
    if (!cluster::event_from_json(from_blob(kept_all_, 3), &e, &why)) {
      log::error(kLog, path_, ": kept ", k.owner, "/", segment, " offset ", offset, ": ", why,
                 " (corrupt row: the segment is kept up to the offset before)");
      gap = true;
      continue;
    }
    k.events.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) log::error(kLog, path_, ": kept segments: ", sqlite3_errmsg(db_));
  return out;
}

std::vector<cluster::NdbStorage::CommittedSegment> NdbSqlite::committed_segments() const {
  std::vector<CommittedSegment> out;
  if (!db_) return out;
  Reset r(committed_all_);
  int rc;
  while ((rc = sqlite3_step(committed_all_)) == SQLITE_ROW) {
    CommittedSegment c;
    c.owner = text(committed_all_, 0);
    c.segment = static_cast<std::uint64_t>(sqlite3_column_int64(committed_all_, 1));
    c.first = static_cast<Id>(sqlite3_column_int64(committed_all_, 2));
    c.count = static_cast<std::uint64_t>(sqlite3_column_int64(committed_all_, 3));
    out.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) log::error(kLog, path_, ": committed segments: ", sqlite3_errmsg(db_));
  return out;
}

void NdbSqlite::put_history(const std::vector<cluster::ClusterEvent>& events) {
  for (const cluster::ClusterEvent& e : events) {
    if (!db_ || failed_) return;
    to_msgpack_into(cluster::event_to_json(e, false), event_buf_);
    Reset r(history_put_);
    bind_int(history_put_, 1, sql_int(e.id));
    bind_blob(history_put_, 2, &event_buf_);
    if (!write(history_put_, "history from a peer")) return;
  }
}

Id NdbSqlite::contiguous(Id from) const {
  Id next = from;   // the next id that must be there
  if (!db_ || from == 0) return from == 0 ? 0 : from - 1;
  for (;;) {
    Reset r(history_ids_);
    bind_int(history_ids_, 1, sql_int(next));
    std::size_t rows = 0;
    while (sqlite3_step(history_ids_) == SQLITE_ROW) {
      ++rows;
      if (static_cast<Id>(sqlite3_column_int64(history_ids_, 0)) != next) return next - 1;
      ++next;
    }
    if (rows < 512) return next - 1;
  }
}

void NdbSqlite::mark_committed(const std::string& owner, std::uint64_t segment, Id first,
                               std::uint64_t count) {
  drop_close(owner, segment);
  if (!db_ || failed_) return;
  {
    Reset r(kept_delete_);
    bind_text(kept_delete_, 1, owner);
    bind_int(kept_delete_, 2, sql_int(segment));
    if (!write(kept_delete_, "caught up (kept)")) return;
  }
  {
    Reset r(committed_put_);
    bind_text(committed_put_, 1, owner);
    bind_int(committed_put_, 2, sql_int(segment));
    bind_int(committed_put_, 3, sql_int(first));
    bind_int(committed_put_, 4, sql_int(count));
    if (!write(committed_put_, "caught up (committed)")) return;
  }
  Reset r(committed_prune_);
  bind_text(committed_prune_, 1, owner);
  bind_int(committed_prune_, 2, sql_int(segment));
  bind_int(committed_prune_, 3, static_cast<std::int64_t>(kCommittedPerOwner - 1));
  write(committed_prune_, "caught up (forget old segments)");
}

void NdbSqlite::record_close(const std::string& owner, std::uint64_t segment, std::uint64_t count,
                             const std::string& digest) {
  if (!db_ || failed_) return;
  Reset r(closed_put_);
  bind_text(closed_put_, 1, owner);
  bind_int(closed_put_, 2, sql_int(segment));
  bind_int(closed_put_, 3, sql_int(count));
  sqlite3_bind_blob(closed_put_, 4, digest.data(), static_cast<int>(digest.size()), SQLITE_STATIC);
  write(closed_put_, "record a close");
}

void NdbSqlite::drop_close(const std::string& owner, std::uint64_t segment) {
  if (!db_ || failed_) return;
  Reset r(closed_delete_);
  bind_text(closed_delete_, 1, owner);
  bind_int(closed_delete_, 2, sql_int(segment));
  write(closed_delete_, "drop a close");
}

std::vector<cluster::NdbStorage::ClosedSegment> NdbSqlite::closed_segments() const {
  std::vector<ClosedSegment> out;
  if (!db_) return out;
  Reset r(closed_all_);
  while (sqlite3_step(closed_all_) == SQLITE_ROW) {
    ClosedSegment c;
    c.owner = text(closed_all_, 0);
    c.segment = static_cast<std::uint64_t>(sqlite3_column_int64(closed_all_, 1));
    c.count = static_cast<std::uint64_t>(sqlite3_column_int64(closed_all_, 2));
    c.digest = blob(closed_all_, 3);
    out.push_back(std::move(c));
  }
  return out;
}

void NdbSqlite::forget(const std::string& owner, std::uint64_t segment) {
  drop_close(owner, segment);
  if (!db_ || failed_) return;
  Reset r(kept_delete_);
  bind_text(kept_delete_, 1, owner);
  bind_int(kept_delete_, 2, sql_int(segment));
  write(kept_delete_, "forget an abandoned segment");
}

Id NdbSqlite::last_id() const {
  if (!db_) return 0;
  Reset r(last_id_);
  if (sqlite3_step(last_id_) != SQLITE_ROW) {
    log::error(kLog, path_, ": last id: ", sqlite3_errmsg(db_));
    return 0;
  }
  return static_cast<Id>(sqlite3_column_int64(last_id_, 0));
}

}  // namespace fox::store
