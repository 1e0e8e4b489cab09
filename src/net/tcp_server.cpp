#include "net/tcp_server.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "core/login_limiter.hpp"

namespace fox::net {

TcpConnection::TcpConnection(TcpServer* server)
    : TcpStream(server->options_.env, &server->options_.name), server_(server) {}

void TcpConnection::on_flush_wanted() { server_->dirty_.push_back(this); }

void TcpConnection::on_linger() {
  close_deadline_ = env_->monotonic_ms() + 5000;
  server_->closing_.push_back(this);
}

void TcpConnection::on_handle_closed() {
  std::unique_ptr<Handler> handler = std::move(handler_);
  server_->forget(this);
  if (handler) handler->on_close();
  delete this;
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
  uv_timer_init(loop_, &reaper_);
  reaper_.data = this;
  uv_timer_start(&reaper_, on_reap, 1000, 1000);
  uv_unref(reinterpret_cast<uv_handle_t*>(&reaper_));
  return true;
}

void TcpServer::on_reap(uv_timer_t* timer) {
  auto* self = static_cast<TcpServer*>(timer->data);
  if (self->closing_.empty()) return;
  const std::uint64_t now = self->options_.env->monotonic_ms();
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
  c->count_traffic(self->options_.traffic);
  c->init_handle(self->loop_);
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp_)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_),
             [](uv_handle_t* h) { delete static_cast<TcpStream*>(h->data); });
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
      ++metrics::counters().connections_refused;
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
  if (self->options_.handshake_timeout_ms > 0) {
    // One deadline for the whole protocol handshake (RawSocket + HELLO, CONNECT, FOX LOGIN).
    c->handshake_timer_ = self->options_.env->start_timer(self->options_.handshake_timeout_ms, [c] {
      c->handshake_timer_ = 0;
      if (c->closing_ || c->closed_) return;
      log::info(c->server_->options_.name, c->peer_, ": no ", c->handler_->waiting_for(),
                " within ", c->server_->options_.handshake_timeout_ms, " ms, closing");
      c->close("handshake timeout");
    });
  }
  if (self->options_.tls) c->enable_tls(*self->options_.tls);
  c->start_reading();
}

void TcpServer::flush() {
  if (dirty_.empty()) return;
  std::vector<TcpConnection*> dirty;
  dirty.swap(dirty_);
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
