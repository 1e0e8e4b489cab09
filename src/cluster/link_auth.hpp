// Mutual authentication of a link between two nodes by the cluster secret (SPEC §9):
// challenge/response with HMAC-SHA256, fresh nonces on both sides, the secret never on the wire.
// The messages are FOX maps (fox/codec.hpp framing), the first ones on a new connection:
//
//   dialer   → {ft: "LINK", node: A, nonce: bin 16}
//   listener → {rsp: "CHALLENGE", node: B, nonce: bin 16, proof: HMAC(secret, "listener", A, B, nA, nB)}
//   dialer   → {ft: "PROOF", proof: HMAC(secret, "dialer", A, B, nA, nB)}
//   listener → {rsp: "LINKED"}
//
// Each side proves it knows the secret for this pair of nonces, so a recorded exchange is worth
// nothing on the next connection, and the node names are bound into the proofs. Pure: the nonces
// come from the caller (fresh_nonce() in production, a seeded source in the simulation).
#pragma once
#include <set>
#include <string>

#include "core/json.hpp"

namespace fox::cluster {

inline constexpr std::size_t kNonceSize = 16;

// kNonceSize bytes from the kernel's CSPRNG (getrandom).
std::string fresh_nonce();

// HMAC-SHA256 of the length-prefixed fields (exposed for the tests).
std::string link_proof(const std::string& secret, const std::string& side, const std::string& dialer,
                       const std::string& listener, const std::string& dialer_nonce,
                       const std::string& listener_nonce);

enum class AuthStep {
  kReply,    // send *reply, go on
  kLinked,   // authenticated (*reply, if not null, is the last message to send)
  kFailed,   // *error says why; close the connection
};

// The side that connects: it knows whom it dials.
class LinkDialer {
public:
  LinkDialer(std::string secret, std::string self, std::string expected_peer, std::string nonce);
  Json hello() const;   // LINK
  // CHALLENGE → kLinked with PROOF in *reply (the dialer is sure of its peer once the challenge's
  // proof holds; the listener's LINKED confirms the other direction: see linked()).
  AuthStep on_message(const Json& message, Json* reply, std::string* error);
  // LINKED came after the PROOF.
  bool confirmed() const { return confirmed_; }

private:
  std::string secret_, self_, peer_, nonce_;
  bool proved_ = false, confirmed_ = false;
};

// The side that accepts: it admits known nodes only, never itself.
class LinkListener {
public:
  LinkListener(std::string secret, std::string self, std::set<std::string> known, std::string nonce);
  // LINK → kReply CHALLENGE; PROOF → kLinked with LINKED in *reply.
  AuthStep on_message(const Json& message, Json* reply, std::string* error);
  const std::string& peer() const { return peer_; }

private:
  std::string secret_, self_, nonce_;
  std::set<std::string> known_;
  std::string peer_, peer_nonce_;
  bool challenged_ = false;
};

}  // namespace fox::cluster
