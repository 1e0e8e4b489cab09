// The ndb role's storage on SQLite (cluster::NdbStorage, SPEC §9): one database file,
// DIR/ndb.sqlite, WAL mode, prepared statements only, the writes of one loop turn in one
// transaction (group commit) — like SqliteStore (README.md), and beside it, not in it: an ndb
// node's history of cluster-wide ids is not a router's event log.
//
//   kept(owner, segment, offset, event)       the events of open segments (KEEP_ADVANCE_HISTORY)
//   history(id, event)                        the permanent history: id = first + offset − 1
//   committed(owner, segment, first, count)   the committed segments, 256 per owner
//
// Events are MessagePack of cluster::event_to_json(event, false); a history event's id is its
// row's id. The node calls flush() at the end of every loop turn: it commits, then calls what
// sync() queued, in order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/ndb.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace fox::store {

class NdbSqlite final : public cluster::NdbStorage {
public:
  static constexpr std::int64_t kSchemaVersion = 1;
  // Committed segments remembered per owner, as Ndb remembers them (cluster/ndb.cpp).
  static constexpr std::size_t kCommittedPerOwner = 256;

  // Creates `dir` if missing and opens or creates DIR/ndb.sqlite (synchronous=FULL when
  // `sync_full`, else NORMAL). nullptr with `error` = one line naming the file and the problem
  // (permissions, corrupt, newer schema, used by another process).
  static std::unique_ptr<NdbSqlite> open(const std::string& dir, bool sync_full, std::string* error);
  ~NdbSqlite() override;   // close()
  NdbSqlite(const NdbSqlite&) = delete;
  NdbSqlite& operator=(const NdbSqlite&) = delete;

  const std::string& path() const { return path_; }

  // cluster::NdbStorage. keep and commit write in the open transaction (begun by the first write
  // after a flush); a failed write makes the whole transaction a rollback at the next flush.
  void keep(const std::string& owner, std::uint64_t segment, std::uint64_t offset,
            const cluster::ClusterEvent& event) override;
  void keep_encoded(const std::string& owner, std::uint64_t segment, std::uint64_t offset,
                    const cluster::ClusterEvent& event, const std::string& bytes) override;
  // The segment's kept rows into history (INSERT OR IGNORE: a repeated commit changes nothing),
  // out of kept; committed gets (owner, segment, first, rows moved), or keeps its row when nothing
  // was kept any more; the owner's committed rows beyond kCommittedPerOwner go (lowest first).
  void commit(const std::string& owner, std::uint64_t segment, Id first) override;
  // `done` is called by the next flush() whose COMMIT succeeds.
  void sync(std::function<void()> done) override;
  // Reads run on the same connection: they see this turn's uncommitted writes.
  std::vector<cluster::ClusterEvent> history(Id from, Id upto, std::size_t max) const override;
  std::vector<KeptSegment> kept_segments() const override;
  std::vector<CommittedSegment> committed_segments() const override;
  void put_history(const std::vector<cluster::ClusterEvent>& events) override;
  Id contiguous(Id from) const override;
  void mark_committed(const std::string& owner, std::uint64_t segment, Id first,
                      std::uint64_t count) override;
  void forget(const std::string& owner, std::uint64_t segment) override;
  void record_close(const std::string& owner, std::uint64_t segment, std::uint64_t count,
                    const std::string& digest) override;
  std::vector<ClosedSegment> closed_segments() const override;

  // Once per loop turn: COMMITs the open transaction (if any), then calls every queued sync()
  // callback in order. A failed write or COMMIT is logged (component "ndb"), rolled back, and the
  // callbacks are dropped, not called (nothing became durable), and flush() returns false. The
  // Ndb in front of it then believes more is stored than is: a node stops on false (restarted,
  // the Ndb recovers what is durable; its entries retransmit the rest). Never throws.
  bool flush();
  // flush(), then closes the database. Afterwards writes are ignored, sync() callbacks are never
  // called and reads return nothing.
  void close();

  // The highest history id, 0 if none.
  Id last_id() const;

private:
  explicit NdbSqlite(std::string path) : path_(std::move(path)) {}
  bool init(bool sync_full, std::string* error);
  bool prepare(sqlite3_stmt** out, const char* sql, std::string* error);
  bool begin();
  bool write(sqlite3_stmt* stmt, const char* what);
  void fail(const char* what);
  // COMMIT (or ROLLBACK after a failure) of the open transaction; false if nothing was committed.
  bool end_transaction();

  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
  sqlite3_stmt* kept_put_ = nullptr;
  sqlite3_stmt* history_move_ = nullptr;
  sqlite3_stmt* kept_delete_ = nullptr;
  sqlite3_stmt* committed_put_ = nullptr;
  sqlite3_stmt* committed_keep_ = nullptr;
  sqlite3_stmt* committed_prune_ = nullptr;
  sqlite3_stmt* history_range_ = nullptr;
  sqlite3_stmt* kept_all_ = nullptr;
  sqlite3_stmt* committed_all_ = nullptr;
  sqlite3_stmt* last_id_ = nullptr;
  sqlite3_stmt* history_put_ = nullptr;
  sqlite3_stmt* history_ids_ = nullptr;
  sqlite3_stmt* closed_put_ = nullptr;
  sqlite3_stmt* closed_delete_ = nullptr;
  sqlite3_stmt* closed_all_ = nullptr;
  void drop_close(const std::string& owner, std::uint64_t segment);
  bool ready_ = false;    // init() prepared every statement
  bool in_tx_ = false;
  bool failed_ = false;   // a write of the open transaction failed: it is rolled back
  std::uint64_t errors_logged_ = 0;
  std::vector<std::function<void()>> waiting_;
  std::string event_buf_;   // the MessagePack of the event being kept (reused)
};

}  // namespace fox::store
