// One WAMP session: the protocol state machine between a connection (WebSocket, or RawSocket
// framed by transports.cpp) and the router. Turns WAMP messages into router commands and the
// router's answers (Peer) into WAMP messages. Files by job:
//   session.cpp        state machine, dispatch, sending, the Peer answers
//   handle_hello.cpp   HELLO, AUTHENTICATE (authenticator hook), WELCOME, GOODBYE
//   handle_pubsub.cpp  PUBLISH, SUBSCRIBE (then the replays it asked for), UNSUBSCRIBE
//   handle_rpc.cpp     CALL, CANCEL, REGISTER, UNREGISTER, YIELD, ERROR
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/connection.hpp"
#include "router/peer.hpp"
#include "router/router.hpp"
#include "wamp/authenticator.hpp"
#include "wamp/codec.hpp"

namespace fox::wamp {

struct SessionOptions {
  Authenticator* authenticator = nullptr;      // nullptr = anonymous
};

class Session final : public Peer {
public:
  Session(Router& router, net::Connection& connection, Serializer serializer, SessionInfo info,
          SessionOptions options = {});
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // One complete WAMP message from the connection.
  void on_message(std::string_view bytes);
  // The connection is gone: leave the realm (wills, pending calls, subscriptions).
  void on_transport_closed();
  // The connection's queue drained: paused replays go on.
  void on_drain();
  // What the connection waits for before the session is established (handshake timeout).
  const char* waiting_for() const {
    return state_ == State::kWaitAuthenticate ? "AUTHENTICATE" : "HELLO";
  }

  Id id() const { return session_id_; }
  Serializer serializer() const { return serializer_; }

  // Peer
  void send_published(Id request, Id publication) override;
  void send_event(const fox::Delivery& delivery) override;
  void send_subscription_revoked(Id subscription, const std::string& reason) override;
  bool congested() const override { return conn_.congested(); }
  void send_registration_revoked(Id registration, const std::string& reason) override;
  void send_invocation(const fox::Invocation& invocation) override;
  void send_interrupt(Id invocation, const std::string& mode) override;
  void send_result(Id call_request, const fox::Result& result) override;
  void send_error(RequestType type, Id request, const fox::Error& error) override;

  // The WELCOME.Details.roles this router announces (exactly what is implemented).
  static Json router_roles();

private:
  enum class State { kWaitHello, kWaitAuthenticate, kEstablished, kClosed };

  // handle_hello.cpp
  void handle(Hello& m);
  void handle(Authenticate& m);
  // ABORT authentication_failed when the peer's address is blocked (core/login_limiter.hpp).
  bool refuse_if_blocked();
  void apply(const AuthOutcome& outcome);
  Authenticator& authenticator();
  std::unique_ptr<ConfigAuthenticator> config_auth_;
  Json challenge_ = Json::object();   // the CHALLENGE sent: {method, extra}
  void welcome(const AuthOutcome& outcome);
  void handle(Goodbye& m);
  // handle_pubsub.cpp
  void handle(Publish& m);
  void handle(Subscribe& m);
  void handle(Unsubscribe& m);
  // handle_rpc.cpp
  void handle(Call& m);
  void handle(Cancel& m);
  void handle(Register& m);
  void handle(Unregister& m);
  void handle(Yield& m);
  void handle(wamp::Error& m);

  void send_message(const Message& message);
  void send_bytes(std::shared_ptr<const std::string> bytes);
  void abort(const std::string& reason, const std::string& message);
  void kick(const std::string& reason) override {
    abort(reason, "the cluster fired this session's will (its node was judged lost)");
  }
  void protocol_violation(const std::string& message);
  void error_reply(MessageType request_type, Id request, const std::string& uri,
                   const std::string& message);
  void send_router_error(MessageType request_type, Id request, const fox::Error& error);
  // Leaves the realm joined (if any), with one log line naming why.
  void leave_realm(const char* why = "connection closed");

  Router& router_;
  net::Connection& conn_;
  Serializer serializer_;
  SessionInfo info_;
  SessionOptions options_;
  State state_ = State::kWaitHello;
  Realm* realm_ = nullptr;
  Realm* pending_realm_ = nullptr;   // between CHALLENGE and AUTHENTICATE
  std::string realm_name_;
  Json hello_details_;
  Id session_id_ = 0;
  bool closing_ = false;
  bool revocation_ = false;  // the client announced subscriber feature subscription_revocation
};

}  // namespace fox::wamp
