#include "net/tcp_server.hpp"

#include <algorithm>
#include <cstring>

#include "core/log.hpp"

namespace fox::net {
namespace {
// Writes at most this many buffers in one uv_write (IOV_MAX is 1024 on Linux).
constexpr std::size_t kMaxBufsPerWrite = 512;

std::string peer_name(uv_tcp_t* tcp) {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[64] = {0};
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    uv_ip4_name(a, host, sizeof host);
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  uv_ip6_name(a, host, sizeof host);
  port = ntohs(a->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}
}  // namespace

SendResult TcpConnection::send(Frame frame, SendKind kind) {
  if (closing_ || closed_) return SendResult::kQueued;
  const SendResult r = budget_.admit(frame->size(), kind, uv_now(server_->loop_));
  if (r != SendResult::kQueued) return r;
  pending_.push_back({std::move(frame), kind != SendKind::kReplay});
  server_->mark_dirty(this);
  return r;
}

void TcpConnection::release(const std::vector<Out>& written) {
  for (const Out& o : written) {
    if (o.counted) budget_.release(o.frame->size());
  }
}

void TcpConnection::close() {
  if (closing_ || closed_) return;
  closing_ = true;
  if (!writing_ && pending_.empty()) {
    finish_close();
    return;
  }
  server_->mark_dirty(this);
  close_deadline_ = uv_now(server_->loop_) + 5000;
  server_->closing_.push_back(this);
}

void TcpConnection::abort() {
  if (closed_) return;
  closing_ = true;
  pending_.clear();
  budget_.clear();
  finish_close();
}

void TcpConnection::flush() {
  dirty_ = false;
  if (closed_ || writing_) return;  // the write callback flushes again
  if (pending_.empty()) {
    if (closing_) finish_close();
    return;
  }
  std::size_t n = std::min(pending_.size(), kMaxBufsPerWrite);
  in_flight_.assign(std::make_move_iterator(pending_.begin()),
                    std::make_move_iterator(pending_.begin() + static_cast<long>(n)));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(n));
  bufs_.clear();
  for (const auto& o : in_flight_) {
    bufs_.push_back(
        uv_buf_init(const_cast<char*>(o.frame->data()), static_cast<unsigned>(o.frame->size())));
  }
  writing_ = true;
  write_req_.data = this;
  int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), bufs_.data(),
                    static_cast<unsigned>(bufs_.size()), [](uv_write_t* req, int status) {
                      auto* c = static_cast<TcpConnection*>(req->data);
                      c->writing_ = false;
                      c->release(c->in_flight_);
                      c->in_flight_.clear();
                      if (c->closed_) return;
                      if (status < 0) {
                        log::debug(c->server_->options_.name, c->peer_, ": write failed: ",
                                   uv_strerror(status));
                        c->abort();
                        return;
                      }
                      c->flush();
                    });
  if (rc < 0) {
    writing_ = false;
    in_flight_.clear();
    abort();
  }
}

void TcpConnection::finish_close() {
  if (closed_) return;
  closed_ = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
    auto* c = static_cast<TcpConnection*>(h->data);
    // A write in flight is cancelled by uv_close and its callback ran before this one.
    std::unique_ptr<TcpHandler> handler = std::move(c->handler_);
    c->server_->forget(c);
    if (handler) handler->on_close();
    delete c;
  });
}

TcpServer::TcpServer(uv_loop_t* loop, TcpServerOptions options, Factory factory)
    : loop_(loop), options_(std::move(options)), factory_(std::move(factory)) {}

TcpServer::~TcpServer() = default;

bool TcpServer::start(std::string* error) {
  sockaddr_storage addr{};
  if (uv_ip4_addr(options_.bind.c_str(), options_.port, reinterpret_cast<sockaddr_in*>(&addr)) !=
          0 &&
      uv_ip6_addr(options_.bind.c_str(), options_.port, reinterpret_cast<sockaddr_in6*>(&addr)) !=
          0) {
    *error = "not a numeric address: " + options_.bind;
    return false;
  }
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  int rc = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 511, on_connection);
  if (rc != 0) {
    *error = "cannot listen on " + options_.bind + ":" + std::to_string(options_.port) + ": " +
             uv_strerror(rc);
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    return false;
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listening_ = true;
  uv_check_init(loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, on_check);
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
  uv_idle_init(loop_, &idle_);
  uv_timer_init(loop_, &reaper_);
  reaper_.data = this;
  uv_timer_start(&reaper_, on_reap, 1000, 1000);
  uv_unref(reinterpret_cast<uv_handle_t*>(&reaper_));
  return true;
}

void TcpServer::on_reap(uv_timer_t* timer) {
  auto* self = static_cast<TcpServer*>(timer->data);
  if (self->closing_.empty()) return;
  const std::uint64_t now = uv_now(self->loop_);
  std::vector<TcpConnection*> due;
  for (TcpConnection* c : self->closing_) {
    if (!c->closed_ && now >= c->close_deadline_) due.push_back(c);
  }
  for (TcpConnection* c : due) {
    log::info(self->options_.name, c->peer_, ": did not read its last messages within 5 s, "
              "closing now");
    c->abort();
  }
}

void TcpServer::stop() {
  if (stopped_ || !listening_) return;
  stopped_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&reaper_), nullptr);
  std::vector<TcpConnection*> all = all_;
  for (TcpConnection* c : all) c->abort();
}

void TcpServer::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<TcpServer*>(listener->data);
  if (status < 0) {
    log::warn(self->options_.name, "accept failed: ", uv_strerror(status));
    return;
  }
  auto* c = new TcpConnection(self);
  c->budget_.set_limits(self->options_.outbound);
  uv_tcp_init(self->loop_, &c->tcp_);
  c->tcp_.data = c;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp_)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_),
             [](uv_handle_t* h) { delete static_cast<TcpConnection*>(h->data); });
    return;
  }
  uv_tcp_nodelay(&c->tcp_, 1);
  c->peer_ = peer_name(&c->tcp_);
  self->all_.push_back(c);
  ++self->connections_;
  if (self->stopped_) {
    c->abort();
    return;
  }
  if (self->options_.limits) {
    std::string why;
    if (!self->options_.limits->admit(address_without_port(c->peer_), &why)) {
      log::warn(self->options_.name, c->peer_, ": refused, ", why);
      c->abort();
      return;
    }
    c->admitted_ = true;
  }
  c->handler_ = self->factory_(*c);
  if (!c->handler_ || c->closed_) {
    c->abort();
    return;
  }
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* conn = static_cast<TcpConnection*>(h->data);
        *buf = uv_buf_init(conn->read_buf_, sizeof conn->read_buf_);
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto* conn = static_cast<TcpConnection*>(s->data);
        if (n < 0) {
          if (n != UV_EOF) {
            log::debug(conn->server_->options_.name, conn->peer_, ": read: ",
                       uv_strerror(static_cast<int>(n)));
          }
          conn->abort();
          return;
        }
        if (n == 0 || conn->closing_ || !conn->handler_) return;
        conn->handler_->on_data(std::string_view(buf->base, static_cast<std::size_t>(n)));
      });
}

void TcpServer::mark_dirty(TcpConnection* c) {
  if (c->dirty_) return;
  c->dirty_ = true;
  if (dirty_.empty() && !stopped_) uv_idle_start(&idle_, [](uv_idle_t*) {});  // poll won't block
  dirty_.push_back(c);
}

void TcpServer::on_check(uv_check_t* check) {
  auto* self = static_cast<TcpServer*>(check->data);
  if (self->dirty_.empty()) return;
  std::vector<TcpConnection*> dirty;
  dirty.swap(self->dirty_);
  uv_idle_stop(&self->idle_);
  for (TcpConnection* c : dirty) c->flush();
}

void TcpServer::forget(TcpConnection* c) {
  --connections_;
  if (c->admitted_ && options_.limits) options_.limits->release(address_without_port(c->peer_));
  all_.erase(std::remove(all_.begin(), all_.end(), c), all_.end());
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), c), dirty_.end());
  closing_.erase(std::remove(closing_.begin(), closing_.end(), c), closing_.end());
}

}  // namespace fox::net
