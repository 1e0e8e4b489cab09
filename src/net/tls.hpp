// TLS certificates (mbedTLS): what fox checks before it listens with them.
#pragma once
#include <string>

namespace fox::net {

// The certificate chain (PEM) and its private key (PEM, RSA or EC, not encrypted) can be read,
// parsed and belong together. False with *error naming the file and the problem.
bool check_tls_pair(const std::string& cert_file, const std::string& key_file, std::string* error);

}  // namespace fox::net

namespace fox::net {

// A TLS server identity for fox's own TCP listeners (mqtts, RawSocket over TLS): certificate
// chain, key, RNG, TLS 1.2 at least. One per listener, shared by its connections.
class TlsServerConfig {
public:
  TlsServerConfig();
  ~TlsServerConfig();
  TlsServerConfig(const TlsServerConfig&) = delete;
  TlsServerConfig& operator=(const TlsServerConfig&) = delete;
  bool load(const std::string& cert_file, const std::string& key_file, std::string* error);

  struct State;
  State* state() const { return state_; }

private:
  State* state_;
};

// One connection's TLS (mbedTLS with memory BIOs): ciphertext in → plaintext out, plaintext in →
// ciphertext out. Pure bytes: the TCP stream does the I/O.
class TlsSession {
public:
  explicit TlsSession(const TlsServerConfig& config);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  enum class Result { kOk, kFailed };
  // Ciphertext from the peer; the plaintext it yields is appended to *plain. kFailed: a handshake
  // or record error (*why says which): the connection must be closed.
  Result feed(std::string_view cipher, std::string* plain, std::string* why);
  bool established() const { return established_; }
  // Plaintext to send (only once established()).
  Result write(std::string_view plain, std::string* why);
  // The ciphertext waiting to be written to the socket (handshake records and written data).
  std::string& out() { return out_; }

  struct Io;

private:
  struct State;
  State* state_;
  std::string in_;
  std::size_t in_pos_ = 0;
  std::string out_;
  bool established_ = false;
};

}  // namespace fox::net
