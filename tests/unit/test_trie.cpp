#include <doctest/doctest.h>

#include <algorithm>
#include <deque>

#include "core/topic.hpp"
#include "router/trie.hpp"

using namespace fox;

namespace {

// A trie with named entries; matches() answers "which patterns match this topic".
struct Patterns {
  Trie trie;
  std::deque<std::pair<std::string, TrieEntry>> entries;  // deque: stable addresses

  TrieEntry* add(const std::string& pattern, MatchPolicy policy = MatchPolicy::kExact) {
    entries.emplace_back(pattern, TrieEntry{});
    // As the WAMP session reads them: in-band `*`/`#` are wildcards only for the exact policy.
    trie.insert(policy == MatchPolicy::kExact ? wamp_pattern_parts(pattern) : split_topic(pattern),
                policy, &entries.back().second);
    return &entries.back().second;
  }
  std::vector<std::string> matches(const std::string& topic) {
    std::vector<TrieEntry*> found;
    trie.match(split_topic(topic), found);
    std::vector<std::string> names;
    for (auto* entry : found) {
      for (auto& [name, stored] : entries) {
        if (&stored == entry) names.push_back(name);
      }
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  bool matches(const std::string& pattern, const std::string& topic,
               MatchPolicy policy = MatchPolicy::kExact) {
    Patterns one;
    one.add(pattern, policy);
    return one.matches(topic).size() == 1;
  }
};

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("an exact pattern matches only its own topic") {
  Patterns p;
  CHECK(p.matches("a.b", "a.b"));
  CHECK_FALSE(p.matches("a.b", "a.b.c"));
  CHECK_FALSE(p.matches("a.b", "a"));
  CHECK_FALSE(p.matches("a.b", "a.bc"));
}

TEST_CASE("a star part matches exactly one part") {
  Patterns p;
  CHECK(p.matches("a.*", "a.b"));
  CHECK(p.matches("topic1.*.item", "topic1.123.item"));
  CHECK_FALSE(p.matches("a.*", "a"));
  CHECK_FALSE(p.matches("a.*", "a.b.c"));
  CHECK(p.matches("a.*", "a."));  // an empty part is still a part
}

TEST_CASE("a hash part matches zero or more parts at the end") {
  Patterns p;
  CHECK(p.matches("a.#", "a"));
  CHECK(p.matches("a.#", "a.b"));
  CHECK(p.matches("a.#", "a.b.c"));
  CHECK_FALSE(p.matches("a.#", "b.a"));
  CHECK(p.matches("#", "anything.at.all"));
  CHECK(p.matches("#", ""));
}

TEST_CASE("a hash part in the middle matches zero or more parts there") {
  Patterns p;
  CHECK(p.matches("a.#.c", "a.c"));
  CHECK(p.matches("a.#.c", "a.x.c"));
  CHECK(p.matches("a.#.c", "a.x.y.c"));
  CHECK_FALSE(p.matches("a.#.c", "a.x.y"));
  CHECK_FALSE(p.matches("a.#.c", "a.c.d"));
}

TEST_CASE("the MQTT topic matrix of the reference holds for dotted topics") {
  Patterns p;
  CHECK(p.matches("test.#", "test"));
  CHECK(p.matches(".#", "."));
  CHECK(p.matches(".#", ".test."));
  CHECK(p.matches("foo.*", "foo."));
  CHECK(p.matches("*.#", "test"));
  CHECK(p.matches("foo.*.bar.*", "foo.abcd.bar.1234"));
  CHECK_FALSE(p.matches("foo.*", "foo"));
  CHECK_FALSE(p.matches("*", ".foo"));
  CHECK_FALSE(p.matches("foo.#", "fooo.bar"));
  CHECK_FALSE(p.matches("foo.*.#", "foo"));
}

TEST_CASE("a prefix pattern matches by URI string prefix") {
  Patterns p;
  CHECK(p.matches("a.b", "a.b", MatchPolicy::kPrefix));
  CHECK(p.matches("a.b", "a.b.c", MatchPolicy::kPrefix));
  CHECK(p.matches("a.b", "a.bc", MatchPolicy::kPrefix));
  CHECK(p.matches("a.b", "a.bc.d.e", MatchPolicy::kPrefix));
  CHECK_FALSE(p.matches("a.b", "a", MatchPolicy::kPrefix));
  CHECK_FALSE(p.matches("a.b", "a.c", MatchPolicy::kPrefix));
  CHECK_FALSE(p.matches("a.b", "ab", MatchPolicy::kPrefix));
  CHECK(p.matches("a", "ab.c", MatchPolicy::kPrefix));
}

TEST_CASE("a prefix pattern ending in a dot needs a further part") {
  Patterns p;
  CHECK(p.matches("a.b.", "a.b.c", MatchPolicy::kPrefix));
  CHECK_FALSE(p.matches("a.b.", "a.b", MatchPolicy::kPrefix));
  CHECK_FALSE(p.matches("a.b.", "a.bc", MatchPolicy::kPrefix));
}

TEST_CASE("a wildcard policy pattern takes an empty part as any one part") {
  Patterns p;
  CHECK(p.matches("a..c", "a.b.c", MatchPolicy::kWildcard));
  CHECK(p.matches("com.myapp..myprocedure1", "com.myapp.myobject1.myprocedure1",
                  MatchPolicy::kWildcard));
  CHECK_FALSE(p.matches("a..c", "a.b.c.d", MatchPolicy::kWildcard));
  CHECK_FALSE(p.matches("a..c", "a.c", MatchPolicy::kWildcard));
  CHECK_FALSE(p.matches("a..c", "a.b.d", MatchPolicy::kWildcard));
}

TEST_CASE("in a wildcard policy pattern star and hash are literal parts") {
  Patterns p;
  CHECK_FALSE(p.matches("a.*", "a.b", MatchPolicy::kWildcard));
  CHECK_FALSE(p.matches("a.#", "a.b", MatchPolicy::kWildcard));
}

TEST_CASE("a dollar topic is not matched by a wildcard at the first level") {
  Patterns p;
  CHECK_FALSE(p.matches("#", "$SYS.broker"));
  CHECK_FALSE(p.matches("*.broker", "$SYS.broker"));
  CHECK_FALSE(p.matches(".broker", "$SYS.broker", MatchPolicy::kWildcard));
  CHECK(p.matches("$SYS.#", "$SYS.broker"));
  CHECK(p.matches("$SYS.*", "$SYS.broker"));
  CHECK(p.matches("a.*", "a.$x"));
  CHECK(p.matches("a.#", "a.$x"));
}

TEST_CASE("every matching pattern is returned once") {
  Patterns p;
  p.add("a.#.#");
  p.add("#");
  p.add("a.*.c");
  p.add("a.b.c");
  p.add("a.b", MatchPolicy::kPrefix);
  p.add("a..c", MatchPolicy::kWildcard);
  p.add("x.y");
  CHECK(p.matches("a.b.c") == Names{"#", "a.#.#", "a.*.c", "a..c", "a.b", "a.b.c"});
}

TEST_CASE("the same pattern under different policies gives different entries") {
  Patterns p;
  p.add("a.b");
  p.add("a.b", MatchPolicy::kPrefix);
  CHECK(p.matches("a.b").size() == 2);
  CHECK(p.matches("a.bc").size() == 1);
}

TEST_CASE("an erased pattern no longer matches and empty nodes are pruned") {
  Patterns p;
  TrieEntry* one = p.add("a.*.c");
  TrieEntry* two = p.add("a.b", MatchPolicy::kPrefix);
  TrieEntry* three = p.add("a..c", MatchPolicy::kWildcard);
  CHECK(p.trie.erase(wamp_pattern_parts("a.*.c"), MatchPolicy::kExact, one));
  CHECK(p.trie.erase(split_topic("a.b"), MatchPolicy::kPrefix, two));
  CHECK_FALSE(p.trie.erase(split_topic("a.b"), MatchPolicy::kPrefix, two));
  CHECK(p.trie.erase(split_topic("a..c"), MatchPolicy::kWildcard, three));
  CHECK(p.matches("a.b.c").empty());
  CHECK(p.trie.empty());
}

TEST_CASE("unrelated patterns do not take part in a match") {
  Patterns p;
  for (int i = 0; i < 20000; ++i) p.add("other." + std::to_string(i) + ".x");
  p.add("sensor.*.temp");
  CHECK(p.matches("sensor.7.temp") == Names{"sensor.*.temp"});
  CHECK(p.matches("other.77.x") == Names{"other.77.x"});
}

TEST_CASE("wildcard rank prefers longer literal runs before each wildcard") {
  CHECK(wildcard_rank(split_topic("a1.b2.c3..e5")) > wildcard_rank(split_topic("a1.b2..d4.e5")));
  CHECK(wildcard_rank(split_topic("a1.b2..d4.e5..g7")) >
        wildcard_rank(split_topic("a1.b2..d4..f6.g7")));
}
