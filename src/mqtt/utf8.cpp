#include "mqtt/utf8.hpp"

#include <cstdint>

namespace fox::mqtt {
namespace {

// Validates with the byte ranges of RFC 3629 §4 (the "UTF8-octets" grammar) rather than by
// decoding code points: the ranges exclude overlongs, surrogates and > U+10FFFF by construction.
bool valid_utf8_impl(std::string_view text, bool allow_nul) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
  const auto* end = p + text.size();
  auto in = [](std::uint8_t b, std::uint8_t lo, std::uint8_t hi) { return b >= lo && b <= hi; };
  while (p < end) {
    std::uint8_t b = *p;
    if (b < 0x80) {
      if (b == 0 && !allow_nul) return false;
      ++p;
      continue;
    }
    std::size_t left = static_cast<std::size_t>(end - p);
    if (in(b, 0xC2, 0xDF)) {
      if (left < 2 || !in(p[1], 0x80, 0xBF)) return false;
      p += 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      if (left < 3) return false;
      std::uint8_t lo = 0x80, hi = 0xBF;
      if (b == 0xE0) lo = 0xA0;        // overlong
      else if (b == 0xED) hi = 0x9F;   // surrogates U+D800..U+DFFF
      if (!in(p[1], lo, hi) || !in(p[2], 0x80, 0xBF)) return false;
      p += 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      if (left < 4) return false;
      std::uint8_t lo = 0x80, hi = 0xBF;
      if (b == 0xF0) lo = 0x90;        // overlong
      else if (b == 0xF4) hi = 0x8F;   // above U+10FFFF
      if (!in(p[1], lo, hi) || !in(p[2], 0x80, 0xBF) || !in(p[3], 0x80, 0xBF)) return false;
      p += 4;
    } else {
      return false;  // continuation byte without a lead, C0/C1 overlong leads, F5..FF
    }
  }
  return true;
}

}  // namespace

bool valid_utf8(std::string_view text) { return valid_utf8_impl(text, true); }

bool valid_mqtt_string(std::string_view text) {
  return text.size() <= kMaxStringLength && valid_utf8_impl(text, false);
}

}  // namespace fox::mqtt
