#include "net/tls.hpp"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace fox::net {

namespace {

bool read_pem(const std::string& file, std::string* text, std::string* error) {
  // stdio, not iostreams (which would pull the whole locale machinery into the static binary).
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) {
    *error = file + ": cannot be read";
    return false;
  }
  char buf[4096];
  std::size_t n = 0;
  text->clear();
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && text->size() < (1u << 20)) text->append(buf, n);
  std::fclose(f);
  if (text->find("-----BEGIN ") == std::string::npos) {
    *error = file + ": not PEM (no -----BEGIN line)";
    return false;
  }
  return true;
}

}  // namespace

bool check_tls_pair(const std::string& cert_file, const std::string& key_file, std::string* error) {
  std::string cert_pem, key_pem;
  if (!read_pem(cert_file, &cert_pem, error) || !read_pem(key_file, &key_pem, error)) return false;
  mbedtls_x509_crt crt;
  mbedtls_pk_context key;
  mbedtls_x509_crt_init(&crt);
  mbedtls_pk_init(&key);
  bool ok = false;
  if (mbedtls_x509_crt_parse(&crt, reinterpret_cast<const unsigned char*>(cert_pem.c_str()),
                             cert_pem.size() + 1) != 0) {
    *error = cert_file + ": not a PEM certificate";
  } else if (mbedtls_pk_parse_key(&key, reinterpret_cast<const unsigned char*>(key_pem.c_str()),
                                  key_pem.size() + 1, nullptr, 0) != 0) {
    *error = key_file + ": not a PEM private key (RSA or EC, unencrypted)";
  } else if (mbedtls_pk_check_pair(&crt.pk, &key) != 0) {
    *error = key_file + ": does not match the certificate " + cert_file;
  } else {
    ok = true;
  }
  mbedtls_pk_free(&key);
  mbedtls_x509_crt_free(&crt);
  return ok;
}

}  // namespace fox::net

#include <arpa/inet.h>
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>

#include <cstdint>

namespace fox::net {

namespace {

std::string mbedtls_text(int rc) {
  char buf[128];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}

}  // namespace

struct TlsConfig::State {
  mbedtls_ssl_config conf;
  mbedtls_x509_crt cert;   // the own chain (a server's, a node's)
  mbedtls_x509_crt ca;     // the CAs a peer's certificate must chain to
  mbedtls_pk_context key;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  bool seeded = false;
};

TlsConfig::TlsConfig() : state_(new State) {
  mbedtls_ssl_config_init(&state_->conf);
  mbedtls_x509_crt_init(&state_->cert);
  mbedtls_x509_crt_init(&state_->ca);
  mbedtls_pk_init(&state_->key);
  mbedtls_entropy_init(&state_->entropy);
  mbedtls_ctr_drbg_init(&state_->drbg);
}

TlsConfig::~TlsConfig() {
  mbedtls_ssl_config_free(&state_->conf);
  mbedtls_x509_crt_free(&state_->cert);
  mbedtls_x509_crt_free(&state_->ca);
  mbedtls_pk_free(&state_->key);
  mbedtls_ctr_drbg_free(&state_->drbg);
  mbedtls_entropy_free(&state_->entropy);
  delete state_;
}

namespace {

// The RNG and the defaults of one side, TLS 1.2 at least.
bool setup(TlsConfig::State& s, int endpoint, std::string* error);

// The own chain and key (already checked by check_tls_pair) presented by this side.
bool own_identity(TlsConfig::State& s, const std::string& cert_file, const std::string& key_file,
                  std::string* error) {
  int rc = 0;
  if ((rc = mbedtls_x509_crt_parse_file(&s.cert, cert_file.c_str())) != 0 ||
      (rc = mbedtls_pk_parse_keyfile(&s.key, key_file.c_str(), nullptr)) != 0 ||
      (rc = mbedtls_ssl_conf_own_cert(&s.conf, &s.cert, &s.key)) != 0) {
    *error = "TLS setup: " + mbedtls_text(rc);
    return false;
  }
  return true;
}

// The side `endpoint`, requiring the peer's certificate to chain to a CA of `ca_file`.
bool trusting(TlsConfig::State& s, const std::string& ca_file, int endpoint, std::string* error) {
  std::string pem;
  if (!read_pem(ca_file, &pem, error)) return false;
  int rc = mbedtls_x509_crt_parse(&s.ca, reinterpret_cast<const unsigned char*>(pem.c_str()),
                                  pem.size() + 1);
  // A bundle (such as /etc/ssl/certs/ca-certificates.crt) may hold a certificate mbedTLS cannot
  // parse: rc > 0 counts those, and the rest are used.
  if (rc < 0 || s.ca.version == 0) {
    *error = ca_file + ": no PEM certificate in it";
    return false;
  }
  if (!setup(s, endpoint, error)) return false;
  mbedtls_ssl_conf_authmode(&s.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&s.conf, &s.ca, nullptr);
  return true;
}

}  // namespace

bool TlsConfig::load(const std::string& cert_file, const std::string& key_file,
                     std::string* error) {
  return check_tls_pair(cert_file, key_file, error) &&
         setup(*state_, MBEDTLS_SSL_IS_SERVER, error) &&
         own_identity(*state_, cert_file, key_file, error);
}

bool TlsConfig::load_client(const std::string& ca_file, std::string* error) {
  if (!trusting(*state_, ca_file, MBEDTLS_SSL_IS_CLIENT, error)) return false;
  client_ = true;
  return true;
}

bool TlsConfig::load_mutual(const std::string& cert_file, const std::string& key_file,
                            const std::string& ca_file, bool as_client, std::string* error) {
  if (!trusting(*state_, ca_file, as_client ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER, error) ||
      !check_tls_pair(cert_file, key_file, error) ||
      !own_identity(*state_, cert_file, key_file, error)) {
    return false;
  }
  client_ = as_client;
  return true;
}

namespace {

bool setup(TlsConfig::State& s, int endpoint, std::string* error) {
  int rc = 0;
  if ((!s.seeded &&
       (rc = mbedtls_ctr_drbg_seed(&s.drbg, mbedtls_entropy_func, &s.entropy, nullptr, 0)) != 0) ||
      (rc = mbedtls_ssl_config_defaults(&s.conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
    *error = "TLS setup: " + mbedtls_text(rc);
    return false;
  }
  s.seeded = true;
  mbedtls_ssl_conf_rng(&s.conf, mbedtls_ctr_drbg_random, &s.drbg);
  mbedtls_ssl_conf_min_version(&s.conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  return true;
}

}  // namespace

struct TlsSession::State {
  mbedtls_ssl_context ssl;
};

namespace {

// mbedTLS 2.28 matches a host only against DNS names (and the CN): for a numeric host fox sets no
// host name and checks the certificate's IP address names (RFC 5280 iPAddress) itself.
int verify_ip(void* ctx, mbedtls_x509_crt* crt, int depth, std::uint32_t* flags) {
  if (depth != 0) return 0;
  const std::string& host = *static_cast<const std::string*>(ctx);
  unsigned char want[16];
  std::size_t want_len = 4;
  if (inet_pton(AF_INET, host.c_str(), want) != 1) {
    want_len = 16;
    if (inet_pton(AF_INET6, host.c_str(), want) != 1) return 0;
  }
  for (const mbedtls_x509_sequence* san = &crt->subject_alt_names; san; san = san->next) {
    if ((san->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK) == MBEDTLS_X509_SAN_IP_ADDRESS &&
        san->buf.len == want_len && std::memcmp(san->buf.p, want, want_len) == 0) {
      return 0;
    }
  }
  *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
  return 0;
}

bool numeric_host(const std::string& host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 || inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

}  // namespace

struct TlsSession::Io {
  static int send(void* ctx, const unsigned char* buf, size_t len) {
    static_cast<TlsSession*>(ctx)->out_.append(reinterpret_cast<const char*>(buf), len);
    return static_cast<int>(len);
  }
  static int recv(void* ctx, unsigned char* buf, size_t len) {
    auto* t = static_cast<TlsSession*>(ctx);
    const std::size_t left = t->in_.size() - t->in_pos_;
    if (left == 0) return MBEDTLS_ERR_SSL_WANT_READ;
    const std::size_t n = std::min(len, left);
    std::memcpy(buf, t->in_.data() + t->in_pos_, n);
    t->in_pos_ += n;
    if (t->in_pos_ == t->in_.size()) {
      t->in_.clear();
      t->in_pos_ = 0;
    }
    return static_cast<int>(n);
  }
};

TlsSession::TlsSession(const TlsConfig& config, const std::string& host) : state_(new State) {
  mbedtls_ssl_init(&state_->ssl);
  mbedtls_ssl_setup(&state_->ssl, &config.state()->conf);
  mbedtls_ssl_set_bio(&state_->ssl, this, &Io::send, &Io::recv, nullptr);
  client_ = config.client();
  if (!client_) return;
  if (numeric_host(host)) {
    host_ = host;
    mbedtls_ssl_set_verify(&state_->ssl, verify_ip, &host_);
  } else if (mbedtls_ssl_set_hostname(&state_->ssl, host.c_str()) != 0) {
    bad_host_ = true;   // too long: mbedTLS would check no name at all
  }
}

TlsSession::~TlsSession() {
  mbedtls_ssl_free(&state_->ssl);
  delete state_;
}

TlsSession::Result TlsSession::feed(std::string_view cipher, std::string* plain, std::string* why) {
  in_.append(cipher);
  if (bad_host_) {
    *why = "TLS: the host name cannot be checked (longer than 255 bytes)";
    return Result::kFailed;
  }
  if (!established_) {
    const int rc = mbedtls_ssl_handshake(&state_->ssl);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return Result::kOk;
    if (rc != 0) {
      *why = "TLS handshake: " + mbedtls_text(rc);
      if (const std::uint32_t flags = mbedtls_ssl_get_verify_result(&state_->ssl);
          rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0) {
        char info[512];
        if (mbedtls_x509_crt_verify_info(info, sizeof info, "", flags) > 0) {
          std::string text(info);
          while (!text.empty() && text.back() == '\n') text.pop_back();
          for (char& c : text) c = c == '\n' ? ';' : c;
          *why = std::string("TLS: the ") + (client_ ? "server" : "client") +
                 "'s certificate is refused: " + text;
        }
      }
      return Result::kFailed;
    }
    established_ = true;
  }
  unsigned char buf[16 * 1024];
  while (true) {
    const int n = mbedtls_ssl_read(&state_->ssl, buf, sizeof buf);
    if (n > 0) {
      plain->append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
      continue;
    }
    if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) return Result::kOk;
    if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
      *why = "TLS: the peer closed";
      return Result::kFailed;
    }
    *why = "TLS: " + mbedtls_text(n);
    return Result::kFailed;
  }
}

TlsSession::Result TlsSession::write(std::string_view plain, std::string* why) {
  std::size_t done = 0;
  while (done < plain.size()) {
    const int n = mbedtls_ssl_write(&state_->ssl, reinterpret_cast<const unsigned char*>(plain.data()) + done,
                                    plain.size() - done);
    if (n < 0) {
      *why = "TLS write: " + mbedtls_text(n);
      return Result::kFailed;
    }
    done += static_cast<std::size_t>(n);
  }
  return Result::kOk;
}

}  // namespace fox::net
