// A joined session as the router's parts see it. Owned by the realm (stable address until leave),
// referenced by subscriptions and registrations so that delivery needs no session-map lookup.
#pragma once
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "router/peer.hpp"
#include "router/router.hpp"

namespace fox {

struct SessionEntry {
  Id id = 0;
  Peer* peer = nullptr;
  SessionInfo info;
  std::uint64_t joined_ms = 0;
};

using SessionMap = std::unordered_map<Id, std::unique_ptr<SessionEntry>>;

}  // namespace fox
