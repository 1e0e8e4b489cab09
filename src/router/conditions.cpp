#include "router/conditions.hpp"

#include <algorithm>

#include "router/engine.hpp"
#include "router/kv_value.hpp"

namespace fox {

bool condition_holds(const Pending& pending, RetainedState& retained) {
  if (!pending.kv.has_when) return true;
  PublicationValue current;
  if (PublicationPtr value = retained.get(pending.pub.uri)) current = publication_value(*value);
  return value_matches(pending.kv.when, current);
}

bool Waiters::add(Pending pending, bool front) {
  auto& keys = keys_of_[pending.session];
  if (keys.size() >= kMaxPerSession) return false;
  keys.push_back(pending.pub.uri);
  auto& queue = by_key_[pending.pub.uri];
  if (front) {
    queue.push_front(std::move(pending));
  } else {
    queue.push_back(std::move(pending));
  }
  return true;
}

std::optional<Pending> Waiters::take_ready(const std::string& key, RetainedState& retained) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  auto& queue = it->second;
  for (auto waiter = queue.begin(); waiter != queue.end(); ++waiter) {
    if (!condition_holds(*waiter, retained)) continue;
    Pending ready = std::move(*waiter);
    queue.erase(waiter);
    if (queue.empty()) by_key_.erase(it);
    if (auto k = keys_of_.find(ready.session); k != keys_of_.end()) {
      auto& keys = k->second;
      if (auto one = std::find(keys.begin(), keys.end(), key); one != keys.end()) keys.erase(one);
      if (keys.empty()) keys_of_.erase(k);
    }
    return ready;
  }
  return std::nullopt;
}

void Waiters::drop_session(Id session) {
  auto k = keys_of_.find(session);
  if (k == keys_of_.end()) return;
  std::vector<std::string> keys = std::move(k->second);
  keys_of_.erase(k);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (const std::string& key : keys) {
    auto it = by_key_.find(key);
    if (it == by_key_.end()) continue;
    auto& queue = it->second;
    queue.erase(std::remove_if(queue.begin(), queue.end(),
                               [session](const Pending& p) { return p.session == session; }),
                queue.end());
    if (queue.empty()) by_key_.erase(it);
  }
}

std::size_t Waiters::size() const {
  std::size_t n = 0;
  for (const auto& [key, queue] : by_key_) n += queue.size();
  return n;
}

}  // namespace fox
