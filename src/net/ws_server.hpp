// HTTP + WebSocket server: libwebsockets on fox's libuv loop (foreign loop, one thread).
// Knows nothing about WAMP or MQTT: an endpoint is a path plus the subprotocols it speaks, and a
// factory for the per-connection handler. An upgrade gets the first subprotocol it offers that is
// served at its path; one at a path that is no endpoint is answered 404, one offering none of the
// path's subprotocols 400 (with one log line each).
#pragma once
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/outbound.hpp"
#include "net/connection_limits.hpp"

struct lws;
struct lws_context;

namespace fox::net {

class WsConnection;

// Receives the messages of one WebSocket connection (one handler per connection).
class WsHandler {
public:
  virtual ~WsHandler() = default;
  virtual void on_message(std::string_view data, bool binary) = 0;
  // The connection is gone (peer closed, error, or close() completed). Last call.
  virtual void on_close() = 0;
};

// What a handler may do with its connection. Valid until WsHandler::on_close() returns.
class WsConnection {
public:
  using Frame = std::shared_ptr<const std::string>;
  // Queues one WebSocket message; the bytes may be shared with other connections. Within the
  // connection's outbound budget (core/outbound.hpp: what happens at the bound depends on
  // `kind`); kOverflow: nothing was queued, the caller should disconnect the slow consumer.
  SendResult send(Frame frame, bool binary, SendKind kind = SendKind::kNormal);
  // Sends a close frame with this status code and reason, then ends the connection; a peer that
  // does not read is cut off after 5 s.
  void close(int code, std::string reason);
  // Ends the connection now, dropping what is queued (a slow consumer).
  void abort();
  const std::string& subprotocol() const { return subprotocol_; }
  const std::string& peer_address() const { return peer_; }
  std::size_t queued_messages() const { return out_.size(); }

private:
  friend class WsServer;
  struct Out {
    Frame frame;
    bool binary;
    bool counted;   // in the budget (released when written)
  };
  struct lws* wsi_ = nullptr;
  std::string subprotocol_, peer_;
  bool admitted_ = false;
  std::deque<Out> out_;
  std::unique_ptr<WsHandler> handler_;
  std::string rx_;                 // the message being reassembled from fragments
  bool closing_ = false, rx_overflow_ = false;
  int close_code_ = 1000;
  std::string close_reason_;
  OutboundBudget budget_;
  uv_loop_t* loop_ = nullptr;
  std::size_t max_message_ = 0;
  std::vector<unsigned char> scratch_;
};

struct WsEndpoint {
  std::string path;                          // "/wamp"
  std::vector<std::string> subprotocols;     // "wamp.2.json", ...
  std::function<std::unique_ptr<WsHandler>(WsConnection&)> make_handler;
};

struct WsServerOptions {
  std::string bind = "0.0.0.0";
  int port = 9000;
  std::size_t max_message_size = 16u * 1024 * 1024;
  OutboundLimits outbound;                   // what one connection may have queued
  std::string status_page;                   // body of GET / (text/html)
  ConnectionLimits* limits = nullptr;        // WebSocket connections count; nullptr = no limit
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

  // lws callback trampolines (public for the C callback table).
  int on_http(struct lws* wsi, int reason, void* user, void* in, std::size_t len);
  int on_ws(struct lws* wsi, int reason, void* user, void* in, std::size_t len,
            std::size_t endpoint_index, const std::string& subprotocol);
  // Undoes hide_protocols_not_at(); the trampoline calls it before every callback.
  void show_protocol_names();

  struct Protocol;  // one lws protocol entry: which endpoint/subprotocol (public for the C table)

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
};

}  // namespace fox::net
