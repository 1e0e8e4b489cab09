// limits.max_connections and limits.max_connections_per_ip, shared by every listener (HTTP /
// WebSocket, RawSocket, MQTT), so the bounds hold for the whole process.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace fox::net {

class ConnectionLimits {
public:
  ConnectionLimits(std::uint64_t max_total, std::uint64_t max_per_ip)
      : max_total_(max_total), max_per_ip_(max_per_ip) {}
  // Counts a new connection from `ip`; false (and `why`) when a limit is reached, in which case
  // nothing was counted. Every admitted connection is released exactly once.
  bool admit(const std::string& ip, std::string* why);
  void release(const std::string& ip);
  std::size_t total() const { return total_; }

private:
  std::uint64_t max_total_, max_per_ip_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_ip_;
};

}  // namespace fox::net
