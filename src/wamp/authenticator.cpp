#include "wamp/authenticator.hpp"

#include <algorithm>

namespace fox::wamp {

AuthOutcome AuthOutcome::welcome(std::string authid, std::string authrole, std::string authmethod,
                                 std::string authprovider) {
  AuthOutcome o;
  o.kind = Kind::kWelcome;
  o.authid = std::move(authid);
  o.authrole = std::move(authrole);
  o.authmethod = std::move(authmethod);
  o.authprovider = std::move(authprovider);
  return o;
}

AuthOutcome AuthOutcome::challenge(std::string method, Json extra) {
  AuthOutcome o;
  o.kind = Kind::kChallenge;
  o.challenge_method = std::move(method);
  o.extra = std::move(extra);
  return o;
}

AuthOutcome AuthOutcome::abort(std::string reason, std::string message) {
  AuthOutcome o;
  o.kind = Kind::kAbort;
  o.reason = std::move(reason);
  o.message = std::move(message);
  return o;
}

AuthOutcome AnonymousAuthenticator::hello(const std::string&, const Json& details) {
  auto methods = details.find("authmethods");
  if (methods != details.end() && methods->is_array() && !methods->empty()) {
    bool anonymous = std::any_of(methods->begin(), methods->end(), [](const Json& v) {
      return v.is_string() && v.get<std::string>() == "anonymous";
    });
    if (!anonymous) {
      return AuthOutcome::abort("wamp.error.no_auth_method",
                                "no offered authentication method is supported");
    }
  }
  auto authid = details.find("authid");
  return AuthOutcome::welcome(
      (authid != details.end() && authid->is_string()) ? authid->get<std::string>() : "anonymous",
      "anonymous", "anonymous");
}

AuthOutcome AnonymousAuthenticator::authenticate(const std::string&, const Json&,
                                                 const std::string&, const Json&) {
  return AuthOutcome::abort("wamp.error.protocol_violation", "AUTHENTICATE without a CHALLENGE");
}

}  // namespace fox::wamp
