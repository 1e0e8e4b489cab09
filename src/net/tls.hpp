// TLS certificates (mbedTLS): what fox checks before it listens with them.
#pragma once
#include <string>

namespace fox::net {

// The certificate chain (PEM) and its private key (PEM, RSA or EC, not encrypted) can be read,
// parsed and belong together. False with *error naming the file and the problem.
bool check_tls_pair(const std::string& cert_file, const std::string& key_file, std::string* error);

}  // namespace fox::net
