// The SQLite engine ("ndb", SPEC §8): one database file (DIR/fox.db), WAL mode, prepared
// statements only, writes of one loop turn in one transaction (group commit). See README.md.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/storage.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace fox::store {

inline constexpr int kSchemaVersion = 2;

struct SqliteOptions {
  std::string dir = "./fox-data";      // the data directory (created); the file is DIR/fox.db
  bool sync_full = false;              // synchronous=FULL (power-loss safe) instead of NORMAL
  std::uint64_t history_max_rows = 1000000;  // per realm
  std::uint64_t history_max_age_s = 0;       // 0 = no age limit
  std::uint64_t retention_batch = 1000;      // rows deleted per realm and per commit, at most
  std::uint64_t quick_check_max_bytes = 64u * 1024 * 1024;  // PRAGMA quick_check at open up to this size
};

class SqliteStore final : public Storage, public MqttSessionStore {
public:
  // Opens or creates the database. nullptr with `error` = one line naming the file and the
  // problem (unreadable, corrupt, newer schema, locked by another process).
  static std::unique_ptr<SqliteStore> open(const SqliteOptions& options, std::string* error);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  const std::string& path() const { return path_; }
  // Seed for the router's publication ids: at least every id stored and every id reserved by a
  // previous process (ids are reserved ahead in blocks, so an id handed out in a turn that never
  // committed is not reused either).
  Id id_seed() const { return id_seed_; }
  // Where the last id handed out is read at each commit (Router::last_publication_id).
  void set_id_source(std::function<Id()> source) { id_source_ = std::move(source); }
  // Milliseconds since the epoch (history time, age retention). Default: the system clock.
  void set_clock(std::function<std::uint64_t()> now_ms) { clock_ = std::move(now_ms); }

  // Once per loop turn: commits the open transaction (if any), then runs the after_commit
  // actions; enforces retention (a bounded batch). Never throws.
  void flush();
  // Final flush; later writes are ignored and after_commit actions run at once.
  void close();
  bool in_transaction() const { return in_tx_; }
  std::uint64_t commits() const { return commits_; }
  // Rows read by retained and history replays so far (tests: a replay reads no unrelated key).
  std::uint64_t rows_examined() const { return rows_examined_; }
  std::uint64_t history_rows(const std::string& realm) const;

  // CommitGate
  void after_commit(std::function<void(bool ok)> fn) override;
  // Storage
  std::unique_ptr<RetainedStore> retained_store(const std::string& realm) override;
  std::unique_ptr<HistoryStore> history_store(const std::string& realm) override;
  void put_will(const StoredWill& will) override;
  void erase_will(const std::string& realm, const std::string& key) override;
  std::vector<StoredWill> load_wills() override;
  MqttSessionStore* mqtt_sessions() override { return this; }
  // MqttSessionStore
  void save_session(const std::string& realm, const std::string& client_id,
                    const std::vector<std::pair<std::string, int>>& subscriptions) override;
  void delete_session(const std::string& realm, const std::string& client_id) override;
  void save_message(const std::string& realm, const std::string& client_id,
                    const StoredMqttMessage& message) override;
  void update_message(const std::string& realm, const std::string& client_id, std::uint64_t seq,
                      std::uint16_t packet_id, int stage) override;
  void delete_message(const std::string& realm, const std::string& client_id,
                      std::uint64_t seq) override;
  void save_qos2(const std::string& realm, const std::string& client_id,
                 std::uint16_t packet_id) override;
  void delete_qos2(const std::string& realm, const std::string& client_id,
                   std::uint16_t packet_id) override;
  std::vector<StoredMqttSession> load_mqtt_sessions() override;
  void save_will(const StoredMqttWill& will) override;
  void delete_will(const std::string& realm, const std::string& client_id) override;
  std::vector<StoredMqttWill> load_mqtt_wills() override;
  // Storage: testaments
  void put_testament(const StoredTestament& testament) override;
  void erase_testaments(const std::string& realm, Id owner, const std::string& scope) override;
  std::vector<StoredTestament> load_testaments() override;

  // Used by the per-realm engines.
  PublicationPtr get_retained(const std::string& realm, const std::string& key);
  void put_retained(const std::string& realm, const std::string& key, const PublicationPtr& value);
  void erase_retained(const std::string& realm, const std::string& key);
  std::vector<PublicationPtr> match_retained(const std::string& realm, const TopicParts& pattern,
                                             MatchPolicy policy);
  std::size_t retained_count(const std::string& realm);
  void append_history(const std::string& realm, const PublicationPtr& publication);
  std::vector<PublicationPtr> history_after(const std::string& realm, Id after,
                                            const TopicParts& pattern, MatchPolicy policy);

private:
  struct Stmt;
  struct Encoded;   // the blobs of one publication, encoded once
  explicit SqliteStore(SqliteOptions options);
  bool init(std::string* error);
  bool prepare(Stmt*& out, const char* sql, std::string* error);
  bool write(sqlite3_stmt* stmt);   // one statement in the current transaction
  void begin();
  void fail(const char* what);
  void enforce_retention(bool* more);
  void reserve_ids();
  const Encoded& encode(const PublicationPtr& publication);
  std::uint64_t now_ms() const;

  SqliteOptions options_;
  std::string path_;
  sqlite3* db_ = nullptr;
  std::vector<std::unique_ptr<Stmt>> stmts_;
  Stmt *begin_ = nullptr, *commit_ = nullptr, *rollback_ = nullptr;
  Stmt *history_insert_ = nullptr, *history_after_ = nullptr, *history_trim_ = nullptr,
       *history_trim_age_ = nullptr;
  Stmt *retained_put_ = nullptr, *retained_get_ = nullptr, *retained_erase_ = nullptr,
       *retained_range_ = nullptr, *retained_realm_ = nullptr, *retained_count_ = nullptr;
  Stmt *will_put_ = nullptr, *will_erase_ = nullptr;
  Stmt *session_put_ = nullptr, *session_delete_ = nullptr, *session_messages_delete_ = nullptr,
       *message_put_ = nullptr, *message_update_ = nullptr, *message_delete_ = nullptr;
  Stmt *meta_put_ = nullptr;
  Stmt *qos2_put_ = nullptr, *qos2_delete_ = nullptr, *session_qos2_delete_ = nullptr;
  Stmt *mqtt_will_put_ = nullptr, *mqtt_will_delete_ = nullptr;
  Stmt *testament_put_ = nullptr, *testament_erase_ = nullptr;

  bool in_tx_ = false;
  bool failed_ = false;
  bool closed_ = false;
  std::vector<std::function<void(bool)>> waiting_;
  std::unordered_map<std::string, std::uint64_t> history_rows_;   // per realm
  std::uint64_t last_age_check_ms_ = 0;
  std::uint64_t tx_time_ms_ = 0;
  bool age_more_ = false;
  Id id_seed_ = 0;
  Id reserved_ = 0;
  std::function<Id()> id_source_;
  std::function<std::uint64_t()> clock_;
  std::uint64_t commits_ = 0;
  std::uint64_t rows_examined_ = 0;
  std::uint64_t errors_logged_ = 0;
  std::unique_ptr<Encoded> encoded_;
};

}  // namespace fox::store
