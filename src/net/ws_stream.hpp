// What every WebSocket connection of fox does alike, whichever end opened it (WsServer's
// connections, WsClient): the bounded outbound queue written on lws's WRITEABLE callbacks (one
// frame = one message, text or binary), whole messages reassembled from fragments for the
// handler, close with a status and reason, abort. The owner feeds it lws's callbacks.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.hpp"
#include "core/fifo.hpp"
#include "core/metrics.hpp"
#include "core/outbound.hpp"
#include "net/connection.hpp"

struct lws;

namespace fox::net {

class WsStream : public Connection {
public:
  ~WsStream() override;
  SendResult send(Frame frame, SendKind kind = SendKind::kNormal) override;
  using Connection::send;
  // A close frame with status 1000 and the reason, then the end of the connection.
  void close(std::string_view reason = {}) override { close_with(1000, std::string(reason)); }
  void close_unsupported(std::string_view reason) override { close_with(1003, std::string(reason)); }
  // A close frame with this status code; a peer that does not read is cut off after 5 s.
  void close_with(int code, std::string reason);
  void abort() override;
  const std::string& peer_address() const override { return peer_; }
  bool congested() override;
  void established() override;
  // Messages go out as binary frames (MessagePack, CBOR, MQTT) or text frames (JSON).
  void set_binary(bool binary) { binary_ = binary; }
  std::size_t queued_messages() const { return out_.size(); }

protected:
  // Out of line: one copy of the members' set-up for both ends.
  WsStream();
  // LWS_CALLBACK_(CLIENT_)RECEIVE: one fragment; a whole message goes to the handler. A message
  // over max_message_ closes the connection with 1009 (too_big_).
  void receive(struct lws* wsi, const void* in, std::size_t len);
  // LWS_CALLBACK_(SERVER|CLIENT)_WRITEABLE: writes what is queued. -1 = close the connection now
  // (the close frame went out, or a write failed: write_failed_).
  int writeable(struct lws* wsi);

  struct Out {
    Frame frame;
    bool counted;   // in the budget (released when written)
  };
  bool binary_ = true;
  bool drain_wanted_ = false;
  Env* env_ = nullptr;
  Env::TimerId handshake_timer_ = 0;
  // The connection's wsi (nullptr once lws closed it); writes are asked for only once open_ (the
  // upgrade is done), so a client's queue waits for its connection.
  struct lws* wsi_ = nullptr;
  bool open_ = false;
  std::string peer_;
  Fifo<Out> out_;                  // (core/fifo.hpp: no allocation until a first message)
  std::unique_ptr<Handler> handler_;
  std::string rx_;                 // the message being reassembled from fragments
  bool closing_ = false, too_big_ = false, write_failed_ = false;
  int close_code_ = 1000;
  std::string close_reason_;
  OutboundBudget budget_;
  std::size_t max_message_ = 0;
  std::vector<unsigned char> scratch_;
  metrics::Traffic* traffic_ = nullptr;   // counts the message bytes (core/metrics.hpp)
};

}  // namespace fox::net
