// The authentication hook of a WAMP session: HELLO may be welcomed, challenged (CHALLENGE →
// AUTHENTICATE) or aborted. fox ships the anonymous authenticator; ticket and WAMP-CRA (SPEC §6)
// plug in here.
#pragma once
#include <string>

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
  // AUTHENTICATE(signature, extra) answering the CHALLENGE this authenticator asked for.
  virtual AuthOutcome authenticate(const std::string& realm, const Json& hello_details,
                                   const std::string& signature, const Json& extra) = 0;
};

// Every client joins as role "anonymous" (authid = HELLO.Details.authid, else "anonymous"); a
// client offering only other methods is refused with wamp.error.no_auth_method.
class AnonymousAuthenticator final : public Authenticator {
public:
  AuthOutcome hello(const std::string& realm, const Json& details) override;
  AuthOutcome authenticate(const std::string& realm, const Json& hello_details,
                           const std::string& signature, const Json& extra) override;
};

}  // namespace fox::wamp
