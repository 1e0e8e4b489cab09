// Time and randomness reach the router only through this interface, so tests and the cluster
// simulation can drive them (ARCHITECTURE.md: "Time, randomness and I/O come in through interfaces").
#pragma once
#include <cstdint>
#include <functional>

namespace fox {

class RouterEnv {
public:
  using TimerId = std::uint64_t;
  virtual ~RouterEnv() = default;
  virtual std::uint64_t now_ms() = 0;
  // A clock that never jumps (for timeouts such as MQTT keep-alive); wall clock by default.
  virtual std::uint64_t monotonic_ms() { return now_ms(); }
  // A uniformly random 64-bit value (session ids, random invocation policy).
  virtual std::uint64_t random64() = 0;
  // Run `fn` once after `delay_ms`; cancel_timer() before it fires prevents it. Ids are never 0.
  virtual TimerId start_timer(std::uint64_t delay_ms, std::function<void()> fn) = 0;
  virtual void cancel_timer(TimerId id) = 0;
};

}  // namespace fox
