#include "cluster/link_auth.hpp"

#include <mbedtls/md.h>
#include <sys/random.h>

#include <cstdint>

namespace fox::cluster {
namespace {

constexpr const char* kContext = "fox cluster link v1";

void put_field(std::string& out, const std::string& field) {
  const auto n = static_cast<std::uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out += field;
}

// Equal in time independent of where they differ.
bool same_proof(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool read_bytes(const Json& m, const char* key, std::string* out) {
  auto it = m.find(key);
  if (it == m.end() || !it->is_binary()) return false;
  const auto& b = it->get_binary();
  out->assign(b.begin(), b.end());
  return true;
}

bool read_text(const Json& m, const char* key, std::string* out) {
  auto it = m.find(key);
  if (it == m.end() || !it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

Json bin(const std::string& bytes) { return Json::binary({bytes.begin(), bytes.end()}); }

bool is(const Json& m, const char* field, const char* value) {
  if (!m.is_object()) return false;
  auto it = m.find(field);
  return it != m.end() && it->is_string() && *it == value;
}

}  // namespace

std::string fresh_nonce() {
  std::string nonce(kNonceSize, '\0');
  std::size_t got = 0;
  while (got < nonce.size()) {
    ssize_t n = getrandom(nonce.data() + got, nonce.size() - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  return nonce;
}

std::string link_proof(const std::string& secret, const std::string& side, const std::string& dialer,
                       const std::string& listener, const std::string& dialer_nonce,
                       const std::string& listener_nonce) {
  std::string input;
  for (const std::string* f : {&side, &dialer, &listener, &dialer_nonce, &listener_nonce}) {
    put_field(input, *f);
  }
  input.insert(0, kContext);
  unsigned char mac[32];
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                  reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                  reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac);
  return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
}

LinkDialer::LinkDialer(std::string secret, std::string self, std::string expected_peer,
                       std::string nonce)
    : secret_(std::move(secret)), self_(std::move(self)), peer_(std::move(expected_peer)),
      nonce_(std::move(nonce)) {}

Json LinkDialer::hello() const {
  return Json{{"ft", "LINK"}, {"node", self_}, {"nonce", bin(nonce_)}};
}

AuthStep LinkDialer::on_message(const Json& m, Json* reply, std::string* error) {
  if (proved_) {
    if (is(m, "rsp", "LINKED")) {
      confirmed_ = true;
      *reply = nullptr;
      return AuthStep::kLinked;
    }
    *error = "expected LINKED after the PROOF";
    return AuthStep::kFailed;
  }
  std::string node, nonce, proof;
  if (!is(m, "rsp", "CHALLENGE") || !read_text(m, "node", &node) || !read_bytes(m, "nonce", &nonce) ||
      !read_bytes(m, "proof", &proof)) {
    *error = "expected a CHALLENGE {node, nonce, proof}";
    return AuthStep::kFailed;
  }
  if (node != peer_) {
    *error = "dialed node " + peer_ + " but " + node.substr(0, 64) + " answered";
    return AuthStep::kFailed;
  }
  if (nonce.size() != kNonceSize) {
    *error = "the CHALLENGE nonce is not " + std::to_string(kNonceSize) + " bytes";
    return AuthStep::kFailed;
  }
  if (!same_proof(proof, link_proof(secret_, "listener", self_, peer_, nonce_, nonce))) {
    *error = "node " + peer_ + " does not know the cluster secret";
    return AuthStep::kFailed;
  }
  proved_ = true;
  *reply = Json{{"ft", "PROOF"}, {"proof", bin(link_proof(secret_, "dialer", self_, peer_, nonce_, nonce))}};
  return AuthStep::kLinked;
}

LinkListener::LinkListener(std::string secret, std::string self, std::set<std::string> known,
                           std::string nonce)
    : secret_(std::move(secret)), self_(std::move(self)), nonce_(std::move(nonce)),
      known_(std::move(known)) {}

AuthStep LinkListener::on_message(const Json& m, Json* reply, std::string* error) {
  if (!challenged_) {
    std::string node, nonce;
    if (!is(m, "ft", "LINK") || !read_text(m, "node", &node) || !read_bytes(m, "nonce", &nonce)) {
      *error = "expected a LINK {node, nonce}";
      return AuthStep::kFailed;
    }
    if (node == self_ || !known_.count(node)) {
      *error = "node " + node.substr(0, 64) + " is not a peer in the cluster file";
      return AuthStep::kFailed;
    }
    if (nonce.size() != kNonceSize) {
      *error = "the LINK nonce is not " + std::to_string(kNonceSize) + " bytes";
      return AuthStep::kFailed;
    }
    peer_ = node;
    peer_nonce_ = nonce;
    challenged_ = true;
    *reply = Json{{"rsp", "CHALLENGE"},
                  {"node", self_},
                  {"nonce", bin(nonce_)},
                  {"proof", bin(link_proof(secret_, "listener", peer_, self_, peer_nonce_, nonce_))}};
    return AuthStep::kReply;
  }
  std::string proof;
  if (!is(m, "ft", "PROOF") || !read_bytes(m, "proof", &proof)) {
    *error = "expected a PROOF {proof}";
    return AuthStep::kFailed;
  }
  if (!same_proof(proof, link_proof(secret_, "dialer", peer_, self_, peer_nonce_, nonce_))) {
    *error = "node " + peer_ + " does not know the cluster secret";
    return AuthStep::kFailed;
  }
  *reply = Json{{"rsp", "LINKED"}};
  return AuthStep::kLinked;
}

}  // namespace fox::cluster
