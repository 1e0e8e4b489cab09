// cluster/link_auth: the node links' challenge/response by the cluster secret.
#include <doctest/doctest.h>

#include "cluster/link_auth.hpp"

using namespace fox;
using namespace fox::cluster;

namespace {

struct Run {
  AuthStep dialer = AuthStep::kFailed, listener = AuthStep::kFailed;
  std::string error;
  bool confirmed = false;
};

// A whole handshake between a dialer (node A) and a listener (node B).
Run handshake(const std::string& secret_a, const std::string& secret_b, const std::string& a = "A",
              const std::string& b = "B", const std::string& expected = "B") {
  LinkDialer d(secret_a, a, expected, std::string(kNonceSize, 'a'));
  LinkListener l(secret_b, b, {"A", "B", "C"}, std::string(kNonceSize, 'b'));
  Run r;
  Json challenge, proof, linked;
  r.listener = l.on_message(d.hello(), &challenge, &r.error);
  if (r.listener != AuthStep::kReply) return r;
  r.dialer = d.on_message(challenge, &proof, &r.error);
  if (r.dialer != AuthStep::kLinked) return r;
  r.listener = l.on_message(proof, &linked, &r.error);
  if (r.listener != AuthStep::kLinked) return r;
  Json none;
  CHECK(d.on_message(linked, &none, &r.error) == AuthStep::kLinked);
  r.confirmed = d.confirmed();
  CHECK(l.peer() == a);
  return r;
}

}  // namespace

TEST_CASE("two nodes with the same secret link; the secret is not in any message") {
  LinkDialer d("s3cret-value", "A", "B", std::string(kNonceSize, 'a'));
  LinkListener l("s3cret-value", "B", {"A"}, std::string(kNonceSize, 'b'));
  Json challenge, proof, linked;
  std::string error;
  REQUIRE(l.on_message(d.hello(), &challenge, &error) == AuthStep::kReply);
  REQUIRE(d.on_message(challenge, &proof, &error) == AuthStep::kLinked);
  REQUIRE(l.on_message(proof, &linked, &error) == AuthStep::kLinked);
  for (const Json* m : {&challenge, &proof, &linked}) {
    CHECK(m->dump().find("s3cret") == std::string::npos);
  }
  CHECK(handshake("k", "k").confirmed);
}

TEST_CASE("a wrong secret, an unknown or wrong node, or a replayed proof is refused") {
  Run r = handshake("k1", "k2");
  CHECK(r.dialer == AuthStep::kFailed);   // the listener's proof fails first
  CHECK(r.error == "node B does not know the cluster secret");
  r = handshake("k", "k", "Z");
  CHECK(r.listener == AuthStep::kFailed);
  CHECK(r.error == "node Z is not a peer in the cluster file");
  r = handshake("k", "k", "B", "B", "B");   // a node dialing itself
  CHECK(r.listener == AuthStep::kFailed);
  r = handshake("k", "k", "A", "B", "C");   // dialed C, B answered
  CHECK(r.dialer == AuthStep::kFailed);
  CHECK(r.error == "dialed node C but B answered");

  // A dialer without the secret cannot answer a fresh challenge with a recorded proof.
  LinkDialer d("k", "A", "B", std::string(kNonceSize, 'a'));
  LinkListener first("k", "B", {"A"}, std::string(kNonceSize, '1'));
  Json challenge, proof;
  std::string error;
  REQUIRE(first.on_message(d.hello(), &challenge, &error) == AuthStep::kReply);
  REQUIRE(d.on_message(challenge, &proof, &error) == AuthStep::kLinked);
  LinkListener second("k", "B", {"A"}, std::string(kNonceSize, '2'));
  Json c2, out;
  REQUIRE(second.on_message(d.hello(), &c2, &error) == AuthStep::kReply);
  CHECK(second.on_message(proof, &out, &error) == AuthStep::kFailed);
  CHECK(error == "node A does not know the cluster secret");
}

TEST_CASE("malformed handshake messages fail cleanly") {
  LinkListener l("k", "B", {"A"}, std::string(kNonceSize, 'b'));
  Json reply;
  std::string error;
  for (const Json& bad : {Json(nullptr), Json::array({1}), Json{{"ft", "LINK"}},
                          Json{{"ft", "LINK"}, {"node", "A"}, {"nonce", "text"}},
                          Json{{"ft", "LINK"}, {"node", 5}, {"nonce", Json::binary({1})}}}) {
    CHECK(l.on_message(bad, &reply, &error) == AuthStep::kFailed);
  }
  CHECK(l.on_message(Json{{"ft", "LINK"}, {"node", "A"}, {"nonce", Json::binary({1, 2})}}, &reply,
                     &error) == AuthStep::kFailed);
  CHECK(error == "the LINK nonce is not 16 bytes");
  LinkDialer d("k", "A", "B", std::string(kNonceSize, 'a'));
  CHECK(d.on_message(Json{{"rsp", "LINKED"}}, &reply, &error) == AuthStep::kFailed);
  // Proofs differ with every field.
  const std::string p = link_proof("k", "dialer", "A", "B", "n1", "n2");
  CHECK(p.size() == 32);
  // HMAC-SHA256 (Python: hmac.new(b"k", b"fox cluster link v1" + fields, hashlib.sha256)).
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : p) hex += std::string{kHex[c >> 4], kHex[c & 15]};
  CHECK(hex == "eb182ed1d80d1fd08a73e848c0a7c8fa2b646dd69c8daba5e4b67fb1a58453a4");
  CHECK(p != link_proof("k", "dialer", "A", "B", "n1", "n3"));
  CHECK(p != link_proof("k", "listener", "A", "B", "n1", "n2"));
  CHECK(p != link_proof("k", "dialer", "AB", "", "n1", "n2"));   // fields are length-prefixed
  CHECK(fresh_nonce().size() == kNonceSize);
  CHECK(fresh_nonce() != fresh_nonce());
}
