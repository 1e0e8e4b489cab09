// The SQLite engine ("ndb", SPEC §8): one database file (DIR/fox.db), WAL mode, prepared
// statements only, writes of one loop turn in one transaction (group commit). It is the router's
// engine (event log, retained state, wills) and the MQTT broker's session store. See README.md.
//
// One class, its jobs in one file each:
//   sqlite_store.cpp     open, check, prepared statements, transactions, flush, retention, ids
//   sqlite_schema.cpp    the tables and the migrations between schema versions
//   sqlite_log.cpp       the event log: append (ids), durability, history scans
//   sqlite_retained.cpp  retained values per realm
//   sqlite_wills.cpp     wills and testaments
//   sqlite_mqtt.cpp      MQTT persistent sessions and CONNECT wills
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/env.hpp"
#include "mqtt/session_store.hpp"
#include "router/engine.hpp"
#include "store/sqlite_schema.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace fox::store {

struct SqliteOptions {
  std::string dir = "./fox-data";      // the data directory (created); the file is DIR/fox.db
  bool sync_full = false;              // synchronous=FULL (power-loss safe) instead of NORMAL
  std::uint64_t history_max_rows = 1000000;  // per realm
  std::uint64_t history_max_age_s = 0;       // 0 = no age limit
  std::uint64_t retention_batch = 1000;      // rows deleted per realm and per commit, at most
  std::uint64_t quick_check_max_bytes = 64u * 1024 * 1024;  // PRAGMA quick_check at open up to this size
};

class SqliteStore final : public Engine,
                          public EventLog,
                          public WillStore,
                          public mqtt::SessionStore {
public:
  // Opens or creates the database. nullptr with `error` = one line naming the file and the
  // problem (unreadable, corrupt, newer schema, locked by another process). `env` gives the
  // time (history time, age retention).
  static std::unique_ptr<SqliteStore> open(const SqliteOptions& options, Env& env,
                                           std::string* error);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  const std::string& path() const { return path_; }
  // The first event id this process hands out: above every id stored and every id reserved by
  // a previous process (ids are reserved ahead in blocks, so an id handed out in a turn that
  // never committed is not reused either).
  Id first_id() const { return id_seed_ + 1; }

  // Once per loop turn: commits the open transaction (if any), then runs what waited for it
  // (deliveries, acknowledgements, in order); enforces retention (a bounded batch). Never throws.
  void flush();
  // Final commit; later writes are ignored and what waits for one is told it failed (ok = false).
  void close();
  bool in_transaction() const { return in_tx_; }
  std::uint64_t commits() const { return commits_; }
  // Rows read by retained and history replays so far (tests: a replay reads no unrelated key).
  std::uint64_t rows_examined() const { return rows_examined_; }
  std::uint64_t history_rows(const std::string& realm) const;
  const std::unordered_map<std::string, std::uint64_t>& history_rows() const {
    return history_rows_;
  }

  // Engine
  EventLog& log() override { return *this; }
  std::unique_ptr<RetainedState> retained(const std::string& realm) override;
  WillStore* wills() override { return this; }

  // EventLog
  Appended append(const std::string& realm, Publication&& publication) override;
  void on_durable(const Appended& appended, DurableFn fn) override;
  bool durable_at_once() const override { return false; }
  void forget_durable_callbacks() override;
  Id evicted_upto(const std::string& realm) const override;
  Id durable_id() const override { return durable_id_; }
  ScanPage<Id> scan(const std::string& realm, Id after, Id upto, PatternMatcher& pattern) override;

  // WillStore
  void put_will(const StoredWill& will) override;
  void erase_will(const std::string& realm, const std::string& key) override;
  std::vector<StoredWill> load_wills() override;
  void put_testament(const StoredTestament& testament) override;
  void erase_testaments(const std::string& realm, Id owner, const std::string& scope) override;
  std::vector<StoredTestament> load_testaments() override;

  // mqtt::SessionStore
  void save_session(const std::string& realm, const std::string& client_id,
                    const std::vector<std::pair<std::string, int>>& subscriptions) override;
  void delete_session(const std::string& realm, const std::string& client_id) override;
  void save_message(const std::string& realm, const std::string& client_id,
                    const mqtt::StoredMessage& message) override;
  void update_message(const std::string& realm, const std::string& client_id, std::uint64_t seq,
                      std::uint16_t packet_id, int stage) override;
  void delete_message(const std::string& realm, const std::string& client_id,
                      std::uint64_t seq) override;
  void save_qos2(const std::string& realm, const std::string& client_id,
                 std::uint16_t packet_id) override;
  void delete_qos2(const std::string& realm, const std::string& client_id,
                   std::uint16_t packet_id) override;
  std::vector<mqtt::StoredSession> load_sessions() override;
  void save_connect_will(const mqtt::StoredConnectWill& will) override;
  void delete_connect_will(const std::string& realm, const std::string& client_id) override;
  std::vector<mqtt::StoredConnectWill> load_connect_wills() override;
  void after_commit(std::function<void(bool ok)> fn) override;

  // Used by the per-realm retained state (sqlite_retained.cpp).
  PublicationPtr get_retained(const std::string& realm, const std::string& key);
  void put_retained(const std::string& realm, const std::string& key, const PublicationPtr& value);
  void erase_retained(const std::string& realm, const std::string& key);
  ScanPage<std::string> scan_retained(const std::string& realm, PatternMatcher& pattern,
                                      const std::string& after);
  std::size_t retained_count(const std::string& realm);

private:
  struct Stmt;
  struct Encoded;   // the blobs of one publication, encoded once
  SqliteStore(SqliteOptions options, Env& env);
  bool init(std::string* error);
  bool prepare(Stmt*& out, const char* sql, std::string* error);
  bool write(sqlite3_stmt* stmt);   // one statement in the current transaction
  void begin();
  void fail(const char* what);
  void enforce_retention(bool* more);
  bool trim(sqlite3_stmt* s, const std::string& realm, std::uint64_t* deleted);
  bool commit();                 // the open transaction (false: it failed and was rolled back)
  void run_waiting(bool ok);     // what waited for that commit, in order
  void reserve_ids();
  const Encoded& encode(const PublicationPtr& publication);
  // The columns a history row and a retained row share (sqlite_log.cpp).
  static void bind_publication(sqlite3_stmt* s, int first, const Publication& p, const Encoded& e);

  SqliteOptions options_;
  Env& env_;
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
  // What runs after the commit, in order: an after_commit action or an on_durable one (kept
  // apart so that neither needs a wrapper allocation).
  struct Waiting {
    std::function<void(bool)> fn;
    DurableFn durable;
    PublicationPtr publication;
  };
  std::vector<Waiting> waiting_;
  std::unordered_map<std::string, std::uint64_t> history_rows_;   // per realm
  std::unordered_map<std::string, Id> evicted_;   // per realm: the highest id retention deleted
  std::uint64_t last_age_check_ms_ = 0;
  std::uint64_t tx_time_ms_ = 0;
  bool age_more_ = false;
  Id id_seed_ = 0;        // the highest id of a previous process
  Id last_id_ = 0;        // the last id handed out
  Id durable_id_ = 0;     // every id up to this one is committed
  Id tx_last_id_ = 0;     // the last id appended in the open transaction
  Id reserved_ = 0;
  std::uint64_t commits_ = 0;
  std::uint64_t rows_examined_ = 0;
  std::uint64_t errors_logged_ = 0;
  std::unique_ptr<Encoded> encoded_;
};

}  // namespace fox::store
