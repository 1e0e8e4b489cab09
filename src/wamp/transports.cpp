#include "wamp/transports.hpp"

#include <algorithm>
#include <memory>

#include "core/log.hpp"
#include "wamp/rawsocket.hpp"

namespace fox::wamp {
namespace {

SessionInfo session_info(const char* transport, Serializer serializer, const std::string& peer) {
  SessionInfo i;
  i.transport = transport;
  i.serializer = std::string(subprotocol_name(serializer)).substr(7);  // "wamp.2."
  i.peer_address = peer;
  return i;
}

// WAMP over WebSocket: one message per WebSocket message, text frames for JSON.
class WebSocketWamp final : public net::Handler {
public:
  WebSocketWamp(Router& router, net::WsConnection& conn, Serializer serializer,
                SessionOptions options)
      : session_(router, conn, serializer, session_info("websocket", serializer, conn.peer_address()),
                 options) {
    conn.set_binary(serializer != Serializer::kJson);
  }
  void on_data(std::string_view message) override { session_.on_message(message); }
  void on_close() override { session_.on_transport_closed(); }
  void on_drain() override { session_.on_drain(); }
  const char* waiting_for() const override { return session_.waiting_for(); }

private:
  Session session_;
};

bool rawsocket_supported(int serializer) { return serializer_from_rawsocket_id(serializer).has_value(); }

// WAMP over RawSocket: the 4-byte handshake, then frames (a 4-byte header before each message).
// To its session it is the Connection: send() frames a message, the rest goes to the TCP one.
class RawSocketWamp final : public net::Handler, public net::Connection {
public:
  RawSocketWamp(Router& router, net::TcpConnection& conn, SessionOptions options,
                std::uint64_t max_message_size)
      : router_(router), conn_(conn), options_(options),
        server_max_(std::uint32_t{1} << (9 + rawsocket::length_exponent(max_message_size))),
        decoder_(server_max_) {}

  // net::Handler
  void on_data(std::string_view bytes) override {
    if (!session_) {
      while (!bytes.empty() && handshake_len_ < 4) {
        handshake_[handshake_len_++] = static_cast<unsigned char>(bytes.front());
        bytes.remove_prefix(1);
      }
      if (handshake_len_ < 4) return;
      rawsocket::Handshake h = rawsocket::accept(handshake_, server_max_, rawsocket_supported);
      if (!h.ok) {
        log::info("rawsocket", conn_.peer_address(), ": handshake refused: ", h.error);
        if (!h.fail_silently) conn_.send(std::string(reinterpret_cast<char*>(h.reply), 4));
        conn_.close();
        return;
      }
      // The 24-bit length field holds at most 2^24 - 1, whatever the client announced.
      client_max_ = std::min<std::uint32_t>(h.client_max, 0xFFFFFF);
      conn_.send(std::string(reinterpret_cast<char*>(h.reply), 4));
      Serializer serializer = *serializer_from_rawsocket_id(h.serializer);
      session_ = std::make_unique<Session>(
          router_, *this, serializer, session_info("rawsocket", serializer, conn_.peer_address()),
          options_);
    }
    if (bytes.empty()) return;
    decoder_.feed(bytes);
    for (;;) {
      rawsocket::FrameType type;
      std::string_view payload;
      std::string error;
      auto status = decoder_.next(&type, &payload, &error);
      if (status == rawsocket::FrameDecoder::Status::kNeedMore) return;
      if (status == rawsocket::FrameDecoder::Status::kError) {
        log::warn("rawsocket", conn_.peer_address(), ": ", error, ", closing");
        conn_.abort();
        return;
      }
      if (conn_.closing()) return;
      switch (type) {
        case rawsocket::FrameType::kMessage:
          session_->on_message(payload);
          break;
        case rawsocket::FrameType::kPing:
          conn_.send(rawsocket::frame_header(rawsocket::FrameType::kPong,
                                             static_cast<std::uint32_t>(payload.size())) +
                     std::string(payload));
          break;
        case rawsocket::FrameType::kPong:
          break;
      }
    }
  }
  void on_close() override {
    if (session_) session_->on_transport_closed();
  }
  void on_drain() override {
    if (session_) session_->on_drain();
  }
  const char* waiting_for() const override {
    return session_ ? session_->waiting_for() : "handshake";
  }

  // net::Connection, as the session sees it
  SendResult send(Frame bytes, SendKind kind) override {
    if (bytes->size() > client_max_) {
      log::warn("rawsocket", conn_.peer_address(), ": a message of ", bytes->size(),
                " bytes is over the client's maximum of ", client_max_, ", closing");
      conn_.abort();
      return SendResult::kQueued;
    }
    // Header and payload go out as two buffers of the same coalesced write: the payload bytes
    // stay shared with the other receivers.
    SendResult r = conn_.send(std::make_shared<const std::string>(rawsocket::frame_header(
                                  rawsocket::FrameType::kMessage,
                                  static_cast<std::uint32_t>(bytes->size()))),
                              kind);
    if (r != SendResult::kQueued) return r;
    return conn_.send(std::move(bytes), kind);
  }
  using net::Connection::send;
  void close(std::string_view reason) override { conn_.close(reason); }
  void abort() override { conn_.abort(); }
  const std::string& peer_address() const override { return conn_.peer_address(); }
  bool congested() override { return conn_.congested(); }
  void established() override { conn_.established(); }

private:
  Router& router_;
  net::TcpConnection& conn_;
  SessionOptions options_;
  std::uint32_t server_max_;
  std::uint32_t client_max_ = 0;
  unsigned char handshake_[4] = {0, 0, 0, 0};
  int handshake_len_ = 0;
  rawsocket::FrameDecoder decoder_;
  std::unique_ptr<Session> session_;
};

}  // namespace

net::WsEndpoint websocket_endpoint(Router& router, SessionOptions options) {
  net::WsEndpoint e;
  e.path = "/wamp";
  for (Serializer s : {Serializer::kJson, Serializer::kMsgpack, Serializer::kCbor}) {
    e.subprotocols.emplace_back(subprotocol_name(s));
  }
  e.make_handler = [&router, options](net::WsConnection& conn) -> std::unique_ptr<net::Handler> {
    auto serializer = serializer_from_subprotocol(conn.subprotocol());
    if (!serializer) return nullptr;
    return std::make_unique<WebSocketWamp>(router, conn, *serializer, options);
  };
  return e;
}

net::TcpServer::Factory rawsocket_factory(Router& router, SessionOptions options,
                                          std::uint64_t max_message_size) {
  return [&router, options, max_message_size](net::TcpConnection& conn) {
    return std::make_unique<RawSocketWamp>(router, conn, options, max_message_size);
  };
}

}  // namespace fox::wamp
