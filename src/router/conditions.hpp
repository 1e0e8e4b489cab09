// Conditional publications (SPEC §5): does `when` hold, and the publications that wait (`watch`)
// for their condition, FIFO per key. Answers questions; applying is publish.cpp's.
#pragma once
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/fox_options.hpp"
#include "router/router.hpp"
#include "router/types.hpp"

namespace fox {

class RetainedState;

// A publication on its way through the pipeline: parsed, perhaps waiting for its condition.
struct Pending {
  Id session = 0;           // 0: published by the router (an orphan will or testament)
  Id request = 0;
  Publication pub;
  PublishOptions options;
  KvPublish kv;
};

// Does `when` hold on the current value of the key? (No `when`: it does.)
bool condition_holds(const Pending& pending, RetainedState& retained);

// Publications waiting on `watch`, FIFO per key, bounded per session.
class Waiters {
public:
  static constexpr std::size_t kMaxPerSession = 1000;

  // False when the session has kMaxPerSession waiting already (the publication is refused).
  // `front`: ahead of the key's other waiters (a cluster's waiter that lost its race keeps its
  // place).
  bool add(Pending pending, bool front = false);
  // The first waiter of `key` whose condition holds on the current value, taken out.
  std::optional<Pending> take_ready(const std::string& key, RetainedState& retained);
  // The waiters of a session that leaves: dropped, never applied. Cost: the keys it waits on.
  void drop_session(Id session);
  bool waits(Id session) const { return keys_of_.count(session) != 0; }
  template <typename Fn>
  void for_each_session(Fn&& fn) const {
    for (const auto& [session, keys] : keys_of_) fn(session);
  }
  std::size_t size() const;

private:
  std::unordered_map<std::string, std::deque<Pending>> by_key_;
  std::unordered_map<Id, std::vector<std::string>> keys_of_;   // session → keys it waits on
};

}  // namespace fox
