// What a client connection (TcpClient, WsClient) tells its protocol glue beyond net::Handler:
// that it is up, and why it ended when this side did not end it. Shared by the client tools
// (cli/) and, later, cluster links.
#pragma once
#include <string>

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

class ClientHandler : public Handler {
public:
  // Connected (TCP) or upgraded (WebSocket): what was sent before goes out now.
  virtual void on_connected() {}
  // Called once, right before on_close(), when the connection never came up or ended without
  // this side's close() / abort().
  virtual void on_failure(const ClientFailure& failure) = 0;
};

}  // namespace fox::net
