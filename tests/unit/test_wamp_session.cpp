// wamp::Session driven in-process: a fake network connection, a real Router (memory engine) with a
// manual clock.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "router_fakes.hpp"
#include "store/memory_engine.hpp"
#include "wamp/session.hpp"

using namespace fox;
using namespace fox::wamp;

namespace {

// The network connection a Session writes to. Like the TCP and WebSocket connections of net/, it
// can hold a handshake deadline (net/connection.hpp): when the session has not called
// established() within it, the connection closes itself with "handshake timeout".
class FakeTransport : public net::Connection {
public:
  FakeTransport() = default;
  FakeTransport(Env& env, std::uint64_t handshake_timeout_ms) : env_(&env) {
    handshake_timer_ = env.start_timer(handshake_timeout_ms, [this] {
      handshake_timer_ = 0;
      if (closed.empty()) close("handshake timeout");
    });
  }
  ~FakeTransport() override { established(); }
  SendResult send(Frame bytes, SendKind) override {
    auto decoded = decode(Serializer::kJson, *bytes);
    REQUIRE(decoded.ok());
    sent.push_back(decoded.message());
    return SendResult::kQueued;
  }
  using net::Connection::send;
  void close(std::string_view reason) override { closed = reason; }
  void abort() override { closed = "aborted"; }
  const std::string& peer_address() const override { return peer_; }
  bool congested() override { return false; }
  void established() override {
    is_established = true;
    if (handshake_timer_) env_->cancel_timer(handshake_timer_);
    handshake_timer_ = 0;
  }
  template <typename T> const T* last() const {
    return sent.empty() ? nullptr : std::get_if<T>(&sent.back());
  }
  std::vector<Message> sent;
  std::string closed;
  bool is_established = false;

private:
  std::string peer_ = "test";
  Env* env_ = nullptr;
  Env::TimerId handshake_timer_ = 0;
};

// A router over the memory engine, with a manual clock.
struct World {
  test::FakeEnv env;
  store::MemoryEngine engine;
  Router router{env, engine};
};

// A ticket-style authenticator: challenges every HELLO, accepts the secret "s3cret" for joe.
class TicketAuthenticator : public Authenticator {
public:
  AuthOutcome hello(const std::string&, const Json& details) override {
    if (details.value("authid", "") != "joe") {
      return AuthOutcome::abort("wamp.error.no_auth_method", "unknown user");
    }
    return AuthOutcome::challenge("ticket", {{"hint", "password"}});
  }
  AuthOutcome authenticate(const std::string& realm, const Json& hello_details,
                           const std::string& signature, const Json&, const Json&) override {
    if (signature != "s3cret" || realm != "realm1") {
      return AuthOutcome::abort("wamp.error.authentication_failed", "wrong ticket");
    }
    return AuthOutcome::welcome(hello_details.value("authid", ""), "user", "ticket");
  }
};

std::string hello(Json details) {
  details["roles"] = {{"subscriber", Json::object()}, {"publisher", Json::object()}};
  return encode(Serializer::kJson, Hello{"realm1", details});
}

}  // namespace

TEST_CASE("an anonymous HELLO is welcomed with the router roles") {
  World world;
  FakeTransport t;
  Session s(world.router, t, Serializer::kJson, SessionInfo{});
  s.on_message(hello({{"roles", {{"subscriber", Json::object()}}}}));
  auto* w = t.last<Welcome>();
  REQUIRE(w != nullptr);
  CHECK(w->details["authmethod"] == "anonymous");
  CHECK(w->details["roles"]["broker"]["features"]["publisher_exclusion"] == true);
  s.on_transport_closed();
}

TEST_CASE("the authenticator hook challenges and welcomes the right ticket") {
  World world;
  TicketAuthenticator auth;
  FakeTransport t;
  SessionOptions o;
  o.authenticator = &auth;
  Session s(world.router, t, Serializer::kJson, SessionInfo{}, o);
  s.on_message(hello({{"authid", "joe"}, {"authmethods", {"ticket"}}}));
  auto* c = t.last<Challenge>();
  REQUIRE(c != nullptr);
  CHECK(c->authmethod == "ticket");
  CHECK(c->extra["hint"] == "password");
  s.on_message(encode(Serializer::kJson, Authenticate{"s3cret", Json::object()}));
  auto* w = t.last<Welcome>();
  REQUIRE(w != nullptr);
  CHECK(w->details["authid"] == "joe");
  CHECK(w->details["authrole"] == "user");
  CHECK(w->details["authmethod"] == "ticket");
  s.on_transport_closed();
}

TEST_CASE("a wrong ticket is aborted with authentication_failed") {
  World world;
  TicketAuthenticator auth;
  FakeTransport t;
  SessionOptions o;
  o.authenticator = &auth;
  Session s(world.router, t, Serializer::kJson, SessionInfo{}, o);
  s.on_message(hello({{"authid", "joe"}}));
  s.on_message(encode(Serializer::kJson, Authenticate{"guess", Json::object()}));
  auto* a = t.last<Abort>();
  REQUIRE(a != nullptr);
  CHECK(a->reason == "wamp.error.authentication_failed");
  CHECK_FALSE(t.closed.empty());
}

TEST_CASE("anything but AUTHENTICATE after a CHALLENGE is a protocol violation") {
  World world;
  TicketAuthenticator auth;
  FakeTransport t;
  SessionOptions o;
  o.authenticator = &auth;
  Session s(world.router, t, Serializer::kJson, SessionInfo{}, o);
  s.on_message(hello({{"authid", "joe"}}));
  s.on_message(encode(Serializer::kJson, Subscribe{1, Json::object(), "a.b"}));
  auto* a = t.last<Abort>();
  REQUIRE(a != nullptr);
  CHECK(a->reason == "wamp.error.protocol_violation");
}

TEST_CASE("AUTHENTICATE without a CHALLENGE is refused") {
  World world;
  FakeTransport t;
  Session s(world.router, t, Serializer::kJson, SessionInfo{});
  s.on_message(encode(Serializer::kJson, Authenticate{"x", Json::object()}));
  auto* a = t.last<Abort>();
  REQUIRE(a != nullptr);
  CHECK(a->reason == "wamp.error.protocol_violation");
}

// The handshake deadline itself belongs to the connection now (net/tcp_server.cpp,
// net/ws_server.cpp); what the session owns is not calling established() before WELCOME and
// naming what the connection waits for.
TEST_CASE("a client waiting in the challenge is closed by the handshake timeout") {
  World world;
  TicketAuthenticator auth;
  FakeTransport t(world.env, 1000);
  SessionOptions o;
  o.authenticator = &auth;
  Session s(world.router, t, Serializer::kJson, SessionInfo{}, o);
  CHECK(std::string(s.waiting_for()) == "HELLO");
  s.on_message(hello({{"authid", "joe"}}));
  REQUIRE(t.last<Challenge>() != nullptr);
  CHECK_FALSE(t.is_established);
  CHECK(std::string(s.waiting_for()) == "AUTHENTICATE");
  world.env.advance(999);
  CHECK(t.closed.empty());
  world.env.advance(2);
  CHECK(t.closed == "handshake timeout");
}
