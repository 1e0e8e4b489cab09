// FOX over TCP (--fox-port: a stream of MessagePack maps) and over WebSocket (/fox on the HTTP
// port, no subprotocol, one map per binary message: browsers cannot open raw TCP). Each
// connection owns one foxp::Session.
#pragma once
#include <cstddef>

#include "net/tcp_server.hpp"
#include "net/ws_server.hpp"
#include "router/router.hpp"

namespace fox::foxp {

// `max_message_size`: a longer message (or a declared string longer than it) closes the connection.
net::TcpServer::Factory tcp_factory(Router& router, std::size_t max_message_size);
net::WsEndpoint websocket_endpoint(Router& router, std::size_t max_message_size);

}  // namespace fox::foxp
