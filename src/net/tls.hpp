// TLS certificates (mbedTLS): what fox checks before it listens with them.
#pragma once
#include <string>

namespace fox::net {

// The certificate chain (PEM) and its private key (PEM, RSA or EC, not encrypted) can be read,
// parsed and belong together. False with *error naming the file and the problem.
bool check_tls_pair(const std::string& cert_file, const std::string& key_file, std::string* error);

}  // namespace fox::net

namespace fox::net {

// TLS settings shared by many connections: a server identity for fox's own TCP listeners (mqtts,
// RawSocket over TLS: certificate chain, key) or a client's trust (the client tools' --cafile:
// the CA certificates a server's certificate must chain to). RNG, TLS 1.2 at least.
class TlsConfig {
public:
  TlsConfig();
  ~TlsConfig();
  TlsConfig(const TlsConfig&) = delete;
  TlsConfig& operator=(const TlsConfig&) = delete;
  // A server: its certificate chain and key (see check_tls_pair).
  bool load(const std::string& cert_file, const std::string& key_file, std::string* error);
  // A client that accepts only a server whose certificate chains to a CA of `ca_file` (PEM, one
  // or more certificates; a directory of them is not read) and names the host it connected to.
  bool load_client(const std::string& ca_file, std::string* error);
  // A cluster node link (both ends known): its own chain and key, presented as server or as
  // client, and the peer's certificate required to chain to a CA of `ca_file` — a client also
  // checks that it names the host it dialed, a server only the chain (the peer's node name is
  // proven by the cluster secret inside).
  bool load_mutual(const std::string& cert_file, const std::string& key_file,
                   const std::string& ca_file, bool as_client, std::string* error);
  bool client() const { return client_; }

  struct State;
  State* state() const { return state_; }

private:
  State* state_;
  bool client_ = false;
};

// One connection's TLS (mbedTLS with memory BIOs): ciphertext in → plaintext out, plaintext in →
// ciphertext out. Pure bytes: the TCP stream does the I/O.
class TlsSession {
public:
  // A client session checks the server's certificate against `host` (a DNS name, or an IPv4/IPv6
  // address matched against the certificate's IP address names) and sends it as SNI (a name only).
  explicit TlsSession(const TlsConfig& config, const std::string& host = {});
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
  std::string host_;        // a client's numeric host (checked by verify_ip), else empty
  std::string in_;
  std::size_t in_pos_ = 0;
  std::string out_;
  bool established_ = false;
  bool client_ = false;
  bool bad_host_ = false;   // a client's host name mbedTLS refused: the session fails
};

}  // namespace fox::net
