// A libuv loop for unit tests that run real connections on 127.0.0.1: serve's end-of-turn
// flush of the TCP servers it is given, run_until with a deadline, drain at the end.
#pragma once
#include <uv.h>

#include <functional>
#include <memory>
#include <vector>

#include "net/tcp_server.hpp"
#include "net/uv_env.hpp"

namespace fox::testing {

// A loop with serve's end-of-turn flush of the TCP servers it is given.
struct Loop {
  uv_loop_t loop{};
  std::unique_ptr<net::UvEnv> env;
  uv_check_t check{};
  std::vector<net::TcpServer*> servers;

  Loop() {
    uv_loop_init(&loop);
    env = std::make_unique<net::UvEnv>(&loop);
    uv_check_init(&loop, &check);
    check.data = this;
    uv_check_start(&check, [](uv_check_t* c) {
      for (net::TcpServer* s : static_cast<Loop*>(c->data)->servers) s->flush();
    });
    uv_unref(reinterpret_cast<uv_handle_t*>(&check));
  }
  ~Loop() {
    uv_close(reinterpret_cast<uv_handle_t*>(&check), nullptr);
    env.reset();
    drain();
    uv_loop_close(&loop);
  }
  // Runs the loop until `done` (checked every few ms), for at most 5 s.
  bool run_until(const std::function<bool()>& done) {
    uv_timer_t tick{};
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, [](uv_timer_t*) {}, 2, 2);
    const std::uint64_t deadline = uv_now(&loop) + 5000;
    while (!done() && uv_now(&loop) < deadline) uv_run(&loop, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
    return done();
  }
  // Lets every handle that is closing finish (at most 2 s).
  void drain() {
    uv_timer_t guard{};
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, [](uv_timer_t* t) { uv_stop(t->loop); }, 2000, 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&guard));
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
};

}  // namespace fox::testing
