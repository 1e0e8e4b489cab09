#include "store/memory_engine.hpp"

#include <algorithm>

#include "core/ids.hpp"
#include "core/topic.hpp"

namespace fox::store {

namespace {

class MemoryRetained final : public RetainedState {
public:
  PublicationPtr get(const std::string& key) override {
    auto it = values_.find(key);
    return it == values_.end() ? nullptr : it->second;
  }
  void put(const std::string& key, PublicationPtr value) override { values_[key] = std::move(value); }
  void erase(const std::string& key) override { values_.erase(key); }
  std::size_t size() override { return values_.size(); }

  // A plain topic is one lookup; a pattern walks the keys in order from `after`, kScanRows at a
  // time (the SQLite engine narrows the walk to the pattern's literal prefix).
  ScanPage<std::string> scan(PatternMatcher& pattern, const std::string& after) override {
    ScanPage<std::string> page;
    if (pattern.literal()) {
      page.done = true;
      const std::string key = wamp_uri(pattern.pattern());
      if (!after.empty() && key <= after) return page;
      page.next = key;
      if (PublicationPtr value = get(key)) page.publications.push_back(std::move(value));
      return page;
    }
    auto it = after.empty() ? values_.begin() : values_.upper_bound(after);
    for (std::size_t rows = 0; it != values_.end() && rows < kScanRows; ++it, ++rows) {
      page.next = it->first;
      if (pattern.matches(it->second->topic)) page.publications.push_back(it->second);
    }
    page.done = it == values_.end();
    if (page.next.empty()) page.next = after;
    return page;
  }

private:
  std::map<std::string, PublicationPtr> values_;
};

}  // namespace

std::unique_ptr<RetainedState> MemoryEngine::retained(const std::string&) {
  return std::make_unique<MemoryRetained>();
}

Appended MemoryEngine::append(const std::string& realm, Publication&& publication) {
  Appended out = append_with_next_id(last_, std::move(publication));
  keep(realm, out.publication);
  return out;
}

void MemoryEngine::record(const std::string& realm, PublicationPtr publication) {
  if (publication->id <= last_) return;
  last_ = publication->id;
  keep(realm, std::move(publication));
}

void MemoryEngine::keep(const std::string& realm, PublicationPtr publication) {
  if (capacity_ == 0) return;
  Ring& ring = rings_[realm];
  if (ring.items.size() < capacity_) {
    ring.items.push_back(std::move(publication));
  } else {
    ring.evicted = std::max(ring.evicted, ring.items[ring.head]->id);
    ring.items[ring.head] = std::move(publication);
    ring.head = (ring.head + 1) % ring.items.size();
  }
}

Id MemoryEngine::evicted_upto(const std::string& realm) const {
  auto it = rings_.find(realm);
  return it == rings_.end() ? 0 : it->second.evicted;
}

ScanPage<Id> MemoryEngine::scan(const std::string& realm, Id after, Id upto,
                                PatternMatcher& pattern) {
  ScanPage<Id> page;
  page.next = upto;
  page.done = true;
  auto found = rings_.find(realm);
  if (found == rings_.end()) return page;
  const Ring& ring = found->second;
  const std::size_t n = ring.items.size();
  // Ids increase along the ring: the first one after `after` by binary search.
  std::size_t lo = 0, hi = n;
  while (lo < hi) {
    std::size_t mid = (lo + hi) / 2;
    if (ring.at(mid)->id <= after) lo = mid + 1;
    else hi = mid;
  }
  std::size_t rows = 0;
  for (std::size_t i = lo; i < n; ++i) {
    const PublicationPtr& pub = ring.at(i);
    if (pub->id > upto) return page;
    if (rows == kScanRows) {
      page.done = false;
      page.next = ring.at(i - 1)->id;
      return page;
    }
    ++rows;
    if (pattern.matches(pub->topic)) page.publications.push_back(pub);
  }
  return page;
}

std::size_t MemoryEngine::history_size(const std::string& realm) const {
  auto it = rings_.find(realm);
  return it == rings_.end() ? 0 : it->second.items.size();
}

}  // namespace fox::store
