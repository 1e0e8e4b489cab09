// What every libuv TCP connection of fox does alike, whichever end opened it (TcpServer's
// connections, TcpClient): the bounded outbound queue whose frames are written in one uv_write
// with several buffers per flush (one syscall per loop turn, not per message: ~2 µs per write()
// measured), the read loop into the Handler, close after the queue, abort. When a flush runs is
// the owner's business (on_flush_wanted): serve's end of the turn for the server, a uv_idle for
// the client.
#pragma once
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.hpp"
#include "core/metrics.hpp"
#include "core/outbound.hpp"
#include "net/connection.hpp"
#include "net/tls.hpp"

namespace fox::net {

// "1.2.3.4:5" / "[::1]:5" of the peer of a connected handle ("?" when unknown).
std::string peer_name(uv_tcp_t* tcp);

class TcpStream : public Connection {
public:
  ~TcpStream() override;
  SendResult send(Frame frame, SendKind kind = SendKind::kNormal) override;
  using Connection::send;
  void close(std::string_view reason = {}) override;
  void abort() override;
  const std::string& peer_address() const override { return peer_; }
  bool congested() override;
  void established() override;
  bool closing() const { return closing_; }
  // TLS on this stream (mqtts, RawSocket over TLS; a client's, whose server must be `host`): what
  // the handler reads and sends is the plaintext. Before start_reading().
  void enable_tls(const TlsConfig& config, const std::string& host = {}) {
    tls_ = std::make_unique<TlsSession>(config, host);
  }
  // Counts the bytes read and written (core/metrics.hpp); nullptr = not counted.
  void count_traffic(metrics::Traffic* traffic) { traffic_ = traffic; }

protected:
  // How the stream ended when this side had not asked to (close() or abort() before it).
  enum class Cut { kNone, kPeerClosed, kReadError, kWriteError, kSlowConsumer };

  // `log_name` names the listener or client in log lines; it must outlive the stream.
  TcpStream(Env* env, const std::string* log_name);   // out of line: one copy for both ends

  // Frames were queued (or a close waits for them): flush() before the loop sleeps again. Called
  // once until the next flush().
  virtual void on_flush_wanted() = 0;
  // A graceful close waits for its queue: abort() the stream if still closing after 5 s.
  virtual void on_linger() = 0;
  // The handle is closed; the handler has not been told (on_close) yet. The stream may be
  // deleted here.
  virtual void on_handle_closed() = 0;
  // The TLS handshake is done.
  virtual void on_tls_established() {}

  // uv_tcp_init of tcp_ on `loop` (handle data: this stream).
  void init_handle(uv_loop_t* loop);
  // Delivers what the peer sends to the handler; end of stream or an error ends the stream.
  void start_reading();
  // Writes what is queued in one uv_write (at most kMaxBufsPerWrite buffers; the rest after it).
  void flush();
  void finish_close();
  // Records why the stream ends (unless this side is already closing it) and aborts it.
  void cut(Cut why, int status);
  void release_in_flight();

  struct Out {
    Frame frame;
    bool counted;   // in the budget (released when written)
  };

  Env* env_;
  const std::string* log_name_;
  uv_tcp_t tcp_{};
  uv_write_t write_req_{};
  bool writing_ = false, closing_ = false, closed_ = false, dirty_ = false;
  bool drain_wanted_ = false;
  Cut cut_ = Cut::kNone;
  int cut_status_ = 0;              // the libuv error of kReadError / kWriteError
  std::vector<Out> pending_, in_flight_;
  std::vector<uv_buf_t> bufs_;
  OutboundBudget budget_;
  std::unique_ptr<Handler> handler_;
  std::string peer_;
  Env::TimerId handshake_timer_ = 0;
  std::unique_ptr<TlsSession> tls_;
  metrics::Traffic* traffic_ = nullptr;
  std::string tls_writing_;   // the ciphertext of the write in flight
  std::string tls_error_;     // why TLS failed (the stream was cut for it)
  void tls_read(std::string_view cipher);
  void tls_flush();
  void write_bufs();
};

}  // namespace fox::net
