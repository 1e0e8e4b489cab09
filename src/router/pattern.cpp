#include "router/pattern.hpp"

#include "core/topic.hpp"

namespace fox {

PatternMatcher::PatternMatcher(TopicParts pattern, MatchPolicy policy)
    : pattern_(std::move(pattern)), policy_(policy) {
  literal_ = policy_ == MatchPolicy::kExact && !has_wildcard_part(pattern_);
  trie_.insert(pattern_, policy_, &entry_);
}

PatternMatcher::~PatternMatcher() { trie_.erase(pattern_, policy_, &entry_); }

bool PatternMatcher::matches(const TopicParts& topic) {
  if (literal_) return topic == pattern_;
  found_.clear();
  trie_.match(topic, found_);
  return !found_.empty();
}

}  // namespace fox
