// MQTT over TCP (--mqtt-port) and over WebSocket (/mqtt on --port, subprotocol "mqtt").
#pragma once
#include "mqtt/broker.hpp"
#include "net/tcp_server.hpp"
#include "net/ws_server.hpp"

namespace fox::mqtt {

net::TcpServer::Factory tcp_factory(Broker& broker);
net::WsEndpoint websocket_endpoint(Broker& broker);

}  // namespace fox::mqtt
