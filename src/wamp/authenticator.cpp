#include "wamp/authenticator.hpp"

#include <algorithm>

#include "core/base64.hpp"
#include "net/crypto.hpp"

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
                                                 const std::string&, const Json&, const Json&) {
  return AuthOutcome::abort("wamp.error.protocol_violation", "AUTHENTICATE without a CHALLENGE");
}

namespace {

std::string authid_of(const Json& details) {
  auto it = details.find("authid");
  return it != details.end() && it->is_string() ? it->get<std::string>() : std::string();
}

AuthOutcome failed(const std::string& why) {
  return AuthOutcome::abort("wamp.error.authentication_failed", why);
}

}  // namespace

AuthOutcome ConfigAuthenticator::hello(const std::string& realm, const Json& details) {
  const auth::RealmPolicy* policy = policy_ ? policy_->find(realm) : nullptr;
  if (!policy) return anonymous_.hello(realm, details);
  std::vector<std::string> methods;
  if (auto it = details.find("authmethods"); it != details.end() && it->is_array()) {
    for (const Json& m : *it) {
      if (m.is_string()) methods.push_back(m.get<std::string>());
    }
  }
  if (methods.empty()) methods.push_back("anonymous");
  const std::string authid = authid_of(details);
  for (const std::string& method : methods) {
    if ((method == "ticket" || method == "wampcra") && !authid.empty()) {
      const auth::User* user = policy->user(authid);
      if (!user) return failed("no such user: " + authid);
      if (method == "ticket") return AuthOutcome::challenge("ticket");
      if (net::is_secret_record(user->secret)) continue;   // WAMP-CRA needs the key itself
      Json challenge = {{"authid", authid},       {"authrole", user->role},
                        {"authmethod", "wampcra"}, {"authprovider", "static"},
                        {"nonce", base64_encode(net::random_bytes(16))}};
      Json extra = {{"challenge", challenge.dump()}};
      if (!user->salt.empty()) {
        extra["salt"] = user->salt;
        extra["iterations"] = user->iterations;
        extra["keylen"] = user->keylen;
      }
      return AuthOutcome::challenge("wampcra", std::move(extra));
    }
    if (method == "anonymous" && policy->anonymous_allowed) {
      return AuthOutcome::welcome("anonymous", policy->anonymous_role, "anonymous");
    }
  }
  return AuthOutcome::abort("wamp.error.no_auth_method",
                            "no offered authentication method is allowed in realm " + realm);
}

AuthOutcome ConfigAuthenticator::authenticate(const std::string& realm, const Json& hello_details,
                                              const std::string& signature, const Json&,
                                              const Json& challenge) {
  const auth::RealmPolicy* policy = policy_ ? policy_->find(realm) : nullptr;
  const std::string authid = authid_of(hello_details);
  const auth::User* user = policy ? policy->user(authid) : nullptr;
  const std::string method = challenge.value("method", std::string());
  if (!user) return failed("no such user: " + authid);
  bool ok = false;
  if (method == "ticket") {
    ok = net::secret_matches(user->secret, signature);
  } else if (method == "wampcra") {
    const Json extra = challenge.value("extra", Json::object());
    const std::string text = extra.value("challenge", std::string());
    const std::string key = user->salt.empty()
                                ? user->secret
                                : net::wampcra_derive_key(user->secret, user->salt,
                                                          user->iterations, user->keylen);
    ok = !text.empty() && net::equal_constant_time(net::wampcra_signature(key, text), signature);
  }
  if (!ok) return failed("wrong " + method + " for " + authid);
  return AuthOutcome::welcome(authid, user->role, method);
}

}  // namespace fox::wamp
