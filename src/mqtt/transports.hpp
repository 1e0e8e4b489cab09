// MQTT over TCP (--mqtt-port) and over WebSocket (/mqtt on --port, subprotocol "mqtt").
#pragma once
#include "mqtt/server.hpp"
#include "net/tcp_server.hpp"
#include "net/ws_server.hpp"

namespace fox::mqtt {

net::TcpServer::Factory tcp_factory(Server& server);
net::WsEndpoint websocket_endpoint(Server& server);

}  // namespace fox::mqtt
