#include "net/ws_stream.hpp"

#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

#include "core/log.hpp"

namespace fox::net {
namespace {
// At most this many messages are written per WRITEABLE wake-up, so one busy connection cannot
// starve the others; a write the socket did not take whole (lws keeps the rest: it is
// lws_partial_buffered) stops earlier.
constexpr int kWritesPerWakeup = 64;

// The messages of one wake-up leave corked: the kernel sends them as full segments when the
// socket is uncorked, instead of pushing one segment per message (on loopback the sender's CPU
// also pays the receiving side's processing of each). The profile of a 1 → 100 fan-out had 80 %
// of fox's CPU in send() below one lws_write per message.
void cork(struct lws* wsi, int on) {
  const int fd = lws_get_socket_fd(wsi);
  if (fd >= 0) ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}
}  // namespace

WsStream::WsStream() = default;
WsStream::~WsStream() = default;

SendResult WsStream::send(Frame frame, SendKind kind) {
  if (closing_ || !wsi_) return SendResult::kQueued;
  const SendResult r = budget_.admit(frame->size(), kind, env_->monotonic_ms());
  if (r == SendResult::kOverflow) {
    // A slow consumer: its queue stayed over the limits (or grew far past them). Cut off now (a
    // graceful close would wait for a reader that does not read); its handler's on_close follows.
    log::warn("ws", peer_, ": outbound queue stays over its limits (slow consumer), disconnecting");
    ++metrics::counters().slow_consumer_disconnects;
    write_failed_ = true;
    abort();
  }
  if (r != SendResult::kQueued) return r;
  out_.push_back({std::move(frame), kind != SendKind::kReplay});
  if (out_.size() == 1 && open_) lws_callback_on_writable(wsi_);
  return r;
}

bool WsStream::congested() {
  if (!budget_.over_half()) return false;
  drain_wanted_ = true;
  return true;
}

void WsStream::established() {
  if (handshake_timer_) env_->cancel_timer(handshake_timer_);
  handshake_timer_ = 0;
}

void WsStream::close_with(int code, std::string reason) {
  if (closing_ || !wsi_) return;
  if (!open_) {
    // Not upgraded yet (a client still connecting): nothing can be said, so it just ends.
    abort();
    return;
  }
  closing_ = true;
  close_code_ = code;
  close_reason_ = std::move(reason);
  if (close_reason_.size() > 120) close_reason_.resize(120);  // control frames are ≤125 bytes
  lws_callback_on_writable(wsi_);
  lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, 5);
}

void WsStream::abort() {
  if (!wsi_) return;
  closing_ = true;
  out_.clear();
  budget_.clear();
  lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void WsStream::receive(struct lws* wsi, const void* in, std::size_t len) {
  if (!handler_ || closing_) return;
  if (traffic_) traffic_->bytes_received += len;
  const bool first = lws_is_first_fragment(wsi);
  const bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
  if (first) rx_.clear();
  // Enforce the size bound before the buffer grows: the message is refused with 1009.
  if (rx_.size() + len > max_message_) {
    log::warn("ws", peer_, ": message over ", max_message_, " bytes, closing the connection");
    rx_.clear();
    rx_.shrink_to_fit();
    too_big_ = true;
    close_with(1009, "message too big");
    return;
  }
  // Text or binary, a message is its bytes for the protocol.
  if (first && final) {
    handler_->on_data(std::string_view(static_cast<const char*>(in), len));
    return;
  }
  rx_.append(static_cast<const char*>(in), len);
  if (final) {
    std::string msg;
    msg.swap(rx_);
    handler_->on_data(msg);
  }
}

int WsStream::writeable(struct lws* wsi) {
  if (closing_ && out_.empty()) {
    lws_close_reason(wsi, static_cast<enum lws_close_status>(close_code_),
                     reinterpret_cast<unsigned char*>(close_reason_.data()), close_reason_.size());
    return -1;
  }
  // A WRITEABLE callback starts with nothing buffered (lws_partial_buffered is never set then):
  // no poll() per message, as lws_send_pipe_choked() would make.
  const bool corked = out_.size() > 1;
  if (corked) cork(wsi, 1);
  for (int n = 0; n < kWritesPerWakeup && !out_.empty(); ++n) {
    if (n > 0 && lws_partial_buffered(wsi)) break;
    Out& o = out_.front();
    const std::string& f = *o.frame;
    // lws writes the frame header into LWS_PRE bytes before the payload: copy into a
    // per-connection scratch buffer, since the frame bytes are shared between connections.
    if (scratch_.size() < LWS_PRE + f.size()) scratch_.resize(LWS_PRE + f.size());
    std::memcpy(scratch_.data() + LWS_PRE, f.data(), f.size());
    const int size = static_cast<int>(f.size());
    int w = lws_write(wsi, scratch_.data() + LWS_PRE, f.size(),
                      binary_ ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (o.counted) budget_.release(f.size());
    if (traffic_ && w > 0) traffic_->bytes_sent += f.size();
    out_.pop_front();  // `f` and `o` are gone from here on
    if (w < size) {
      write_failed_ = true;
      if (corked) cork(wsi, 0);
      return -1;
    }
  }
  if (corked) cork(wsi, 0);
  if (scratch_.size() > 64 * 1024) {
    scratch_.clear();
    scratch_.shrink_to_fit();
  }
  if (!out_.empty() || closing_) lws_callback_on_writable(wsi);
  if (drain_wanted_ && !budget_.over_half() && !closing_ && handler_) {
    drain_wanted_ = false;
    handler_->on_drain();
  }
  return 0;
}

}  // namespace fox::net
