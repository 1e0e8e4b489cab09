// One network connection, whatever carries it (TCP, WebSocket): what a protocol session may do
// with it, and what it is told. The TCP and WebSocket servers (tcp_server.hpp, ws_server.hpp)
// implement Connection; protocol glue implements Handler.
//
// Shared rules, in one place:
//  - outbound budget (core/outbound.hpp): a connection whose reader stays behind is cut off here,
//    with one log line ("slow consumer"), and send() says kOverflow;
//  - handshake deadline: a connection whose handler has not called established() within
//    limits.handshake_timeout is closed, with one log line naming what it waited for;
//  - flow control: congested() is true over half the budget; on_drain() follows below it again.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "core/outbound.hpp"

namespace fox::net {

class Connection {
public:
  using Frame = std::shared_ptr<const std::string>;
  virtual ~Connection() = default;
  // Queues one frame: bytes of a TCP stream, or one WebSocket message. The bytes may be shared
  // with other connections. Frames queued in one loop turn go out in one write.
  virtual SendResult send(Frame frame, SendKind kind = SendKind::kNormal) = 0;
  SendResult send(std::string bytes) { return send(std::make_shared<const std::string>(std::move(bytes))); }
  // Ends the connection after what is queued (a WebSocket close frame carries `reason`); a peer
  // that does not read is cut off after 5 s.
  virtual void close(std::string_view reason = {}) = 0;
  // Ends the connection because the peer sent what this side cannot take (a protocol
  // violation): WebSocket closes with 1003 (unsupported data), a TCP stream as close().
  virtual void close_unsupported(std::string_view reason) { close(reason); }
  // Ends the connection now, dropping what is queued.
  virtual void abort() = 0;
  virtual const std::string& peer_address() const = 0;
  // Over half its outbound limits: replays wait, and the handler's on_drain() comes once it is
  // below again.
  virtual bool congested() = 0;
  // The protocol's handshake is done (WELCOME, CONNACK): the handshake deadline is off.
  virtual void established() = 0;
};

// What a connection tells its protocol glue. One handler per connection.
class Handler {
public:
  virtual ~Handler() = default;
  // TCP: the next bytes of the stream; WebSocket: one whole message.
  virtual void on_data(std::string_view bytes) = 0;
  // The connection is gone (peer closed, error, or close()/abort() done). Last call.
  virtual void on_close() = 0;
  // The outbound queue went below half its limits after congested() said true.
  virtual void on_drain() {}
  // What the connection waits for before established() (for the handshake timeout's log line).
  virtual const char* waiting_for() const { return "handshake"; }
};

}  // namespace fox::net
