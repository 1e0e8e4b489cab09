// Plain TCP listener and connections on the libuv loop (WAMP RawSocket, MQTT over TCP, FOX).
// Knows nothing about the protocols: bytes in through Handler::on_data, frames out through
// Connection::send. Outgoing frames of a connection are coalesced into one uv_write with several
// buffers per loop turn (tcp_stream.hpp), when serve's end of the turn calls flush().
#pragma once
#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.hpp"
#include "core/outbound.hpp"
#include "net/connection.hpp"
#include "net/connection_limits.hpp"
#include "net/tcp_stream.hpp"

namespace fox::net {

class TcpServer;

// One accepted connection: the shared TcpStream, flushed by the server's flush(), counted in its
// ConnectionLimits, and deleted once its handler's on_close() returned.
class TcpConnection final : public TcpStream {
private:
  friend class TcpServer;
  explicit TcpConnection(TcpServer* server);
  void on_flush_wanted() override;
  void on_linger() override;
  void on_handle_closed() override;

  TcpServer* server_;
  bool admitted_ = false;  // counted in the server's ConnectionLimits
  std::uint64_t close_deadline_ = 0;  // monotonic ms after which a graceful close becomes abort()
};

struct TcpServerOptions {
  std::string name = "tcp";     // for log lines
  std::string bind = "0.0.0.0";
  int port = 0;
  OutboundLimits outbound;              // what one connection may have queued (frames, bytes)
  ConnectionLimits* limits = nullptr;   // shared by every listener; nullptr = no limit
  Env* env = nullptr;                   // clock and timers (required)
  std::uint64_t handshake_timeout_ms = 0;   // 0 = no deadline
  const TlsConfig* tls = nullptr;     // TLS on every connection (mqtts, RawSocket over TLS)
  metrics::Traffic* traffic = nullptr;   // counts every connection's bytes; nullptr = not counted
};

class TcpServer {
public:
  using Factory = std::function<std::unique_ptr<Handler>(TcpConnection&)>;
  TcpServer(uv_loop_t* loop, TcpServerOptions options, Factory factory);
  ~TcpServer();
  bool start(std::string* error);
  // Writes what every connection queued this turn (serve's end of the loop turn).
  void flush();
  // Closes the listener and every connection (each handler gets on_close).
  void stop();
  int port() const { return port_; }
  std::size_t connection_count() const { return connections_; }

private:
  friend class TcpConnection;
  static void on_connection(uv_stream_t* server, int status);
  static void on_reap(uv_timer_t* timer);
  void forget(TcpConnection* c);

  uv_loop_t* loop_;
  TcpServerOptions options_;
  Factory factory_;
  uv_tcp_t listener_{};
  uv_timer_t reaper_{};                  // aborts graceful closes past their deadline
  bool listening_ = false, stopped_ = false;
  int port_ = 0;
  std::size_t connections_ = 0;
  std::vector<TcpConnection*> all_;     // every open connection (for stop())
  std::vector<TcpConnection*> dirty_;   // connections with frames to flush this turn
  std::vector<TcpConnection*> closing_; // graceful closes still flushing
};

}  // namespace fox::net
