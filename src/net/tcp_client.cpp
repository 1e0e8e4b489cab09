#include "net/tcp_client.hpp"

#include <cstring>

#include "core/log.hpp"

namespace fox::net {

TcpClient* TcpClient::connect(uv_loop_t* loop, TcpClientOptions options,
                              std::unique_ptr<ClientHandler> handler) {
  auto* c = new TcpClient(loop, std::move(options));
  c->handler_ = std::move(handler);
  c->start();
  return c;
}

TcpClient::TcpClient(uv_loop_t* loop, TcpClientOptions options)
    : TcpStream(options.env, &options_.name), loop_(loop), options_(std::move(options)) {}

void TcpClient::start() {
  budget_.set_limits(options_.outbound);
  peer_ = options_.host + ":" + std::to_string(options_.port);
  // The handle exists from the start, so close() and abort() work the same in every state
  // (uv_close cancels a connect in progress).
  init_handle(loop_);
  if (options_.tls) enable_tls(*options_.tls, options_.host);
  uv_idle_init(loop_, &idle_);
  idle_.data = this;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  open_ = 3;
  if (options_.connect_timeout_ms > 0) {
    uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<TcpClient*>(t->data)->on_timer(); },
                   options_.connect_timeout_ms, 0);
  }
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  resolve_.data = this;
  const std::string service = std::to_string(options_.port);
  int rc = uv_getaddrinfo(
      loop_, &resolve_,
      [](uv_getaddrinfo_t* req, int status, struct addrinfo* res) {
        static_cast<TcpClient*>(req->data)->resolved(status, res);
      },
      options_.host.c_str(), service.c_str(), &hints);
  if (rc != 0) {
    fail(ClientFailure::Kind::kResolve, uv_strerror(rc));
    return;
  }
  resolving_ = true;
  ++open_;
}

void TcpClient::resolved(int status, struct addrinfo* res) {
  resolving_ = false;
  if (closed_) {
    // Closed while resolving: on_handle_closed tells (or told) the handler.
  } else if (status != 0 || !res) {
    fail(ClientFailure::Kind::kResolve, uv_strerror(status));
  } else {
    connect_req_.data = this;
    // Only the first address is tried (no fallback to the next one yet).
    int rc = uv_tcp_connect(&connect_req_, &tcp_, res->ai_addr, [](uv_connect_t* req, int st) {
      static_cast<TcpClient*>(req->data)->on_connect(st);
    });
    if (rc != 0) fail(ClientFailure::Kind::kConnect, uv_strerror(rc));
  }
  if (res) uv_freeaddrinfo(res);
  release();   // may delete this
}

void TcpClient::on_connect(int status) {
  if (status == UV_ECANCELED || closed_) return;   // closed meanwhile: on_handle_closed follows
  if (status != 0) {
    fail(ClientFailure::Kind::kConnect, uv_strerror(status));
    return;
  }
  connected_ = true;
  if (!tls_) uv_timer_stop(&timer_);   // with TLS the deadline holds for the handshake too
  uv_tcp_nodelay(&tcp_, 1);
  peer_ = peer_name(&tcp_);
  start_reading();
  if (tls_) tls_read({});          // the ClientHello
  if (dirty_) on_flush_wanted();   // what was sent before the connection was up
  if (handler_ && !closing_) static_cast<ClientHandler*>(handler_.get())->on_connected();
}

void TcpClient::on_tls_established() {
  if (!closing_) uv_timer_stop(&timer_);
}

void TcpClient::on_flush_wanted() {
  if (!connected_) return;   // on_connect flushes what waited
  uv_idle_start(&idle_, [](uv_idle_t* h) {
    uv_idle_stop(h);
    static_cast<TcpClient*>(h->data)->flush();
  });
}

void TcpClient::on_linger() {
  // Before the connection is up the connect deadline stays in charge.
  if (connected_) {
    uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<TcpClient*>(t->data)->on_timer(); },
                   5000, 0);
  }
}

void TcpClient::on_timer() {
  if (closed_) return;
  if (!connected_ || (tls_ && !tls_->established() && !closing_)) {
    fail(ClientFailure::Kind::kTimeout, connected_ ? "the TLS handshake timed out" : "timed out");
    return;
  }
  log::debug(options_.name, peer_, ": did not read the last messages within 5 s, closing now");
  abort();
}

void TcpClient::fail(ClientFailure::Kind kind, std::string detail) {
  if (closed_) return;
  if (!failure_) failure_ = ClientFailure{kind, std::move(detail)};
  abort();
}

std::optional<ClientFailure> TcpClient::failure() const {
  if (failure_) return failure_;
  if (!tls_error_.empty()) {
    return ClientFailure{tls_->established() ? ClientFailure::Kind::kRead : ClientFailure::Kind::kConnect,
                         tls_error_};
  }
  switch (cut_) {
    case Cut::kNone: return std::nullopt;
    case Cut::kPeerClosed: return ClientFailure{ClientFailure::Kind::kPeerClosed, {}};
    case Cut::kReadError: return ClientFailure{ClientFailure::Kind::kRead, uv_strerror(cut_status_)};
    case Cut::kWriteError:
      return ClientFailure{ClientFailure::Kind::kWrite, uv_strerror(cut_status_)};
    case Cut::kSlowConsumer:
      return ClientFailure{ClientFailure::Kind::kWrite, "the peer does not read"};
  }
  return std::nullopt;
}

void TcpClient::on_handle_closed() {
  // A resolve still queued in the thread pool is dropped (one already running just finishes).
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_));
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&idle_),
                         reinterpret_cast<uv_handle_t*>(&timer_)}) {
    uv_close(h, [](uv_handle_t* handle) { static_cast<TcpClient*>(handle->data)->release(); });
  }
  std::unique_ptr<Handler> handler = std::move(handler_);
  if (handler) {
    auto* h = static_cast<ClientHandler*>(handler.get());
    if (std::optional<ClientFailure> f = failure()) h->on_failure(*f);
    h->on_close();
  }
  release();
}

void TcpClient::release() {
  if (--open_ == 0) delete this;
}

}  // namespace fox::net
