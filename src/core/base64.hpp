// Base64 (RFC 4648, standard alphabet, '=' padding). Used for WAMP's binary-in-JSON convention
// (a string "\u0000" + base64 of the bytes) and for MQTT payloads that must travel as JSON.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fox {

// Appends the base64 text of `bytes` (always padded) to `out`.
void base64_encode_to(std::span<const std::uint8_t> bytes, std::string& out);
std::string base64_encode(std::span<const std::uint8_t> bytes);
std::string base64_encode(std::string_view bytes);

// Decodes padded or unpadded base64. Returns false (and leaves `out` in an unspecified state) on a
// character outside the alphabet, misplaced padding, or a length that cannot be base64.
bool base64_decode_to(std::string_view text, std::vector<std::uint8_t>& out);
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

}  // namespace fox
