// wamp::Session driven in-process: a fake transport, a real Router with a manual clock.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "router_fakes.hpp"
#include "wamp/session.hpp"

using namespace fox;
using namespace fox::wamp;

namespace {

class FakeTransport : public Transport {
public:
  SendResult send(std::shared_ptr<const std::string> bytes, SendKind) override {
    auto decoded = decode(Serializer::kJson, *bytes);
    REQUIRE(decoded.ok());
    sent.push_back(decoded.message());
    return SendResult::kQueued;
  }
  void close(const std::string& reason) override { closed = reason; }
  void abort(const std::string& reason) override { closed = reason; }
  template <typename T> const T* last() const {
    return sent.empty() ? nullptr : std::get_if<T>(&sent.back());
  }
  std::vector<Message> sent;
  std::string closed;
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
                           const std::string& signature, const Json&) override {
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
  test::FakeEnv env;
  Router router(env);
  FakeTransport t;
  Session s(router, t, Serializer::kJson, SessionInfo{});
  s.on_message(hello({{"roles", {{"subscriber", Json::object()}}}}));
  auto* w = t.last<Welcome>();
  REQUIRE(w != nullptr);
  CHECK(w->details["authmethod"] == "anonymous");
  CHECK(w->details["roles"]["broker"]["features"]["publisher_exclusion"] == true);
  s.on_transport_closed();
}

TEST_CASE("the authenticator hook challenges and welcomes the right ticket") {
  test::FakeEnv env;
  Router router(env);
  TicketAuthenticator auth;
  FakeTransport t;
  SessionOptions o;
  o.authenticator = &auth;
  Session s(router, t, Serializer::kJson, SessionInfo{}, o);
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
  test::FakeEnv env;
  Router router(env);
  TicketAuthenticator auth;
  FakeTransport t;
  SessionOptions o;
  o.authenticator = &auth;
  Session s(router, t, Serializer::kJson, SessionInfo{}, o);
  s.on_message(hello({{"authid", "joe"}}));
  s.on_message(encode(Serializer::kJson, Authenticate{"guess", Json::object()}));
  auto* a = t.last<Abort>();
  REQUIRE(a != nullptr);
  CHECK(a->reason == "wamp.error.authentication_failed");
  CHECK_FALSE(t.closed.empty());
}

TEST_CASE("anything but AUTHENTICATE after a CHALLENGE is a protocol violation") {
  test::FakeEnv env;
  Router router(env);
  TicketAuthenticator auth;
  FakeTransport t;
  SessionOptions o;
  o.authenticator = &auth;
  Session s(router, t, Serializer::kJson, SessionInfo{}, o);
  s.on_message(hello({{"authid", "joe"}}));
  s.on_message(encode(Serializer::kJson, Subscribe{1, Json::object(), "a.b"}));
  auto* a = t.last<Abort>();
  REQUIRE(a != nullptr);
  CHECK(a->reason == "wamp.error.protocol_violation");
}

TEST_CASE("AUTHENTICATE without a CHALLENGE is refused") {
  test::FakeEnv env;
  Router router(env);
  FakeTransport t;
  Session s(router, t, Serializer::kJson, SessionInfo{});
  s.on_message(encode(Serializer::kJson, Authenticate{"x", Json::object()}));
  auto* a = t.last<Abort>();
  REQUIRE(a != nullptr);
  CHECK(a->reason == "wamp.error.protocol_violation");
}

TEST_CASE("a client waiting in the challenge is closed by the handshake timeout") {
  test::FakeEnv env;
  Router router(env);
  TicketAuthenticator auth;
  FakeTransport t;
  SessionOptions o;
  o.authenticator = &auth;
  o.handshake_timeout_ms = 1000;
  Session s(router, t, Serializer::kJson, SessionInfo{}, o);
  s.on_message(hello({{"authid", "joe"}}));
  env.advance(999);
  CHECK(t.closed.empty());
  env.advance(2);
  CHECK(t.closed == "handshake timeout");
}
