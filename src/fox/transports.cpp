#include "fox/transports.hpp"

#include <memory>

#include "core/log.hpp"
#include "fox/codec.hpp"
#include "fox/session.hpp"

namespace fox::foxp {
namespace {

// A stream: the decoder cuts it into maps; a bad one ends the connection with one log line.
class TcpFox final : public net::Handler {
public:
  TcpFox(Router& router, net::Connection& conn, std::size_t max)
      : conn_(conn), decoder_(max), session_(router, conn, "fox") {}

  void on_data(std::string_view bytes) override {
    if (failed_) return;
    decoder_.feed(bytes);
    for (;;) {
      Json message;
      std::string error;
      switch (decoder_.next(&message, &error)) {
        case Next::kNeedMore:
          return;
        case Next::kError:
          fail(error);
          return;
        case Next::kMessage:
          if (!session_.on_message(message)) {
            failed_ = true;
            return;
          }
      }
    }
  }
  void on_close() override { session_.on_transport_closed(); }
  void on_drain() override { session_.on_drain(); }
  const char* waiting_for() const override { return session_.waiting_for(); }

private:
  void fail(const std::string& error) {
    failed_ = true;
    log::info("fox", conn_.peer_address(), ": ", error, ", closing");
    conn_.close("protocol violation");
    session_.on_transport_closed();
  }

  net::Connection& conn_;
  StreamDecoder decoder_;
  Session session_;
  bool failed_ = false;
};

// WebSocket: one map per message.
class WebSocketFox final : public net::Handler {
public:
  WebSocketFox(Router& router, net::WsConnection& conn, std::size_t max)
      : conn_(conn), max_(max), session_(router, conn, "fox-websocket") {
    conn.set_binary(true);
  }

  void on_data(std::string_view bytes) override {
    if (failed_) return;
    Json message;
    std::string error;
    if (!decode_message(bytes, max_, &message, &error)) {
      failed_ = true;
      log::info("fox", conn_.peer_address(), ": ", error, ", closing");
      conn_.close_unsupported("protocol violation");
      session_.on_transport_closed();
      return;
    }
    if (!session_.on_message(message)) failed_ = true;
  }
  void on_close() override { session_.on_transport_closed(); }
  void on_drain() override { session_.on_drain(); }
  const char* waiting_for() const override { return session_.waiting_for(); }

private:
  net::WsConnection& conn_;
  std::size_t max_;
  Session session_;
  bool failed_ = false;
};

}  // namespace

net::TcpServer::Factory tcp_factory(Router& router, std::size_t max_message_size) {
  return [&router, max_message_size](net::TcpConnection& conn) {
    return std::make_unique<TcpFox>(router, conn, max_message_size);
  };
}

net::WsEndpoint websocket_endpoint(Router& router, std::size_t max_message_size) {
  net::WsEndpoint e;
  e.path = "/fox";   // no subprotocol (fox-wamp's WebSocket transport negotiates none)
  e.make_handler = [&router, max_message_size](net::WsConnection& conn) -> std::unique_ptr<net::Handler> {
    return std::make_unique<WebSocketFox>(router, conn, max_message_size);
  };
  return e;
}

}  // namespace fox::foxp
