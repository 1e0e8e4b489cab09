// The few cryptographic operations fox's sessions need (mbedTLS): HMAC-SHA256, PBKDF2-SHA256,
// random bytes, a constant-time compare, and the stored-secret records of `fox passwd`.
#pragma once
#include <string>
#include <string_view>

namespace fox::net {

std::string hmac_sha256(std::string_view key, std::string_view data);          // 32 bytes
std::string pbkdf2_sha256(std::string_view password, std::string_view salt, unsigned iterations,
                          unsigned length);
std::string random_bytes(std::size_t n);                                          // getrandom
bool equal_constant_time(std::string_view a, std::string_view b);

// A stored secret: plain text, or "pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>"
// (what `fox passwd` prints). Does `given` match it? (Constant time in the compared bytes.)
bool secret_matches(const std::string& stored, const std::string& given);
bool is_secret_record(const std::string& stored);
// A new record for `password` (random 16-byte salt, `iterations` rounds, 32-byte hash).
std::string make_secret_record(const std::string& password, unsigned iterations = 100000);

// WAMP-CRA (the WAMP spec, autobahn's auth.derive_key / compute_wcs): the key of a salted secret
// is base64(PBKDF2-SHA256(secret, salt, iterations, keylen)); the signature of a challenge is
// base64(HMAC-SHA256(key, challenge)).
std::string wampcra_derive_key(const std::string& secret, const std::string& salt,
                               unsigned iterations, unsigned keylen);
std::string wampcra_signature(const std::string& key, const std::string& challenge);

}  // namespace fox::net
