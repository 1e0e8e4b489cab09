// Failed logins per client address (SPEC §6): after `max_failures` failed logins from one
// address within a minute, its logins with credentials are refused for a while (10 s by default,
// doubling for each block in a row, at most 15 min), without checking them. A good login clears
// nothing (one valid account must not buy more guesses at the others): failures age out of the
// minute, blocks in a row out of a quiet quarter of an hour. The table is bounded: when it is
// full, expired entries go, then the stalest one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace fox {

// A peer address without its port, the client address the limits count:
// "1.2.3.4:5678" → "1.2.3.4", "[::1]:5678" → "::1", "1.2.3.4" → "1.2.3.4".
std::string address_without_port(const std::string& peer);

class LoginLimiter {
public:
  struct Options {
    std::uint64_t max_failures = 10;   // 0: no limit
    std::uint64_t block_ms = 10000;
    std::uint64_t max_block_ms = 15 * 60 * 1000;
    std::uint64_t window_ms = 60000;
    std::size_t max_addresses = 10000;
  };
  void configure(const Options& options) { options_ = options; }

  // 0 when `address` may try to log in now, else how many ms its block lasts yet.
  std::uint64_t blocked_ms(const std::string& address, std::uint64_t now_ms) const;
  // A failed login from `address`: the length of the block it starts (ms; to log), else 0.
  std::uint64_t failed(const std::string& address, std::uint64_t now_ms);
  std::size_t size() const { return entries_.size(); }

private:
  struct Entry {
    std::uint64_t failures = 0;
    std::uint64_t first_ms = 0;        // the first failure of the current window
    std::uint64_t blocked_until = 0;
    std::uint64_t blocks = 0;          // blocks in a row (the next one lasts twice as long)
    std::uint64_t last_ms = 0;
  };
  void make_room(std::uint64_t now_ms);
  bool expired(const Entry& e, std::uint64_t now_ms) const;

  Options options_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace fox
