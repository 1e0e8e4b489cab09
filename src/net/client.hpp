// What a client connection (TcpClient, WsClient) tells its protocol glue beyond net::Handler:
// that it is up, and why it ended when this side did not end it. Shared by the client tools
// (cli/) and, later, cluster links.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "net/connection.hpp"

namespace fox::net {

struct ClientFailure {
  enum class Kind {
    kResolve,      // the host name did not resolve
    kConnect,      // refused, unreachable, or the WebSocket upgrade failed
    kTimeout,      // not connected within the connect deadline
    kPeerClosed,   // the peer ended the connection
    kRead,         // a read error, or a message over the size limit
    kWrite,        // a write error, or the peer stopped reading (outbound queue overflow)
  };
  Kind kind;
  std::string detail;   // libuv's or libwebsockets' words ("connection refused"); may be empty
};

// One line for a failure of the connection to `where` (HOST:PORT): "cannot connect to
// 127.0.0.1:1883: connection refused", "127.0.0.1:1883 closed the connection".
inline std::string describe(const ClientFailure& failure, const std::string& where) {
  using Kind = ClientFailure::Kind;
  std::string detail = failure.detail.empty() ? std::string() : ": " + failure.detail;
  switch (failure.kind) {
    case Kind::kResolve: return "cannot resolve " + where + detail;
    case Kind::kConnect:
    case Kind::kTimeout: return "cannot connect to " + where + detail;
    case Kind::kPeerClosed: return where + " closed the connection";
    case Kind::kRead: return "read from " + where + " failed" + detail;
    case Kind::kWrite: return "write to " + where + " failed" + detail;
  }
  return where + detail;
}

class ClientHandler : public Handler {
public:
  // Connected (TCP) or upgraded (WebSocket): what was sent before goes out now.
  virtual void on_connected() {}
  // Called once, right before on_close(), when the connection never came up or ended without
  // this side's close() / abort().
  virtual void on_failure(const ClientFailure& failure) = 0;
};

// The handler a client class (the tools' WAMP and MQTT clients, foxp::Client) gives its
// connection: it forwards the bytes and the end (with the failure, if any) to its owner until the
// owner lets go of the connection (detach(), before abort()), after which nothing reaches it.
template <class Owner>
class ClientLink final : public ClientHandler {
public:
  using DataFn = void (Owner::*)(std::string_view bytes);
  using ClosedFn = void (Owner::*)(std::optional<ClientFailure> failure);
  ClientLink(Owner* owner, DataFn on_data, ClosedFn on_closed)
      : owner_(owner), on_data_(on_data), on_closed_(on_closed) {}
  void detach() { owner_ = nullptr; }
  void on_data(std::string_view bytes) override {
    if (owner_) (owner_->*on_data_)(bytes);
  }
  void on_failure(const ClientFailure& failure) override { failure_ = failure; }
  void on_close() override {
    if (owner_) (owner_->*on_closed_)(std::move(failure_));
  }

private:
  Owner* owner_;
  DataFn on_data_;
  ClosedFn on_closed_;
  std::optional<ClientFailure> failure_;
};

}  // namespace fox::net
