#include "mqtt/transports.hpp"

namespace fox::mqtt {
namespace {

class TcpMqtt final : public net::TcpHandler, public Transport {
public:
  TcpMqtt(Broker& broker, net::TcpConnection& conn)
      : conn_(conn), mqtt_(broker.accept(*this, "mqtt", conn.peer_address())) {}
  void on_data(std::string_view bytes) override { mqtt_->on_data(bytes); }
  void on_close() override { mqtt_->on_transport_closed(); }
  SendResult send(std::shared_ptr<const std::string> bytes, SendKind kind) override {
    return conn_.send(std::move(bytes), kind);
  }
  void close() override { conn_.close(); }
  void abort() override { conn_.abort(); }

private:
  net::TcpConnection& conn_;
  std::unique_ptr<Connection> mqtt_;
};

// Several MQTT packets in one WebSocket message and one packet split over several messages both
// work: the messages are a byte stream for the decoder.
class WebSocketMqtt final : public net::WsHandler, public Transport {
public:
  WebSocketMqtt(Broker& broker, net::WsConnection& conn)
      : conn_(conn), mqtt_(broker.accept(*this, "mqtt-websocket", conn.peer_address())) {}
  void on_message(std::string_view data, bool) override { mqtt_->on_data(data); }
  void on_close() override { mqtt_->on_transport_closed(); }
  SendResult send(std::shared_ptr<const std::string> bytes, SendKind kind) override {
    return conn_.send(std::move(bytes), true, kind);
  }
  void close() override { conn_.close(1000, ""); }
  void abort() override { conn_.abort(); }

private:
  net::WsConnection& conn_;
  std::unique_ptr<Connection> mqtt_;
};

}  // namespace

net::TcpServer::Factory tcp_factory(Broker& broker) {
  return [&broker](net::TcpConnection& conn) { return std::make_unique<TcpMqtt>(broker, conn); };
}

net::WsEndpoint websocket_endpoint(Broker& broker) {
  net::WsEndpoint e;
  e.path = "/mqtt";
  e.subprotocols = {"mqtt"};
  e.make_handler = [&broker](net::WsConnection& conn) -> std::unique_ptr<net::WsHandler> {
    return std::make_unique<WebSocketMqtt>(broker, conn);
  };
  return e;
}

}  // namespace fox::mqtt
