// Internal to store/: the small SQLite helpers the engine's files share (binding, reading a
// publication back, statement RAII). Not part of any interface.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/json.hpp"
#include "core/log.hpp"
#include "core/topic.hpp"
#include "router/types.hpp"
#include "store/sqlite_store.hpp"

namespace fox::store {

// The columns a Publication is read from, same order for history and retained.
#define FOX_PUB_COLUMNS \
  "id, topic, parts, args, kwargs, payload, options, publisher, publisher_authid, " \
  "publisher_authrole, disclose, qos, retain"

inline std::string to_msgpack(const Json& j) {
  std::string out;
  Json::to_msgpack(j, out);
  return out;
}

// The same into a reused buffer (the publication blobs: no allocation once it is large enough).
inline void to_msgpack_into(const Json& j, std::string& out) {
  out.clear();
  Json::to_msgpack(j, nlohmann::detail::output_adapter<char>(out));
}

inline Json from_blob(sqlite3_stmt* s, int col) {
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

// Opens the database file (created if missing) for this thread only; false with *error naming
// the file.
inline bool open_db(const std::string& path, sqlite3** db, std::string* error) {
  if (sqlite3_open_v2(path.c_str(), db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) == SQLITE_OK) {
    return true;
  }
  *error = path + ": cannot open: " + (*db ? sqlite3_errmsg(*db) : "out of memory");
  return false;
}

// Runs SQL text; false with *error = the file and SQLite's reason.
inline bool exec_sql(sqlite3* db, const std::string& path, const char* sql, std::string* error) {
  char* msg = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) == SQLITE_OK) return true;
  *error = path + ": " + (msg ? msg : sqlite3_errmsg(db));
  sqlite3_free(msg);
  return false;
}

inline std::string text(sqlite3_stmt* s, int col);

// One row, one column (a pragma's answer: text and/or integer; no row gives "" / 0); false
// with *error = the file and SQLite's reason.
inline bool query_one(sqlite3* db, const std::string& path, const char* sql, std::string* text_out,
                      std::int64_t* int_out, std::string* error) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
  if (int_out) *int_out = 0;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      if (text_out) *text_out = text(s, 0);
      if (int_out) *int_out = sqlite3_column_int64(s, 0);
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK) *error = path + ": " + sqlite3_errmsg(db);
  sqlite3_finalize(s);
  return rc == SQLITE_OK;
}

inline std::string text(sqlite3_stmt* s, int col) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : std::string();
}

inline std::string blob(sqlite3_stmt* s, int col) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : std::string();
}

inline void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
// NULL for an empty optional blob.
inline void bind_blob(sqlite3_stmt* s, int i, const std::string* v) {
  if (!v) {
    sqlite3_bind_null(s, i);
  } else {
    sqlite3_bind_blob(s, i, v->data(), static_cast<int>(v->size()), SQLITE_STATIC);
  }
}
inline void bind_int(sqlite3_stmt* s, int i, std::int64_t v) { sqlite3_bind_int64(s, i, v); }

// Reads a publication from columns FOX_PUB_COLUMNS starting at 0.
inline PublicationPtr read_publication(sqlite3_stmt* s) {
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
inline std::string literal_prefix(const TopicParts& pattern, MatchPolicy policy) {
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


// The private parts of SqliteStore every sqlite_*.cpp uses.
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


}  // namespace fox::store
