// A WebSocket client connection on the libuv loop (the client tools' WAMP, later cluster links):
// libwebsockets' client side in a context of its own (no listener, foreign loop), plain ws://
// only, the subprotocol the caller offers. Then a Connection like the server's (ws_stream.hpp:
// the same bounded queue written on WRITEABLE, whole messages reassembled from fragments, close
// with a status, abort). Messages sent before the upgrade is done wait for it.
//
// Every handler call runs on the loop thread. on_failure / on_close come from a loop turn of
// their own, outside libwebsockets' callbacks; then the context is destroyed (in two steps, a
// few loop turns apart) and the connection deletes itself.
#pragma once
#include <uv.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "core/env.hpp"
#include "core/outbound.hpp"
#include "net/client.hpp"
#include "net/ws_stream.hpp"

struct lws_context;

namespace fox::net {

struct WsClientOptions {
  std::string host;
  int port = 80;
  std::string path = "/";
  std::string subprotocol;          // offered in Sec-WebSocket-Protocol ("wamp.2.json")
  bool binary = false;              // messages go out as binary frames, else as text
  std::size_t max_message_size = 16u * 1024 * 1024;   // a bigger one ends the connection (1009)
  OutboundLimits outbound;          // what the connection may have queued
  Env* env = nullptr;               // clock (required)
  int connect_timeout_s = 10;       // connect + upgrade (libwebsockets' timeout)
  // Non-empty: wss:// (TLS), the server's certificate must chain to a CA of this PEM file and
  // name `host` (libwebsockets with mbedTLS 2.28: as a DNS name, or the CN of a certificate
  // without alternative names; an IP address name is not matched).
  std::string ca_file;
};

class WsClient final : public WsStream {
public:
  // Starts connecting. nullptr (with *error) when libwebsockets cannot start a client; no handler
  // call then. Otherwise the connection owns itself: it is valid until `handler`'s on_close()
  // returns (always later, never from inside connect()).
  static WsClient* connect(uv_loop_t* loop, WsClientOptions options,
                           std::unique_ptr<ClientHandler> handler, std::string* error);
  bool connected() const { return open_; }

  // libwebsockets entry point (public for the C callback).
  int on_lws(struct lws* wsi, int reason, void* in, std::size_t len);

private:
  WsClient(uv_loop_t* loop, WsClientOptions options);
  // The wsi is gone (inside an lws callback): the rest waits for the next turn (finish()).
  void ended(struct lws* wsi, std::optional<ClientFailure> failure);
  // How a connection that came up ended, from this side's view.
  std::optional<ClientFailure> end_failure() const;
  void finish();

  uv_loop_t* loop_;
  WsClientOptions options_;
  struct lws_context* context_ = nullptr;
  uv_timer_t finisher_{};   // finish() on the next turn, then the context's second destroy
  int ticks_ = 0;
  bool ended_ = false;
  std::optional<ClientFailure> failure_;
};

// libwebsockets' own log lines (process-wide) become fox debug lines: for the client tools, whose
// one error line says it better. fox serve keeps ws_server.cpp's routing.
void lws_logs_to_debug();

}  // namespace fox::net
