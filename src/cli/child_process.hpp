// Runs `sh -c COMMAND` on the libuv loop (uv_spawn; never blocks the loop): writes `input` to its
// stdin, collects its stdout (at most 16 MB), passes its stderr through, and reports when the
// process has exited and its pipes are closed.
#pragma once
#include <uv.h>

#include <functional>
#include <string>

namespace fox::cli {

struct ChildResult {
  bool started = false;      // false: sh could not be started (error says why)
  std::int64_t exit_code = 0;
  int term_signal = 0;       // non-zero when killed by a signal
  bool output_truncated = false;
  std::string output;        // stdout
  std::string error;
};

void run_shell(uv_loop_t* loop, const std::string& command, std::string input,
               std::function<void(ChildResult)> done);

}  // namespace fox::cli
