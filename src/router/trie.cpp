#include "router/trie.hpp"

#include <algorithm>
#include <string_view>

#include "core/topic.hpp"

namespace fox {

struct Trie::Node {
  std::unordered_map<std::string, std::unique_ptr<Node>> children;  // literal parts
  std::unique_ptr<Node> one;    // `*` (exact policy) or "" (wildcard policy)
  std::unique_ptr<Node> many;   // `#` (exact policy)
  std::vector<TrieEntry*> entries;  // patterns ending here
  // Prefix patterns whose literal path ends here, keyed by their last (partial) part.
  // std::less<> allows lookups by string_view without building strings.
  std::map<std::string, std::vector<TrieEntry*>, std::less<>> prefixes;

  bool empty() const {
    return children.empty() && !one && !many && entries.empty() && prefixes.empty();
  }
};

namespace {

enum class Edge { kLiteral, kOne, kMany };

Edge edge_of(const std::string& part, MatchPolicy policy) {
  if (policy == MatchPolicy::kExact) {
    if (part == kAnyPart) return Edge::kOne;
    if (part == kAnyParts) return Edge::kMany;
  } else if (policy == MatchPolicy::kWildcard) {
    if (part.empty()) return Edge::kOne;
  }
  return Edge::kLiteral;
}

bool remove_entry(std::vector<TrieEntry*>& entries, TrieEntry* entry) {
  auto it = std::find(entries.begin(), entries.end(), entry);
  if (it == entries.end()) return false;
  entries.erase(it);
  return true;
}

}  // namespace

Trie::Trie() : root_(std::make_unique<Node>()) {}
Trie::~Trie() = default;

bool Trie::empty() const { return root_->empty(); }

void Trie::insert(const TopicParts& pattern, MatchPolicy policy, TrieEntry* entry) {
  std::size_t path_len = pattern.size();
  if (policy == MatchPolicy::kPrefix && path_len > 0) --path_len;
  Node* node = root_.get();
  for (std::size_t i = 0; i < path_len; ++i) {
    const std::string& part = pattern[i];
    std::unique_ptr<Node>* slot = nullptr;
    switch (edge_of(part, policy)) {
      case Edge::kOne: slot = &node->one; break;
      case Edge::kMany: slot = &node->many; break;
      case Edge::kLiteral: slot = &node->children[part]; break;
    }
    if (!*slot) *slot = std::make_unique<Node>();
    node = slot->get();
  }
  if (policy == MatchPolicy::kPrefix) {
    const std::string last = pattern.empty() ? std::string() : pattern.back();
    node->prefixes[last].push_back(entry);
    return;
  }
  node->entries.push_back(entry);
}

bool Trie::erase(const TopicParts& pattern, MatchPolicy policy, TrieEntry* entry) {
  std::size_t path_len = pattern.size();
  if (policy == MatchPolicy::kPrefix && path_len > 0) --path_len;
  // Remember the path so that nodes left empty can be pruned bottom-up.
  struct Step { Node* parent; Edge edge; const std::string* part; };
  std::vector<Step> path;
  path.reserve(path_len);
  Node* node = root_.get();
  for (std::size_t i = 0; i < path_len; ++i) {
    const std::string& part = pattern[i];
    Edge edge = edge_of(part, policy);
    Node* next = nullptr;
    if (edge == Edge::kOne) {
      next = node->one.get();
    } else if (edge == Edge::kMany) {
      next = node->many.get();
    } else {
      auto it = node->children.find(part);
      if (it != node->children.end()) next = it->second.get();
    }
    if (!next) return false;
    path.push_back({node, edge, &part});
    node = next;
  }
  if (policy == MatchPolicy::kPrefix) {
    const std::string last = pattern.empty() ? std::string() : pattern.back();
    auto it = node->prefixes.find(last);
    if (it == node->prefixes.end() || !remove_entry(it->second, entry)) return false;
    if (it->second.empty()) node->prefixes.erase(it);
  } else if (!remove_entry(node->entries, entry)) {
    return false;
  }
  for (auto step = path.rbegin(); step != path.rend(); ++step) {
    Node* parent = step->parent;
    Node* child = step->edge == Edge::kOne    ? parent->one.get()
                  : step->edge == Edge::kMany ? parent->many.get()
                                              : parent->children[*step->part].get();
    if (!child->empty()) break;
    if (step->edge == Edge::kOne) parent->one.reset();
    else if (step->edge == Edge::kMany) parent->many.reset();
    else parent->children.erase(*step->part);
  }
  return true;
}

void Trie::match(const TopicParts& topic, std::vector<TrieEntry*>& out) {
  ++mark_;
  walk(*root_, topic, 0, out);
}

void Trie::collect(const std::vector<TrieEntry*>& entries, std::vector<TrieEntry*>& out) {
  for (TrieEntry* entry : entries) {
    if (entry->match_mark == mark_) continue;
    entry->match_mark = mark_;
    out.push_back(entry);
  }
}

void Trie::walk(const Node& node, const TopicParts& topic, std::size_t depth,
                std::vector<TrieEntry*>& out) {
  const std::size_t size = topic.size();
  const bool wildcards_allowed = depth > 0 || !is_dollar_topic(topic);
  // `#` swallows zero or more parts: continue below it from every remaining depth.
  if (node.many && wildcards_allowed) {
    for (std::size_t next = depth; next <= size; ++next) walk(*node.many, topic, next, out);
  }
  if (depth == size) {
    collect(node.entries, out);
    return;
  }
  const std::string& part = topic[depth];
  if (!node.prefixes.empty()) {
    const std::string_view view(part);
    for (std::size_t len = 0; len <= view.size(); ++len) {
      auto it = node.prefixes.find(view.substr(0, len));
      if (it != node.prefixes.end()) collect(it->second, out);
    }
  }
  if (!node.children.empty()) {
    auto it = node.children.find(part);
    if (it != node.children.end()) walk(*it->second, topic, depth + 1, out);
  }
  if (node.one && wildcards_allowed) walk(*node.one, topic, depth + 1, out);
}

std::vector<std::size_t> wildcard_rank(const TopicParts& pattern) {
  std::vector<std::size_t> runs;
  std::size_t run = 0;
  for (const auto& part : pattern) {
    if (part.empty()) {
      runs.push_back(run);
      run = 0;
    } else {
      ++run;
    }
  }
  runs.push_back(run);
  return runs;
}

}  // namespace fox
