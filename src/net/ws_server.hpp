// HTTP + WebSocket server: libwebsockets on fox's libuv loop (foreign loop, one thread).
// Knows nothing about WAMP or MQTT: an endpoint is a path plus the subprotocols it speaks, and a
// factory for the per-connection handler. A client offering none of an endpoint's subprotocols,
// or a subprotocol at the wrong path, is refused during the upgrade.
#pragma once
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
  // Queues one WebSocket message; the bytes may be shared with other connections.
  // Returns false when the connection's outbound queue is over its bound (the caller decides).
  // `force` queues even over the bound (a replay burst the client asked for).
  bool send(Frame frame, bool binary, bool force = false);
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
  std::size_t max_queue_ = 0;
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
  std::size_t max_queue = 10000;             // outbound messages per connection
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

  struct Protocol;  // one lws protocol entry: which endpoint/subprotocol (public for the C table)

private:
  uv_loop_t* loop_;
  WsServerOptions options_;
  std::vector<WsEndpoint> endpoints_;
  std::vector<std::unique_ptr<Protocol>> protocol_info_;
  void* protocols_ = nullptr;                    // the lws_protocols array (C layout)
  struct lws_context* context_ = nullptr;
  int bound_port_ = 0;
};

}  // namespace fox::net
