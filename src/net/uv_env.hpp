// Env on the libuv loop: wall-clock milliseconds, a seeded 64-bit generator, uv timers.
#pragma once
#include <uv.h>

#include <memory>
#include <random>
#include <unordered_map>

#include "core/env.hpp"

namespace fox::net {

class UvEnv final : public Env {
public:
  explicit UvEnv(uv_loop_t* loop);
  ~UvEnv() override;
  std::uint64_t now_ms() override;
  std::uint64_t monotonic_ms() override { return uv_now(loop_); }
  std::uint64_t random64() override;
  TimerId start_timer(std::uint64_t delay_ms, std::function<void()> fn) override;
  void cancel_timer(TimerId id) override;
  // Cancels every timer (at shutdown, so the loop can end).
  void cancel_all();

  struct Timer;  // one uv timer and its callback (public for the C callbacks)

private:
  uv_loop_t* loop_;
  std::mt19937_64 rng_;
  TimerId next_ = 0;
  std::unordered_map<TimerId, Timer*> timers_;
};

}  // namespace fox::net
