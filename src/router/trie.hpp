// Topic matching as a trie over topic parts. One walk per publication touches only the nodes on
// the topic's own paths, so the cost does not grow with unrelated subscriptions (SPEC §3).
//
// Pattern kinds, by the policy given at insert():
//  - kExact: in-band wildcards (WAMP `*`/`#`, MQTT `+`/`#`), as the markers of core/topic.hpp:
//    kAnyPart = exactly one part, kAnyParts = zero or more parts, at any position; every other
//    part literal (an MQTT level `*` is text).
//  - kWildcard (WAMP `match: wildcard`): an empty part = exactly one part; every other part literal.
//  - kPrefix (WAMP `match: prefix`): a prefix of the URI STRING ("a.b" matches "a.b.c" and "a.bc").
//    Stored as the literal path of all parts but the last plus a per-node map keyed by the last
//    part, which is looked up by every prefix of the topic's part at that depth.
// MQTT `$` rule: a topic whose first part starts with '$' is not matched by a wildcard edge at the
// first level.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/types.hpp"

namespace fox {

// Whatever the trie stores derives from this; `match_mark` lets one match() report an entry once
// even when several trie paths reach it (`a.#.#`), without a per-call set.
struct TrieEntry {
  std::uint64_t match_mark = 0;
};

class Trie {
public:
  Trie();
  ~Trie();
  Trie(const Trie&) = delete;
  Trie& operator=(const Trie&) = delete;

  void insert(const TopicParts& pattern, MatchPolicy policy, TrieEntry* entry);
  // Removes that entry stored under (pattern, policy); false if it was not there.
  bool erase(const TopicParts& pattern, MatchPolicy policy, TrieEntry* entry);
  // Appends every entry matching the concrete `topic` to `out`, each once.
  void match(const TopicParts& topic, std::vector<TrieEntry*>& out);
  bool empty() const;

private:
  struct Node;
  void walk(const Node& node, const TopicParts& topic, std::size_t depth,
            std::vector<TrieEntry*>& out);
  void collect(const std::vector<TrieEntry*>& entries, std::vector<TrieEntry*>& out);

  std::unique_ptr<Node> root_;
  std::uint64_t mark_ = 0;
};

// WAMP pattern-based registration precedence among wildcard patterns: the lengths of the runs of
// literal parts between wildcards, compared lexicographically (bigger is more specific):
// "a1.b2.c3..e5" → [3, 1] beats "a1.b2..d4.e5" → [2, 2].
std::vector<std::size_t> wildcard_rank(const TopicParts& pattern);

}  // namespace fox
