// Time, randomness and timers: the one way every part of fox gets them (router, store, net, and
// the cluster simulation, which drives them itself). serve runs them on libuv (net/uv_env.hpp);
// tests use a manual clock.
#pragma once
#include <cstdint>
#include <functional>

namespace fox {

class Env {
public:
  using TimerId = std::uint64_t;
  virtual ~Env() = default;
  // Milliseconds since the epoch (wall clock: history time, ISO dates of the meta API).
  virtual std::uint64_t now_ms() = 0;
  // A clock that never jumps (timeouts: keep-alive, handshakes, slow readers).
  virtual std::uint64_t monotonic_ms() { return now_ms(); }
  // A uniformly random 64-bit value (session ids, random invocation policy).
  virtual std::uint64_t random64() = 0;
  // Runs `fn` once after `delay_ms` (0: on the next loop turn); cancel_timer() before it fires
  // prevents it. Ids are never 0.
  virtual TimerId start_timer(std::uint64_t delay_ms, std::function<void()> fn) = 0;
  virtual void cancel_timer(TimerId id) = 0;
};

}  // namespace fox
