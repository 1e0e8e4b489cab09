// A TCP client connection on the libuv loop (the client tools' MQTT, later cluster links):
// resolves the host (uv_getaddrinfo), connects to its first address within a deadline, and is
// then a Connection like the server's (tcp_stream.hpp: the same bounded queue, the same coalesced
// writes, the same close/abort). Frames sent before it is connected wait for the connection.
//
// One write per loop turn: there is no serve end-of-turn hook on the client side, so the first
// frame queued after a flush starts a uv_idle, and its callback (at the start of the next loop
// iteration, before the loop polls again) writes everything queued since in one uv_write.
#pragma once
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/env.hpp"
#include "core/outbound.hpp"
#include "net/client.hpp"
#include "net/tcp_stream.hpp"

namespace fox::net {

struct TcpClientOptions {
  std::string name = "tcp";     // for log lines
  std::string host;             // a name or a numeric address
  int port = 0;
  OutboundLimits outbound;      // what the connection may have queued (frames, bytes)
  Env* env = nullptr;           // clock (required)
  std::uint64_t connect_timeout_ms = 10'000;   // resolve + connect (+ TLS handshake); 0 = none
  const TlsConfig* tls = nullptr;   // a client TlsConfig: TLS to `host`; outlives the client
};

class TcpClient final : public TcpStream {
public:
  // Starts resolving and connecting. The connection owns itself: it is valid until `handler`'s
  // on_close() returns (always later, never from inside connect()).
  static TcpClient* connect(uv_loop_t* loop, TcpClientOptions options,
                            std::unique_ptr<ClientHandler> handler);
  bool connected() const { return connected_; }

private:
  TcpClient(uv_loop_t* loop, TcpClientOptions options);
  void start();
  void resolved(int status, struct addrinfo* res);
  void on_connect(int status);
  void fail(ClientFailure::Kind kind, std::string detail);
  std::optional<ClientFailure> failure() const;
  // One of the handles (TCP, idle, timer) or the resolve request is done; the last one deletes
  // this.
  void release();
  // The connect deadline before the connection is up, the 5 s of a graceful close after.
  void on_timer();
  void on_flush_wanted() override;
  void on_linger() override;
  void on_handle_closed() override;
  void on_tls_established() override;

  uv_loop_t* loop_;
  TcpClientOptions options_;
  uv_getaddrinfo_t resolve_{};
  uv_connect_t connect_req_{};
  uv_idle_t idle_{};
  uv_timer_t timer_{};
  int open_ = 0;   // handles and requests libuv still holds
  bool resolving_ = false, connected_ = false;
  std::optional<ClientFailure> failure_;   // before the connection was up
};

}  // namespace fox::net
