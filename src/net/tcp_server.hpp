// Plain TCP listener and connections on the libuv loop (WAMP RawSocket, MQTT over TCP).
// Knows nothing about the protocols: bytes in through TcpHandler, frames out through
// TcpConnection::send. Outgoing frames of a connection are coalesced into one uv_write with several
// buffers per loop turn (one syscall per turn, not per message: ARCHITECTURE.md measured ~2 µs per
// write()).
#pragma once
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/outbound.hpp"
#include "net/connection_limits.hpp"

namespace fox::net {

class TcpServer;

class TcpHandler {
public:
  virtual ~TcpHandler() = default;
  virtual void on_data(std::string_view bytes) = 0;
  // The connection is gone (peer closed, error, or close() done). Last call.
  virtual void on_close() = 0;
};

class TcpConnection {
public:
  using Frame = std::shared_ptr<const std::string>;
  // Queues bytes (possibly shared with other connections), within the connection's outbound
  // budget (core/outbound.hpp: what happens at the bound depends on `kind`). kOverflow: nothing
  // was queued and the caller should disconnect the slow consumer.
  SendResult send(Frame frame, SendKind kind = SendKind::kNormal);
  SendResult send(std::string bytes) {
    return send(std::make_shared<const std::string>(std::move(bytes)));
  }
  // Flushes what is queued, then closes; a peer that does not read is cut off after 5 s.
  void close();
  // Closes now, dropping what is queued.
  void abort();
  const std::string& peer_address() const { return peer_; }
  bool closing() const { return closing_; }

private:
  friend class TcpServer;
  explicit TcpConnection(TcpServer* server) : server_(server) {}
  void flush();
  void finish_close();

  TcpServer* server_;
  uv_tcp_t tcp_{};
  uv_write_t write_req_{};
  struct Out {
    Frame frame;
    bool counted;   // in the budget (released when written)
  };
  void release(const std::vector<Out>& written);

  bool writing_ = false, closing_ = false, closed_ = false, dirty_ = false;
  std::vector<Out> pending_, in_flight_;
  OutboundBudget budget_;
  std::vector<uv_buf_t> bufs_;
  std::unique_ptr<TcpHandler> handler_;
  std::string peer_;
  bool admitted_ = false;  // counted in the server's ConnectionLimits
  std::uint64_t close_deadline_ = 0;  // uv_now() after which a graceful close becomes abort()
  char read_buf_[64 * 1024];
};

struct TcpServerOptions {
  std::string name = "tcp";     // for log lines
  std::string bind = "0.0.0.0";
  int port = 0;
  OutboundLimits outbound;              // what one connection may have queued (frames, bytes)
  ConnectionLimits* limits = nullptr;   // shared by every listener; nullptr = no limit
};

class TcpServer {
public:
  using Factory = std::function<std::unique_ptr<TcpHandler>(TcpConnection&)>;
  TcpServer(uv_loop_t* loop, TcpServerOptions options, Factory factory);
  ~TcpServer();
  bool start(std::string* error);
  // Closes the listener and every connection (each handler gets on_close).
  void stop();
  int port() const { return port_; }
  std::size_t connection_count() const { return connections_; }

private:
  friend class TcpConnection;
  static void on_connection(uv_stream_t* server, int status);
  void mark_dirty(TcpConnection* c);
  static void on_check(uv_check_t* check);
  static void on_reap(uv_timer_t* timer);
  void forget(TcpConnection* c);

  uv_loop_t* loop_;
  TcpServerOptions options_;
  Factory factory_;
  uv_tcp_t listener_{};
  uv_check_t check_{};
  uv_idle_t idle_{};
  uv_timer_t reaper_{};                  // aborts graceful closes past their deadline
  bool listening_ = false, stopped_ = false;
  int port_ = 0;
  std::size_t connections_ = 0;
  std::vector<TcpConnection*> all_;     // every open connection (for stop())
  std::vector<TcpConnection*> dirty_;   // connections with frames to flush this turn
  std::vector<TcpConnection*> closing_; // graceful closes still flushing
};

}  // namespace fox::net
