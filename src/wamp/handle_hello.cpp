// HELLO, AUTHENTICATE (through the Authenticator hook), WELCOME, GOODBYE.
#include <string>

#include "core/log.hpp"
#include "wamp/session.hpp"

namespace fox::wamp {
namespace {
constexpr const char* kLog = "wamp";
}  // namespace

Authenticator& Session::authenticator() {
  static AnonymousAuthenticator anonymous;  // stateless: one for every session
  if (options_.authenticator) return *options_.authenticator;
  if (router_.auth_policy()) {
    if (!config_auth_) config_auth_ = std::make_unique<ConfigAuthenticator>(router_.auth_policy());
    return *config_auth_;
  }
  return anonymous;
}

void Session::handle(Hello& m) {
  fox::Error error;
  Realm* realm = router_.realm(m.realm, &error);
  if (!realm) {
    std::string why = "no such realm: " + m.realm;
    if (error.args.is_array() && !error.args.empty() && error.args[0].is_string()) {
      why = error.args[0].get<std::string>();
    }
    abort(error.uri.empty() ? "wamp.error.no_such_realm" : error.uri, why);
    return;
  }
  // WAMP: a router revokes a subscription with UNSUBSCRIBED(0, details) only for subscribers that
  // announced subscription_revocation; for others the subscription just ends.
  const Json* features = &m.details;
  for (const char* key : {"roles", "subscriber", "features"}) {
    auto it = features->is_object() ? features->find(key) : features->end();
    features = (it != features->end()) ? &*it : nullptr;
    if (!features) break;
  }
  if (features && features->is_object()) {
    auto it = features->find("subscription_revocation");
    revocation_ = it != features->end() && it->is_boolean() && it->get<bool>();
  }
  pending_realm_ = realm;
  realm_name_ = m.realm;
  hello_details_ = std::move(m.details);
  // A login with credentials (an authid) from an address with too many failed logins is refused
  // unchecked until its block ends (core/login_limiter.hpp).
  const auto authid = hello_details_.is_object() ? hello_details_.find("authid")
                                                 : hello_details_.end();
  if (router_.auth_policy() && authid != hello_details_.end() && refuse_if_blocked()) return;
  apply(authenticator().hello(realm_name_, hello_details_));
}

// Again at AUTHENTICATE: a block that began after this session's HELLO (many sessions that said
// HELLO first must not get a guess each past the limit).
bool Session::refuse_if_blocked() {
  const std::uint64_t ms = router_.login_blocked(info_.peer_address);
  if (ms == 0) return false;
  abort("wamp.error.authentication_failed",
        "too many failed logins from this address; try again in " +
            std::to_string((ms + 999) / 1000) + " s");
  return true;
}

void Session::handle(Authenticate& m) {
  if (refuse_if_blocked()) return;
  AuthOutcome outcome =
      authenticator().authenticate(realm_name_, hello_details_, m.signature, m.extra, challenge_);
  if (outcome.kind == AuthOutcome::Kind::kChallenge) {
    outcome = AuthOutcome::abort("wamp.error.authentication_failed", "a second challenge");
  }
  apply(outcome);
}

void Session::apply(const AuthOutcome& outcome) {
  switch (outcome.kind) {
    case AuthOutcome::Kind::kAbort:
      if (outcome.reason == "wamp.error.authentication_failed") {
        router_.login_failed(info_.peer_address);
      }
      abort(outcome.reason, outcome.message);
      return;
    case AuthOutcome::Kind::kChallenge: {
      state_ = State::kWaitAuthenticate;
      Challenge c;
      c.authmethod = outcome.challenge_method;
      c.extra = outcome.extra.is_object() ? outcome.extra : Json::object();
      challenge_ = Json{{"method", c.authmethod}, {"extra", c.extra}};
      send_message(c);
      return;
    }
    case AuthOutcome::Kind::kWelcome:
      welcome(outcome);
      return;
  }
}

void Session::welcome(const AuthOutcome& outcome) {
  info_.authid = outcome.authid;
  info_.authrole = outcome.authrole;
  info_.authmethod = outcome.authmethod;
  info_.authprovider = outcome.authprovider;
  realm_ = pending_realm_;
  pending_realm_ = nullptr;
  state_ = State::kEstablished;
  conn_.established();
  session_id_ = realm_->join(*this, info_);
  Welcome w;
  w.session = session_id_;
  w.details = {{"realm", realm_name_},
               {"authid", info_.authid},
               {"authrole", info_.authrole},
               {"authmethod", info_.authmethod},
               {"authprovider", info_.authprovider},
               {"roles", router_roles()}};
  send_message(w);
  log::info(kLog, info_.peer_address, ": session ", session_id_, " joined realm ", realm_name_,
            " over ", info_.transport, " (", info_.serializer, ") as ",
            info_.authid.empty() ? std::string("anonymous") : info_.authid, ", role ",
            info_.authrole);
}

void Session::handle(Goodbye&) {
  Goodbye reply;
  reply.reason = "wamp.close.goodbye_and_out";
  send_message(reply);
  leave_realm("GOODBYE");
  state_ = State::kClosed;
  closing_ = true;
  conn_.close("goodbye");
}

}  // namespace fox::wamp
