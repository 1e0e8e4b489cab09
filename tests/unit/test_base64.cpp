// core/base64: RFC 4648 test vectors, padding rules, rejection of malformed text.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/base64.hpp"

using fox::base64_decode;
using fox::base64_encode;

namespace {
std::string as_string(const std::vector<std::uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}
}  // namespace

TEST_CASE("base64 encodes the RFC 4648 test vectors") {
  CHECK(base64_encode(std::string_view("")) == "");
  CHECK(base64_encode(std::string_view("f")) == "Zg==");
  CHECK(base64_encode(std::string_view("fo")) == "Zm8=");
  CHECK(base64_encode(std::string_view("foo")) == "Zm9v");
  CHECK(base64_encode(std::string_view("foob")) == "Zm9vYg==");
  CHECK(base64_encode(std::string_view("fooba")) == "Zm9vYmE=");
  CHECK(base64_encode(std::string_view("foobar")) == "Zm9vYmFy");
}

TEST_CASE("base64 decodes the RFC 4648 test vectors") {
  CHECK(as_string(*base64_decode("")) == "");
  CHECK(as_string(*base64_decode("Zg==")) == "f");
  CHECK(as_string(*base64_decode("Zm8=")) == "fo");
  CHECK(as_string(*base64_decode("Zm9v")) == "foo");
  CHECK(as_string(*base64_decode("Zm9vYg==")) == "foob");
  CHECK(as_string(*base64_decode("Zm9vYmE=")) == "fooba");
  CHECK(as_string(*base64_decode("Zm9vYmFy")) == "foobar");
}

TEST_CASE("base64 accepts unpadded text") {
  CHECK(as_string(*base64_decode("Zg")) == "f");
  CHECK(as_string(*base64_decode("Zm8")) == "fo");
}

TEST_CASE("base64 round-trips every byte value and every length") {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t len = 0; len <= all.size(); ++len) {
    const std::string part = all.substr(all.size() - len);
    const auto decoded = base64_decode(base64_encode(part));
    REQUIRE(decoded.has_value());
    CHECK(as_string(*decoded) == part);
  }
}

TEST_CASE("base64 rejects characters outside the alphabet and misplaced padding") {
  CHECK_FALSE(base64_decode("Zm9v!").has_value());
  CHECK_FALSE(base64_decode("Zm 9v").has_value());
  CHECK_FALSE(base64_decode("Z").has_value());        // one character cannot hold a byte
  CHECK_FALSE(base64_decode("Zg=").has_value());      // padding must complete a quantum
  CHECK_FALSE(base64_decode("=Zg=").has_value());
  CHECK_FALSE(base64_decode("Zm=v").has_value());
  CHECK_FALSE(base64_decode("Zh==").has_value());     // non-zero leftover bits
  CHECK_FALSE(base64_decode(std::string_view("Zg\0=", 4)).has_value());
  CHECK_FALSE(base64_decode("Zm9vYmFy-_").has_value());  // URL-safe alphabet is not accepted
}
