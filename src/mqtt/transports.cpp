#include "mqtt/transports.hpp"

#include "mqtt/connection.hpp"

namespace fox::mqtt {
namespace {

// MQTT over TCP, or over WebSocket (several packets in one message and one packet split over
// several messages both work: the messages are a byte stream for the decoder).
class MqttHandler final : public net::Handler {
public:
  MqttHandler(Server& server, net::Connection& conn, const char* transport)
      : mqtt_(server.accept(conn, transport)) {}
  void on_data(std::string_view bytes) override { mqtt_->on_data(bytes); }
  void on_close() override { mqtt_->on_transport_closed(); }
  void on_drain() override { mqtt_->on_drain(); }
  const char* waiting_for() const override { return mqtt_->waiting_for(); }

private:
  std::unique_ptr<Connection> mqtt_;
};

}  // namespace

net::TcpServer::Factory tcp_factory(Server& server) {
  return [&server](net::TcpConnection& conn) {
    return std::make_unique<MqttHandler>(server, conn, "mqtt");
  };
}

net::WsEndpoint websocket_endpoint(Server& server) {
  net::WsEndpoint e;
  e.path = "/mqtt";
  e.subprotocols = {"mqtt"};
  e.make_handler = [&server](net::WsConnection& conn) -> std::unique_ptr<net::Handler> {
    conn.set_binary(true);
    return std::make_unique<MqttHandler>(server, conn, "mqtt-websocket");
  };
  return e;
}

}  // namespace fox::mqtt
