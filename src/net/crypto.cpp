#include "net/crypto.hpp"

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <sys/random.h>

#include <cstdlib>
#include <vector>

#include "core/base64.hpp"

namespace fox::net {

namespace {
const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char mac[32];
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), bytes(key), key.size(), bytes(data),
                  data.size(), mac);
  return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
}

std::string pbkdf2_sha256(std::string_view password, std::string_view salt, unsigned iterations,
                          unsigned length) {
  std::string out(length, '\0');
  mbedtls_md_context_t ctx;
  mbedtls_md_init(&ctx);
  if (mbedtls_md_setup(&ctx, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) != 0 ||
      mbedtls_pkcs5_pbkdf2_hmac(&ctx, bytes(password), password.size(), bytes(salt), salt.size(),
                                iterations, length, reinterpret_cast<unsigned char*>(out.data())) != 0) {
    out.clear();
  }
  mbedtls_md_free(&ctx);
  return out;
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out.data() + got, n - got, 0);
    if (r > 0) got += static_cast<std::size_t>(r);
  }
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool is_secret_record(const std::string& stored) { return stored.rfind("pbkdf2-sha256$", 0) == 0; }

bool secret_matches(const std::string& stored, const std::string& given) {
  if (!is_secret_record(stored)) return equal_constant_time(stored, given);
  // pbkdf2-sha256$iter$salt$hash
  const std::size_t a = stored.find('$'), b = stored.find('$', a + 1), c = stored.find('$', b + 1);
  if (b == std::string::npos || c == std::string::npos) return false;
  const unsigned long iterations = std::strtoul(stored.substr(a + 1, b - a - 1).c_str(), nullptr, 10);
  auto salt = base64_decode(std::string_view(stored).substr(b + 1, c - b - 1));
  auto hash = base64_decode(std::string_view(stored).substr(c + 1));
  if (iterations == 0 || iterations > 10000000 || !salt || !hash || hash->empty() || hash->size() > 64) {
    return false;
  }
  const std::string want(hash->begin(), hash->end());
  const std::string got = pbkdf2_sha256(given, std::string(salt->begin(), salt->end()),
                                        static_cast<unsigned>(iterations),
                                        static_cast<unsigned>(want.size()));
  return equal_constant_time(got, want);
}

std::string make_secret_record(const std::string& password, unsigned iterations) {
  const std::string salt = random_bytes(16);
  const std::string hash = pbkdf2_sha256(password, salt, iterations, 32);
  return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + base64_encode(salt) + "$" +
         base64_encode(hash);
}

std::string wampcra_derive_key(const std::string& secret, const std::string& salt,
                               unsigned iterations, unsigned keylen) {
  return base64_encode(pbkdf2_sha256(secret, salt, iterations, keylen));
}

std::string wampcra_signature(const std::string& key, const std::string& challenge) {
  return base64_encode(hmac_sha256(key, challenge));
}

}  // namespace fox::net
