// UTF-8 checks for MQTT strings (MQTT 3.1.1 §1.5.3).
#pragma once
#include <cstddef>
#include <string_view>

namespace fox::mqtt {

// Longest string a 2-byte length prefix can carry (§1.5.3).
inline constexpr std::size_t kMaxStringLength = 65535;

// Well-formed UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates (U+D800..U+DFFF),
// nothing above U+10FFFF, no truncated sequence. U+0000 is allowed here.
bool valid_utf8(std::string_view text);

// An MQTT UTF-8 encoded string: well-formed UTF-8 (MQTT-1.5.3-1), no U+0000 (MQTT-1.5.3-2) and at
// most 65535 bytes. Control characters and non-characters are accepted: the spec only says a
// receiver MAY close on them, and refusing them would break clients that use them harmlessly.
// A BOM (EF BB BF) is ordinary data and kept (MQTT-1.5.3-3).
bool valid_mqtt_string(std::string_view text);

}  // namespace fox::mqtt
