// The event log in SQLite: the `history` table. The engine decides the ids (seeded at open above
// every id of a previous process); a publication is durable once its turn's transaction commits.
#include <sqlite3.h>

#include <algorithm>

#include "store/sqlite_store.hpp"
#include "store/sqlite_util.hpp"

namespace fox::store {

const SqliteStore::Encoded& SqliteStore::encode(const PublicationPtr& publication) {
  Encoded& e = *encoded_;
  if (e.source == publication.get()) return e;
  const Publication& p = *publication;
  e.source = publication.get();
  e.keep = publication;
  e.has_args = !p.args.is_null();
  if (e.has_args) to_msgpack_into(p.args, e.args);
  e.has_kwargs = !p.kwargs.is_null();
  if (e.has_kwargs) to_msgpack_into(p.kwargs, e.kwargs);
  e.has_options = p.options.is_object() && !p.options.empty();
  if (e.has_options) to_msgpack_into(p.options, e.options);
  return e;
}

// The columns a history row and a retained row share, in this order from `first`: topic (uri),
// parts (NULL since schema version 2), args, kwargs, payload, options, publisher, publisher_authid,
// publisher_authrole, disclose, qos, retain.
void SqliteStore::bind_publication(sqlite3_stmt* s, int first, const Publication& p,
                                   const Encoded& e) {
  bind_text(s, first, p.uri);
  bind_blob(s, first + 1, nullptr);
  bind_blob(s, first + 2, e.has_args ? &e.args : nullptr);
  bind_blob(s, first + 3, e.has_kwargs ? &e.kwargs : nullptr);
  bind_blob(s, first + 4, p.payload ? &*p.payload : nullptr);
  bind_blob(s, first + 5, e.has_options ? &e.options : nullptr);
  bind_int(s, first + 6, static_cast<std::int64_t>(p.publisher));
  bind_text(s, first + 7, p.publisher_authid);
  bind_text(s, first + 8, p.publisher_authrole);
  bind_int(s, first + 9, p.disclose_publisher ? 1 : 0);
  bind_int(s, first + 10, p.qos);
  bind_int(s, first + 11, p.retain ? 1 : 0);
}

// The engine decides the id: the next one, above everything stored or reserved. The row is a
// write of the current transaction; the publication is durable (and delivered) after its commit.
Appended SqliteStore::append(const std::string& realm, Publication&& publication) {
  Appended out = append_with_next_id(last_id_, std::move(publication));
  if (closed_) return out;
  const Publication& p = *out.publication;
  const Encoded& e = encode(out.publication);
  sqlite3_stmt* s = history_insert_->s;
  Reset r(s);
  bind_int(s, 1, static_cast<std::int64_t>(p.id));
  bind_text(s, 2, realm);
  bind_publication(s, 3, p, e);
  begin();
  bind_int(s, 15, static_cast<std::int64_t>(tx_time_ms_));
  if (write(s)) ++history_rows_[realm];
  tx_last_id_ = p.id;
  return out;
}

void SqliteStore::on_durable(const Appended& appended, DurableFn fn) {
  // Closed: the row was not written. Nothing uncommitted: it is durable already.
  if (closed_ || (!in_tx_ && !failed_)) {
    fn(appended.publication, !closed_);
    return;
  }
  waiting_.push_back({nullptr, std::move(fn), appended.publication});
}

Id SqliteStore::evicted_upto(const std::string& realm) const {
  auto it = evicted_.find(realm);
  return it == evicted_.end() ? 0 : it->second;
}

void SqliteStore::forget_durable_callbacks() {
  std::erase_if(waiting_, [](const Waiting& w) { return static_cast<bool>(w.durable); });
}

ScanPage<Id> SqliteStore::scan(const std::string& realm, Id after, Id upto,
                               PatternMatcher& pattern) {
  ScanPage<Id> page;
  page.next = upto;
  page.done = true;
  const std::string literal = pattern.literal() ? wamp_uri(pattern.pattern()) : std::string();
  sqlite3_stmt* s = history_after_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_int(s, 2, static_cast<std::int64_t>(std::min<Id>(after, kMaxId)));
  bind_int(s, 3, static_cast<std::int64_t>(std::min<Id>(upto, kMaxId)));
  bind_int(s, 4, static_cast<std::int64_t>(kScanRows));
  std::size_t rows = 0;
  Id last = after;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    ++rows;
    ++rows_examined_;
    last = static_cast<Id>(sqlite3_column_int64(s, 0));
    if (pattern.literal()) {
      // Cheap reject before decoding the blobs.
      const auto* uri = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
      if (!uri || literal != uri) continue;
    }
    PublicationPtr pub = read_publication(s);
    if (pattern.matches(pub->topic)) page.publications.push_back(std::move(pub));
  }
  if (rc != SQLITE_DONE) {
    log::error("store", path_, ": history read: ", sqlite3_errmsg(db_));
    return page;   // done: a read error ends the replay rather than looping on it
  }
  if (rows == kScanRows) {
    page.done = false;
    page.next = last;
  }
  return page;
}

}  // namespace fox::store
