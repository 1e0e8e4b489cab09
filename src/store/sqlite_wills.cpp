// Wills and testaments in SQLite (the router's WillStore): written when registered, deleted when
// cleared or applied; at start every row belongs to a session of the previous process.
#include <sqlite3.h>

#include "store/sqlite_store.hpp"
#include "store/sqlite_util.hpp"

namespace fox::store {

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
    log::error("store", path_, ": reading wills: ", sqlite3_errmsg(db_));
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
