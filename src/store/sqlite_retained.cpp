// Retained values in SQLite: the `retained` table, keyed (realm, key), one handle per realm.
#include <sqlite3.h>

#include <algorithm>

#include "store/sqlite_store.hpp"
#include "store/sqlite_util.hpp"

namespace fox::store {
namespace {

class SqliteRetained final : public RetainedState {
public:
  SqliteRetained(SqliteStore& store, std::string realm) : store_(store), realm_(std::move(realm)) {}
  PublicationPtr get(const std::string& key) override { return store_.get_retained(realm_, key); }
  void put(const std::string& key, PublicationPtr value) override {
    store_.put_retained(realm_, key, value);
  }
  void erase(const std::string& key) override { store_.erase_retained(realm_, key); }
  ScanPage<std::string> scan(PatternMatcher& pattern, const std::string& after) override {
    return store_.scan_retained(realm_, pattern, after);
  }
  std::size_t size() override { return store_.retained_count(realm_); }

private:
  SqliteStore& store_;
  std::string realm_;
};

}  // namespace

std::unique_ptr<RetainedState> SqliteStore::retained(const std::string& realm) {
  return std::make_unique<SqliteRetained>(*this, realm);
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
  bind_publication(s, 4, p, e);
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
  if (rc != SQLITE_DONE) log::error("store", path_, ": retained read: ", sqlite3_errmsg(db_));
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

std::size_t SqliteStore::retained_count(const std::string& realm) {
  sqlite3_stmt* s = retained_count_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  return sqlite3_step(s) == SQLITE_ROW ? static_cast<std::size_t>(sqlite3_column_int64(s, 0)) : 0;
}

// A plain topic is one primary-key lookup; a pattern is a range scan of the keys that start with
// its literal prefix (primary key order), kScanRows rows at a time, then the exact pattern test on
// each. `a.#` also matches `a` itself (MQTT-4.7.1-2), whose key "a" is outside the range of "a.":
// one more lookup, before the range.
ScanPage<std::string> SqliteStore::scan_retained(const std::string& realm, PatternMatcher& pattern,
                                                 const std::string& after) {
  ScanPage<std::string> page;
  page.done = true;
  page.next = after;
  if (pattern.literal()) {
    const std::string key = wamp_uri(pattern.pattern());
    if (!after.empty() && key <= after) return page;
    page.next = key;
    if (auto value = get_retained(realm, key)) {
      ++rows_examined_;
      if (value->topic == pattern.pattern()) page.publications.push_back(std::move(value));
    }
    return page;
  }
  const std::string low = literal_prefix(pattern.pattern(), pattern.policy());
  if (pattern.policy() == MatchPolicy::kExact && low.size() > 1) {
    const std::size_t literal = static_cast<std::size_t>(std::count(low.begin(), low.end(), '.'));
    const std::string parent = low.substr(0, low.size() - 1);
    if (literal < pattern.pattern().size() && pattern.pattern()[literal] == kAnyParts &&
        (after.empty() || after < parent)) {
      if (PublicationPtr value = get_retained(realm, parent)) {
        ++rows_examined_;
        if (pattern.matches(value->topic)) page.publications.push_back(std::move(value));
      }
      page.next = parent;
    }
  }
  std::string high = low;
  high.push_back('\xff');   // above every UTF-8 continuation of `low`
  // From after `after` (exclusive), but never below the prefix.
  const bool from_after = !after.empty() && after >= low;
  sqlite3_stmt* s = low.empty() ? retained_realm_->s : retained_range_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, from_after ? after : low);
  bind_int(s, 3, from_after ? 1 : 0);
  if (!low.empty()) bind_text(s, 4, high);
  bind_int(s, 5, static_cast<std::int64_t>(kScanRows));
  std::size_t rows = 0;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    ++rows;
    ++rows_examined_;
    PublicationPtr pub = read_publication(s);
    page.next = pub->uri;
    if (pattern.matches(pub->topic)) page.publications.push_back(std::move(pub));
  }
  if (rc != SQLITE_DONE) {
    log::error("store", path_, ": retained read: ", sqlite3_errmsg(db_));
    return page;
  }
  page.done = rows < kScanRows;
  return page;
}

}  // namespace fox::store
