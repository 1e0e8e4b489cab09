#include "net/tcp_stream.hpp"

#include <algorithm>

#include "core/log.hpp"

namespace fox::net {
namespace {
// Writes at most this many buffers in one uv_write (IOV_MAX is 1024 on Linux).
constexpr std::size_t kMaxBufsPerWrite = 512;
}  // namespace

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

TcpStream::TcpStream(Env* env, const std::string* log_name) : env_(env), log_name_(log_name) {}
TcpStream::~TcpStream() = default;

SendResult TcpStream::send(Frame frame, SendKind kind) {
  if (closing_ || closed_) return SendResult::kQueued;
  const SendResult r = budget_.admit(frame->size(), kind, env_->monotonic_ms());
  if (r == SendResult::kOverflow) {
    // A slow consumer: its queue stayed over the limits (or grew far past them). Cut off now (a
    // graceful close would wait for a reader that does not read); its handler's on_close follows.
    log::warn(*log_name_, peer_,
              ": outbound queue stays over its limits (slow consumer), disconnecting");
    ++metrics::counters().slow_consumer_disconnects;
    cut(Cut::kSlowConsumer, 0);
  }
  if (r != SendResult::kQueued) return r;
  pending_.push_back({std::move(frame), kind != SendKind::kReplay});
  if (!dirty_) {
    dirty_ = true;
    on_flush_wanted();
  }
  return r;
}

bool TcpStream::congested() {
  if (!budget_.over_half()) return false;
  drain_wanted_ = true;
  return true;
}

void TcpStream::established() {
  if (handshake_timer_) env_->cancel_timer(handshake_timer_);
  handshake_timer_ = 0;
}

void TcpStream::release_in_flight() {
  for (const Out& o : in_flight_) {
    if (o.counted) budget_.release(o.frame->size());
  }
  in_flight_.clear();
}

void TcpStream::close(std::string_view) {
  if (closing_ || closed_) return;
  closing_ = true;
  if (!writing_ && pending_.empty()) {
    finish_close();
    return;
  }
  if (!dirty_) {
    dirty_ = true;
    on_flush_wanted();
  }
  on_linger();
}

void TcpStream::abort() {
  if (closed_) return;
  closing_ = true;
  pending_.clear();
  budget_.clear();
  finish_close();
}

void TcpStream::cut(Cut why, int status) {
  if (!closing_ && cut_ == Cut::kNone) {
    cut_ = why;
    cut_status_ = status;
  }
  abort();
}

void TcpStream::flush() {
  dirty_ = false;
  if (closed_ || writing_) return;  // the write callback flushes again
  if (tls_) {
    tls_flush();
    return;
  }
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
  write_bufs();
}

// One uv_write of bufs_ (frames in flight, or TLS ciphertext); its callback releases them and
// flushes again.
void TcpStream::write_bufs() {
  writing_ = true;
  if (traffic_) {
    for (const uv_buf_t& b : bufs_) traffic_->bytes_sent += b.len;
  }
  write_req_.data = this;
  int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), bufs_.data(),
                    static_cast<unsigned>(bufs_.size()), [](uv_write_t* req, int status) {
                      auto* c = static_cast<TcpStream*>(req->data);
                      c->writing_ = false;
                      c->release_in_flight();
                      c->tls_writing_.clear();
                      if (c->closed_) return;
                      if (status < 0) {
                        log::debug(*c->log_name_, c->peer_, ": write failed: ",
                                   uv_strerror(status));
                        c->cut(Cut::kWriteError, status);
                        return;
                      }
                      c->flush();
                      if (c->drain_wanted_ && !c->budget_.over_half() && c->handler_ &&
                          !c->closing_) {
                        c->drain_wanted_ = false;
                        c->handler_->on_drain();
                      }
                    });
  if (rc < 0) {
    writing_ = false;
    in_flight_.clear();
    cut(Cut::kWriteError, rc);
  }
}

void TcpStream::tls_read(std::string_view cipher) {
  std::string plain, why;
  const bool was_established = tls_->established();
  if (tls_->feed(cipher, &plain, &why) == TlsSession::Result::kFailed) {
    // What came before the alert or close_notify (a refusal's reason, say) still counts.
    if (!plain.empty() && handler_ && !closing_) handler_->on_data(plain);
    log::info(*log_name_, peer_, ": ", why, ", closing");
    tls_error_ = std::move(why);
    cut(Cut::kReadError, 0);
    return;
  }
  if (!was_established && tls_->established()) on_tls_established();
  // Handshake records to answer, or the frames that waited for the handshake.
  if ((!tls_->out().empty() || (!was_established && tls_->established())) && !dirty_) {
    dirty_ = true;
    on_flush_wanted();
  }
  if (!plain.empty() && handler_ && !closing_) handler_->on_data(plain);
}

// TLS: the queued frames are encrypted into one buffer (frames wait for the handshake), written
// in one uv_write.
void TcpStream::tls_flush() {
  std::string why;
  if (tls_->established()) {
    in_flight_.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.end()));
    pending_.clear();
    for (const Out& o : in_flight_) {
      if (tls_->write(*o.frame, &why) == TlsSession::Result::kFailed) {
        log::info(*log_name_, peer_, ": ", why, ", closing");
        cut(Cut::kWriteError, 0);
        return;
      }
    }
  }
  if (tls_->out().empty()) {
    release_in_flight();
    if (closing_ && pending_.empty()) finish_close();
    return;
  }
  tls_writing_.swap(tls_->out());
  tls_->out().clear();
  bufs_.assign(1, uv_buf_init(tls_writing_.data(), static_cast<unsigned>(tls_writing_.size())));
  write_bufs();
}

void TcpStream::finish_close() {
  if (closed_) return;
  closed_ = true;
  established();   // no handshake deadline for a closed connection
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  // A write in flight is cancelled by uv_close and its callback runs before this one.
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_),
           [](uv_handle_t* h) { static_cast<TcpStream*>(h->data)->on_handle_closed(); });
}

void TcpStream::init_handle(uv_loop_t* loop) {
  uv_tcp_init(loop, &tcp_);
  tcp_.data = this;
}

namespace {

// Every stream of a loop reads into the same buffer: a read is handed to the handler (or the
// TLS session) before the loop reads anything else, and what they keep of it they copy (a
// partial packet). 64 KiB of address space and a touched page per connection saved: an idle
// connection costs what its objects do.
thread_local char t_read_buffer[64 * 1024];

}  // namespace

void TcpStream::start_reading() {
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&tcp_),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        *buf = uv_buf_init(t_read_buffer, sizeof t_read_buffer);
      },
      [](uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
        auto* s = static_cast<TcpStream*>(stream->data);
        if (n < 0) {
          if (n != UV_EOF) {
            log::debug(*s->log_name_, s->peer_, ": read: ", uv_strerror(static_cast<int>(n)));
          }
          s->cut(n == UV_EOF ? Cut::kPeerClosed : Cut::kReadError, static_cast<int>(n));
          return;
        }
        if (n == 0 || s->closing_ || !s->handler_) return;
        if (s->traffic_) s->traffic_->bytes_received += static_cast<std::uint64_t>(n);
        if (s->tls_) {
          s->tls_read(std::string_view(buf->base, static_cast<std::size_t>(n)));
          return;
        }
        s->handler_->on_data(std::string_view(buf->base, static_cast<std::size_t>(n)));
      });
}

}  // namespace fox::net
