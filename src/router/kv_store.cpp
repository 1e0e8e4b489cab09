#include "router/kv_store.hpp"

#include <algorithm>

#include "core/topic.hpp"

namespace fox {

PatternMatcher::PatternMatcher(const TopicParts& pattern, MatchPolicy policy)
    : pattern_(pattern), policy_(policy) {
  literal_ = policy == MatchPolicy::kExact && !has_wildcard_part(pattern);
  trie_.insert(pattern_, policy_, &entry_);
}

PatternMatcher::~PatternMatcher() { trie_.erase(pattern_, policy_, &entry_); }

bool PatternMatcher::matches(const TopicParts& topic) {
  if (literal_) return topic == pattern_;
  found_.clear();
  trie_.match(topic, found_);
  return !found_.empty();
}

PublicationPtr MemRetainedStore::get(const std::string& key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : it->second;
}

void MemRetainedStore::put(const std::string& key, PublicationPtr value) {
  values_[key] = std::move(value);
}

void MemRetainedStore::erase(const std::string& key) { values_.erase(key); }

// A scan of every key for a pattern: O(keys). A plain topic is one lookup. (The SQLite engine
// can narrow by the literal prefix of the pattern.)
std::vector<PublicationPtr> MemRetainedStore::match(const TopicParts& pattern,
                                                    MatchPolicy policy) const {
  std::vector<PublicationPtr> out;
  PatternMatcher matcher(pattern, policy);
  if (matcher.literal()) {
    if (auto value = get(wamp_uri(pattern))) {
      if (value->topic == pattern) out.push_back(std::move(value));
    }
    return out;
  }
  for (const auto& [key, value] : values_) {
    if (matcher.matches(value->topic)) out.push_back(value);
  }
  return out;
}

void MemHistoryStore::append(const PublicationPtr& publication) {
  if (capacity_ == 0) return;
  if (ring_.size() < capacity_) {
    ring_.push_back(publication);
    return;
  }
  ring_[head_] = publication;
  head_ = (head_ + 1) % ring_.size();
}

std::vector<PublicationPtr> MemHistoryStore::after(Id after, const TopicParts& pattern,
                                                   MatchPolicy policy) const {
  std::vector<PublicationPtr> out;
  PatternMatcher matcher(pattern, policy);
  const std::size_t size = ring_.size();
  for (std::size_t i = 0; i < size; ++i) {
    const PublicationPtr& pub = ring_[(head_ + i) % size];
    if (pub->id > after && matcher.matches(pub->topic)) out.push_back(pub);
  }
  // Ids are appended in increasing order; sorting keeps the promise if an engine ever differs.
  std::stable_sort(out.begin(), out.end(),
                   [](const PublicationPtr& a, const PublicationPtr& b) { return a->id < b->id; });
  return out;
}

void MemHistoryStore::set_capacity(std::size_t capacity) {
  // Re-linearise oldest-first, keep the newest `capacity`.
  std::vector<PublicationPtr> ordered;
  ordered.reserve(ring_.size());
  for (std::size_t i = 0; i < ring_.size(); ++i) ordered.push_back(ring_[(head_ + i) % ring_.size()]);
  if (ordered.size() > capacity) {
    ordered.erase(ordered.begin(), ordered.begin() + static_cast<std::ptrdiff_t>(ordered.size() - capacity));
  }
  ring_ = std::move(ordered);
  head_ = 0;
  capacity_ = capacity;
}

}  // namespace fox
