// The schema of fox.db and how a database of an older version is brought up to date.
#include "store/sqlite_schema.hpp"

#include <vector>

#include "store/sqlite_util.hpp"

namespace fox::store {
namespace {

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

}  // namespace

bool migrate(sqlite3* db, const std::string& path, std::int64_t version, std::string* error) {
  auto exec = [&](const char* sql) { return exec_sql(db, path, sql, error); };
  for (std::int64_t v = version; v < kSchemaVersion; ++v) {
    if (!exec("BEGIN IMMEDIATE")) return false;
    const Migration& m = kMigrations[v];
    std::string sql = std::string(m.sql) + "PRAGMA user_version=" + std::to_string(v + 1) + ";";
    std::string why;
    if (!exec(sql.c_str()) || (m.rewrite && !m.rewrite(db, &why))) {
      if (!why.empty()) {
        *error = path + ": migration to schema version " + std::to_string(v + 1) + ": " + why;
      }
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return false;
    }
    if (!exec("COMMIT")) return false;
    log::info("store", path, ": schema version ", v + 1);
  }
  return true;
}

}  // namespace fox::store
