#include "net/uv_env.hpp"

#include <chrono>

namespace fox::net {

struct UvEnv::Timer {
  uv_timer_t handle;
  UvEnv* env;
  TimerId id;
  std::function<void()> fn;
};

namespace {
void close_and_free(UvEnv::TimerId, uv_timer_t* h) {
  uv_timer_stop(h);
  uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* handle) {
    delete static_cast<UvEnv::Timer*>(handle->data);
  });
}
}  // namespace

UvEnv::UvEnv(uv_loop_t* loop) : loop_(loop) {
  std::random_device rd;  // /dev/urandom
  rng_.seed((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
}

UvEnv::~UvEnv() { cancel_all(); }

std::uint64_t UvEnv::now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::uint64_t UvEnv::random64() { return rng_(); }

Env::TimerId UvEnv::start_timer(std::uint64_t delay_ms, std::function<void()> fn) {
  auto* t = new Timer{};
  t->env = this;
  t->id = ++next_;
  t->fn = std::move(fn);
  t->handle.data = t;
  uv_timer_init(loop_, &t->handle);
  timers_[t->id] = t;
  uv_timer_start(&t->handle, [](uv_timer_t* h) {
    auto* timer = static_cast<Timer*>(h->data);
    timer->env->timers_.erase(timer->id);
    std::function<void()> fn = std::move(timer->fn);
    close_and_free(timer->id, h);
    fn();
  }, delay_ms, 0);
  return t->id;
}

void UvEnv::cancel_timer(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  Timer* t = it->second;
  timers_.erase(it);
  close_and_free(id, &t->handle);
}

void UvEnv::cancel_all() {
  auto timers = std::move(timers_);
  timers_.clear();
  for (auto& [id, t] : timers) close_and_free(id, &t->handle);
}

}  // namespace fox::net
