// One WAMP session: the protocol state machine between a transport (WebSocket or RawSocket) and
// the router. Turns WAMP messages into router commands and router answers (Peer) into WAMP
// messages. Knows no sockets: it talks to its connection through wamp::Transport.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/outbound.hpp"
#include "router/peer.hpp"
#include "router/router.hpp"
#include "wamp/authenticator.hpp"
#include "wamp/codec.hpp"

namespace fox::wamp {

// What a session needs from its connection.
class Transport {
public:
  virtual ~Transport() = default;
  // Sends one encoded WAMP message (the bytes may be shared with other sessions), within the
  // connection's outbound budget (core/outbound.hpp). kReplay: a burst the client asked for.
  virtual SendResult send(std::shared_ptr<const std::string> bytes, SendKind kind) = 0;
  // Ends the connection after what is queued (asynchronously: the transport later calls
  // Session::on_transport_closed).
  virtual void close(const std::string& reason) = 0;
  // Ends the connection now, dropping what is queued (a slow consumer).
  virtual void abort(const std::string& reason) = 0;
};

struct SessionOptions {
  std::uint64_t handshake_timeout_ms = 10000;  // no HELLO (or no AUTHENTICATE) within → close
  Authenticator* authenticator = nullptr;      // nullptr = anonymous
};

class Session final : public Peer {
public:
  Session(Router& router, Transport& transport, Serializer serializer, SessionInfo info,
          SessionOptions options = {});
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // One complete WAMP message from the transport.
  void on_message(std::string_view bytes);
  // The connection is gone: leave the realm (wills, pending calls, subscriptions).
  void on_transport_closed();

  Id id() const { return session_id_; }
  Serializer serializer() const { return serializer_; }

  // Peer
  void send_published(Id request, Id publication) override;
  void send_subscribed(Id request, Id subscription) override;
  void send_unsubscribed(Id request) override;
  void send_event(const fox::Event& event) override;
  void send_subscription_revoked(Id subscription, const std::string& reason) override;
  void send_registered(Id request, Id registration) override;
  void send_unregistered(Id request) override;
  void send_registration_revoked(Id registration, const std::string& reason) override;
  void send_invocation(const fox::Invocation& invocation) override;
  void send_interrupt(Id invocation, const std::string& mode) override;
  void send_result(Id call_request, const fox::Result& result) override;
  void send_error(RequestType type, Id request, const fox::Error& error) override;

  // The WELCOME.Details.roles this router announces (exactly what is implemented).
  static Json router_roles();

private:
  enum class State { kWaitHello, kWaitAuthenticate, kEstablished, kClosed };

  void handle(Hello& m);
  void handle(Authenticate& m);
  void apply(const AuthOutcome& outcome);
  Authenticator& authenticator();
  void welcome(const AuthOutcome& outcome);
  void handle(Goodbye& m);
  void handle(Publish& m);
  void handle(Subscribe& m);
  void handle(Unsubscribe& m);
  void handle(Call& m);
  void handle(Cancel& m);
  void handle(Register& m);
  void handle(Unregister& m);
  void handle(Yield& m);
  void handle(wamp::Error& m);

  void send_message(const Message& message);
  void send_bytes(std::shared_ptr<const std::string> bytes, bool replay = false);
  void abort(const std::string& reason, const std::string& message);
  void protocol_violation(const std::string& message);
  void error_reply(MessageType request_type, Id request, const std::string& uri,
                   const std::string& message);
  void leave_realm();

  Router& router_;
  Transport& transport_;
  Serializer serializer_;
  SessionInfo info_;
  SessionOptions options_;
  State state_ = State::kWaitHello;
  Realm* realm_ = nullptr;
  Realm* pending_realm_ = nullptr;   // between CHALLENGE and AUTHENTICATE
  std::string realm_name_;
  Json hello_details_;
  Id session_id_ = 0;
  RouterEnv::TimerId handshake_timer_ = 0;
  bool closing_ = false;
  bool revocation_ = false;  // the client announced subscriber feature subscription_revocation
};

}  // namespace fox::wamp
