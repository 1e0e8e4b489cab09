#include "cli/child_process.hpp"

#include <cstring>

namespace fox::cli {
namespace {

constexpr std::size_t kMaxOutput = 16u * 1024 * 1024;

// One child: the process handle and both pipes. It deletes itself once all three are closed.
struct Child {
  uv_process_t process{};
  uv_pipe_t in{};
  uv_pipe_t out{};
  uv_write_t write_req{};
  std::string input;
  int open_handles = 0;
  ChildResult result;
  std::function<void(ChildResult)> done;

  void close(uv_handle_t* h) {
    if (uv_is_closing(h)) return;
    uv_close(h, [](uv_handle_t* handle) {
      auto* self = static_cast<Child*>(handle->data);
      if (--self->open_handles == 0) {
        auto fn = std::move(self->done);
        ChildResult r = std::move(self->result);
        delete self;
        if (fn) fn(std::move(r));
      }
    });
  }
};

}  // namespace

void run_shell(uv_loop_t* loop, const std::string& command, std::string input,
               std::function<void(ChildResult)> done) {
  auto* c = new Child();
  c->input = std::move(input);
  c->done = std::move(done);
  c->process.data = c;
  c->in.data = c;
  c->out.data = c;
  c->write_req.data = c;
  uv_pipe_init(loop, &c->in, 0);
  uv_pipe_init(loop, &c->out, 0);
  c->open_handles = 2;

  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  std::string cmd = command;
  char* args[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  uv_stdio_container_t stdio[3];
  stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
  stdio[0].data.stream = reinterpret_cast<uv_stream_t*>(&c->in);
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&c->out);
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  uv_process_options_t options;
  std::memset(&options, 0, sizeof options);
  options.file = sh.c_str();
  options.args = args;
  options.stdio = stdio;
  options.stdio_count = 3;
  options.exit_cb = [](uv_process_t* p, int64_t exit_status, int term_signal) {
    auto* self = static_cast<Child*>(p->data);
    self->result.exit_code = exit_status;
    self->result.term_signal = term_signal;
    self->close(reinterpret_cast<uv_handle_t*>(p));
  };
  int r = uv_spawn(loop, &c->process, &options);
  if (r != 0) {
    c->result.started = false;
    c->result.error = std::string("cannot start /bin/sh: ") + uv_strerror(r);
    // uv_spawn initialised the process handle even on failure: it must be closed too.
    c->open_handles = 3;
    c->close(reinterpret_cast<uv_handle_t*>(&c->process));
    c->close(reinterpret_cast<uv_handle_t*>(&c->in));
    c->close(reinterpret_cast<uv_handle_t*>(&c->out));
    return;
  }
  c->result.started = true;
  c->open_handles = 3;

  uv_buf_t buf = uv_buf_init(c->input.data(), static_cast<unsigned>(c->input.size()));
  int w = uv_write(&c->write_req, reinterpret_cast<uv_stream_t*>(&c->in), &buf, 1,
                   [](uv_write_t* req, int) {
                     // Written, or the child does not read its stdin (EPIPE): either way, EOF.
                     auto* self = static_cast<Child*>(req->data);
                     self->close(reinterpret_cast<uv_handle_t*>(&self->in));
                   });
  if (w != 0) c->close(reinterpret_cast<uv_handle_t*>(&c->in));

  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->out),
                [](uv_handle_t*, size_t suggested, uv_buf_t* b) {
                  b->base = new char[suggested];
                  b->len = suggested;
                },
                [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
                  auto* self = static_cast<Child*>(s->data);
                  if (n > 0) {
                    std::size_t room = kMaxOutput - self->result.output.size();
                    std::size_t take = static_cast<std::size_t>(n) < room ? static_cast<std::size_t>(n) : room;
                    self->result.output.append(b->base, take);
                    if (take < static_cast<std::size_t>(n)) self->result.output_truncated = true;
                  } else if (n < 0) {
                    self->close(reinterpret_cast<uv_handle_t*>(s));
                  }
                  delete[] b->base;
                });
}

}  // namespace fox::cli
