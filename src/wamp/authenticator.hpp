// The authentication hook of a WAMP session: HELLO may be welcomed, challenged (CHALLENGE →
// AUTHENTICATE) or aborted. The anonymous authenticator (realms without users) and the config's
// (SPEC §6: anonymous role, ticket, WAMP-CRA plain and salted).
#pragma once
#include <string>

#include "core/auth.hpp"
#include "core/json.hpp"

namespace fox::wamp {

struct AuthOutcome {
  enum class Kind { kWelcome, kChallenge, kAbort };
  Kind kind = Kind::kAbort;
  // kWelcome: who the session is.
  std::string authid, authrole, authmethod, authprovider;
  // kChallenge: CHALLENGE.AuthMethod and CHALLENGE.Extra.
  std::string challenge_method;
  Json extra = Json::object();
  // kAbort: ABORT.Reason (a WAMP error URI) and the message for Details.
  std::string reason, message;

  static AuthOutcome welcome(std::string authid, std::string authrole, std::string authmethod,
                             std::string authprovider = "static");
  static AuthOutcome challenge(std::string method, Json extra = Json::object());
  static AuthOutcome abort(std::string reason, std::string message);
};

class Authenticator {
public:
  virtual ~Authenticator() = default;
  // HELLO(realm, details) of a realm that exists.
  virtual AuthOutcome hello(const std::string& realm, const Json& details) = 0;
  // AUTHENTICATE(signature, extra) answering the CHALLENGE this authenticator asked for
  // (`challenge`: {method, extra} as it was sent).
  virtual AuthOutcome authenticate(const std::string& realm, const Json& hello_details,
                                   const std::string& signature, const Json& extra,
                                   const Json& challenge) = 0;
};

// Every client joins as role "anonymous" (authid = HELLO.Details.authid, else "anonymous"); a
// client offering only other methods is refused with wamp.error.no_auth_method.
class AnonymousAuthenticator final : public Authenticator {
public:
  AuthOutcome hello(const std::string& realm, const Json& details) override;
  AuthOutcome authenticate(const std::string& realm, const Json& hello_details,
                           const std::string& signature, const Json& extra,
                           const Json& challenge) override;
};

// The config's users (core/auth.hpp): a realm without a policy is anonymous as above. The
// methods the client offers are tried in its order: `ticket` and `wampcra` for a known authid
// (an unknown one: wamp.error.authentication_failed; `wampcra` needs the secret in plain text),
// `anonymous` when the realm names a role for it; none → wamp.error.no_auth_method. A wrong
// ticket or signature → wamp.error.authentication_failed. Comparisons are constant-time.
class ConfigAuthenticator final : public Authenticator {
public:
  explicit ConfigAuthenticator(const auth::Policy* policy) : policy_(policy) {}
  AuthOutcome hello(const std::string& realm, const Json& details) override;
  AuthOutcome authenticate(const std::string& realm, const Json& hello_details,
                           const std::string& signature, const Json& extra,
                           const Json& challenge) override;

private:
  const auth::Policy* policy_;
  AnonymousAuthenticator anonymous_;
};

}  // namespace fox::wamp
