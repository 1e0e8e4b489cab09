#include "net/tls.hpp"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <cstdio>

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
