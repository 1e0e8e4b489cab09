#include "core/login_limiter.hpp"

#include <algorithm>

namespace fox {

std::string address_without_port(const std::string& peer) {
  if (!peer.empty() && peer[0] == '[') {
    auto end = peer.find(']');
    return end == std::string::npos ? peer : peer.substr(1, end - 1);
  }
  auto colon = peer.find(':');
  if (colon != std::string::npos && peer.find(':', colon + 1) == std::string::npos) {
    return peer.substr(0, colon);
  }
  return peer;
}

std::uint64_t LoginLimiter::blocked_ms(const std::string& address, std::uint64_t now_ms) const {
  auto it = entries_.find(address);
  if (it == entries_.end() || it->second.blocked_until <= now_ms) return 0;
  return it->second.blocked_until - now_ms;
}

std::uint64_t LoginLimiter::failed(const std::string& address, std::uint64_t now_ms) {
  if (options_.max_failures == 0) return 0;
  if (!entries_.count(address) && entries_.size() >= options_.max_addresses) make_room(now_ms);
  Entry& e = entries_[address];
  if (e.failures == 0 || now_ms - e.first_ms > options_.window_ms) {
    // A new window; blocks stay "in a row" only while failures keep coming within a block's
    // length of the last one.
    if (e.blocks && now_ms - e.last_ms > options_.window_ms + options_.max_block_ms) e.blocks = 0;
    e.failures = 0;
    e.first_ms = now_ms;
  }
  e.last_ms = now_ms;
  if (++e.failures < options_.max_failures) return 0;
  const std::uint64_t shift = std::min<std::uint64_t>(e.blocks, 20);
  const std::uint64_t length = std::min(options_.block_ms << shift, options_.max_block_ms);
  e.blocked_until = now_ms + length;
  e.failures = 0;
  ++e.blocks;
  return length;
}

bool LoginLimiter::expired(const Entry& e, std::uint64_t now_ms) const {
  return e.blocked_until <= now_ms && now_ms - e.last_ms > options_.window_ms;
}

void LoginLimiter::make_room(std::uint64_t now_ms) {
  std::erase_if(entries_, [&](const auto& kv) { return expired(kv.second, now_ms); });
  if (entries_.size() < options_.max_addresses) return;
  auto stalest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
    return a.second.last_ms < b.second.last_ms;
  });
  entries_.erase(stalest);
}

}  // namespace fox
