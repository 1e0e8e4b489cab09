// Where retained state and event history live. The router's KV logic (kv.hpp) talks only to
// these two interfaces; this file has the in-memory engine. A SQLite engine (store/) implements
// the same interfaces later.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "router/router.hpp"
#include "router/trie.hpp"
#include "router/types.hpp"

namespace fox {

// Does one subscription pattern (topic + match policy) match concrete topics? The same semantics
// as live delivery (trie.hpp), including the MQTT `$` rule; for replays, not for the hot path.
class PatternMatcher {
public:
  PatternMatcher(const TopicParts& pattern, MatchPolicy policy);
  ~PatternMatcher();
  bool matches(const TopicParts& topic);
  // The pattern is a plain topic (exact policy, no wildcard part): one lookup is enough.
  bool literal() const { return literal_; }

private:
  TopicParts pattern_;
  MatchPolicy policy_;
  bool literal_ = false;
  Trie trie_;
  TrieEntry entry_;
  std::vector<TrieEntry*> found_;
};

// Retained state: key (dotted topic) → the publication that is its current value.
class RetainedStore {
public:
  virtual ~RetainedStore() = default;
  virtual PublicationPtr get(const std::string& key) const = 0;
  virtual void put(const std::string& key, PublicationPtr value) = 0;
  virtual void erase(const std::string& key) = 0;
  // Every value whose topic the pattern matches, in key order.
  virtual std::vector<PublicationPtr> match(const TopicParts& pattern, MatchPolicy policy) const = 0;
  virtual std::size_t size() const = 0;
};

// History of applied publications, in event id order.
class HistoryStore {
public:
  virtual ~HistoryStore() = default;
  virtual void append(const PublicationPtr& publication) = 0;
  // Publications with id > `after` whose topic the pattern matches, in id order.
  virtual std::vector<PublicationPtr> after(Id after, const TopicParts& pattern,
                                            MatchPolicy policy) const = 0;
  virtual void set_capacity(std::size_t capacity) = 0;
  virtual std::size_t size() const = 0;
};

class MemRetainedStore : public RetainedStore {
public:
  PublicationPtr get(const std::string& key) const override;
  void put(const std::string& key, PublicationPtr value) override;
  void erase(const std::string& key) override;
  std::vector<PublicationPtr> match(const TopicParts& pattern, MatchPolicy policy) const override;
  std::size_t size() const override { return values_.size(); }

private:
  std::map<std::string, PublicationPtr> values_;
};

// A bounded ring: the oldest publication is dropped when full. Appending never allocates once
// the ring has grown to its capacity (the hot path appends every publication). Capacity 0 keeps
// nothing.
class MemHistoryStore : public HistoryStore {
public:
  explicit MemHistoryStore(std::size_t capacity = 10000) : capacity_(capacity) {}
  void append(const PublicationPtr& publication) override;
  std::vector<PublicationPtr> after(Id after, const TopicParts& pattern,
                                    MatchPolicy policy) const override;
  void set_capacity(std::size_t capacity) override;
  std::size_t size() const override { return ring_.size(); }

private:
  std::size_t capacity_;
  std::vector<PublicationPtr> ring_;
  std::size_t head_ = 0;  // index of the oldest entry once the ring is full
};

}  // namespace fox
