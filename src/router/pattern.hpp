// Does one subscription pattern (topic + match policy) match concrete topics? The same semantics
// as live delivery (trie.hpp), including the MQTT `$` rule; for replays, not for the hot path.
#pragma once
#include <vector>

#include "router/trie.hpp"
#include "router/types.hpp"

namespace fox {

class PatternMatcher {
public:
  PatternMatcher(TopicParts pattern, MatchPolicy policy);
  ~PatternMatcher();
  PatternMatcher(const PatternMatcher&) = delete;
  PatternMatcher& operator=(const PatternMatcher&) = delete;

  bool matches(const TopicParts& topic);
  // The pattern is a plain topic (exact policy, no wildcard part): one lookup is enough.
  bool literal() const { return literal_; }
  const TopicParts& pattern() const { return pattern_; }
  MatchPolicy policy() const { return policy_; }

private:
  TopicParts pattern_;
  MatchPolicy policy_;
  bool literal_ = false;
  Trie trie_;
  TrieEntry entry_;
  std::vector<TrieEntry*> found_;
};

}  // namespace fox
