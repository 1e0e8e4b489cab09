// HTTP + WebSocket server: libwebsockets on fox's libuv loop (foreign loop, one thread).
// Knows nothing about WAMP or MQTT: an endpoint is a path plus the subprotocols it speaks, and a
// factory for the per-connection handler. An upgrade gets the first subprotocol it offers that is
// served at its path; one at a path that is no endpoint is answered 404, one offering none of the
// path's subprotocols 400 (with one log line each).
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
#include "net/ws_stream.hpp"

struct lws;
struct lws_context;

namespace fox::net {

class WsConnection;

// One WebSocket connection (a Connection: one frame = one WebSocket message; ws_stream.hpp).
// Valid until its Handler's on_close() returns.
class WsConnection final : public WsStream {
public:
  const std::string& subprotocol() const { return subprotocol_; }

private:
  friend class WsServer;
  std::string subprotocol_;
  bool admitted_ = false;
  std::uint8_t endpoint_ = 0;   // its index in the server's endpoints
};

struct WsEndpoint {
  std::string path;                          // "/wamp"
  // "wamp.2.json", ...; empty: the path takes upgrades that offer no subprotocol (and only those;
  // at most one such endpoint per server).
  std::vector<std::string> subprotocols;
  std::function<std::unique_ptr<Handler>(WsConnection&)> make_handler;
  metrics::Traffic* traffic = nullptr;       // counts its connections' bytes; nullptr = not counted
  std::size_t open = 0;                      // its connections open now (the server counts them)
};

struct WsServerOptions {
  std::string bind = "0.0.0.0";
  int port = 9000;
  std::size_t max_message_size = 16u * 1024 * 1024;
  OutboundLimits outbound;                   // what one connection may have queued
  std::string status_page;                   // body of GET / (text/html): the dashboard
  // Other GET paths (/metrics, ...): fills the status, content type and body and returns true,
  // or returns false (404).
  std::function<bool(const std::string& path, unsigned* status, std::string* content_type,
                     std::string* body)> pages;
  ConnectionLimits* limits = nullptr;        // WebSocket connections count; nullptr = no limit
  Env* env = nullptr;                        // clock and timers (required)
  std::uint64_t handshake_timeout_ms = 0;    // 0 = no deadline
  // TLS (wss://, https://): a certificate chain and its key, PEM (net/tls.hpp checked them).
  std::string tls_cert, tls_key;
};

class WsServer {
public:
  WsServer(uv_loop_t* loop, WsServerOptions options);
  ~WsServer();
  void add_endpoint(WsEndpoint endpoint);
  // Creates the lws context and its listening socket. On failure returns false with `error`.
  bool start(std::string* error);
  // Closes every connection and the listener; the loop then runs until lws released its handles.
  void stop();
  int port() const { return bound_port_; }
  const std::vector<WsEndpoint>& endpoints() const { return endpoints_; }

  // lws callback trampolines (public for the C callback table).
  int on_http(struct lws* wsi, int reason, void* user, void* in, std::size_t len);
  int on_ws(struct lws* wsi, int reason, void* user, void* in, std::size_t len,
            std::size_t endpoint_index, const std::string& subprotocol);
  // Undoes hide_protocols_not_at(); the trampoline calls it before every callback.
  void show_protocol_names();

  struct Protocol;  // one lws protocol entry: which endpoint/subprotocol (public for the C table)
  struct DefaultProtocol;   // the lws per-vhost option naming it (upgrades without subprotocol)

private:
  // LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: answers 404/400 (returns 1), or lets lws upgrade (0).
  int confirm_upgrade(struct lws* wsi, const char* upgrade);
  // Makes the lws names of the protocols not served at `path` match no offered subprotocol.
  void hide_protocols_not_at(const std::string& path);

  uv_loop_t* loop_;
  WsServerOptions options_;
  std::vector<WsEndpoint> endpoints_;
  std::vector<std::unique_ptr<Protocol>> protocol_info_;
  void* protocols_ = nullptr;                    // the lws_protocols array (C layout)
  struct lws_context* context_ = nullptr;
  int bound_port_ = 0;
  bool names_hidden_ = false;
  std::unique_ptr<DefaultProtocol> default_protocol_;
};

}  // namespace fox::net
