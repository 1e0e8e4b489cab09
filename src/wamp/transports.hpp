// WAMP over the two transports: WebSocket (/wamp on the HTTP port, subprotocols wamp.2.json,
// wamp.2.msgpack, wamp.2.cbor) and RawSocket over TCP. Each connection owns one wamp::Session.
#pragma once
#include <cstdint>

#include "net/tcp_server.hpp"
#include "net/ws_server.hpp"
#include "router/router.hpp"
#include "wamp/session.hpp"

namespace fox::wamp {

net::WsEndpoint websocket_endpoint(Router& router, SessionOptions options);
// `max_message_size` bounds what a RawSocket peer may send (announced in the handshake).
net::TcpServer::Factory rawsocket_factory(Router& router, SessionOptions options,
                                          std::uint64_t max_message_size);

}  // namespace fox::wamp
