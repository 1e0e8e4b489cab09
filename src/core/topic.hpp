// Topics (SPEC §3): inside fox a topic is a list of parts, and a subscription pattern is a list of
// parts some of which are wildcard MARKERS. Every protocol converts its text form at the edge with
// the functions here, so the rules live in one place:
//
//  - WAMP (and the dotted text of SQLite rows and meta events): parts joined with '.'. A part that
//    holds a character WAMP cannot carry (a '.', whitespace, '#'), or is exactly "*", is written
//    with percent escapes (%2E, %20, %23, %2A, ...; '%' itself as %25 in such a part), so every
//    list of parts has exactly one WAMP text and back: `r/x.y` from MQTT is `r.x%2Ey` for WAMP.
//    In a WAMP subscription a whole part `*` is the one-part wildcard and `#` any parts.
//  - MQTT: parts joined with '/'. In a filter `+` is the one-level wildcard and `#` the rest; any
//    other level is literal text, `*` and levels with dots included. A part that holds a '/', '+'
//    or '#' (only WAMP or FOX can make one) has no MQTT name.
//  - FOX: the parts array itself.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace fox {

using TopicParts = std::vector<std::string>;

inline constexpr char kWampSeparator = '.';
inline constexpr char kMqttSeparator = '/';

// The wildcard markers of a pattern. They start with a NUL byte, which no literal part can hold
// (MQTT forbids U+0000 in topics, the WAMP and FOX edges refuse it), so a wildcard is never
// confused with text: MQTT's `star/*` is the literal part "*".
extern const std::string kAnyPart;   // exactly one part (WAMP `*`, MQTT `+`)
extern const std::string kAnyParts;  // zero or more parts (WAMP `#`, MQTT `#`)

bool is_wildcard_part(std::string_view part);
bool has_wildcard_part(const TopicParts& parts);
bool has_empty_part(const TopicParts& parts);

// Plain split/join on a separator, nothing decoded: "" → [""], "a..b" → [a, "", b].
TopicParts split_topic(std::string_view text, char separator = kWampSeparator);
std::string join_topic(const TopicParts& parts, char separator = kWampSeparator);

// WAMP "loose" URI rules on the text (before escapes are decoded): per part no whitespace, no
// '#' and no NUL (kept for wildcard markers). In-band wildcards (whole parts `*`, `#`) only where
// `wildcards`; empty parts only where `empty_parts` (match: wildcard).
bool valid_wamp_uri(std::string_view uri, bool wildcards, bool empty_parts);
// A `match: prefix` pattern: any non-empty text without whitespace, '#' or NUL.
bool valid_wamp_prefix(std::string_view uri);

// WAMP text → parts, escapes decoded. A topic has only literal parts.
TopicParts wamp_topic_parts(std::string_view uri);
// WAMP subscription text → pattern: a whole part `*` → kAnyPart, `#` → kAnyParts.
TopicParts wamp_pattern_parts(std::string_view uri);
// Parts (topic or pattern) → the one WAMP text (markers as `*` / `#`). Injective: two different
// lists never give the same text, so it is also the key of a topic in maps and in SQLite.
std::string wamp_uri(const TopicParts& parts);
// One part as it appears between dots in wamp_uri().
std::string wamp_part(std::string_view part);

// MQTT text → parts (a topic name: every level literal).
TopicParts mqtt_topic_parts(std::string_view topic);
// MQTT filter → pattern: `+` → kAnyPart, `#` → kAnyParts.
TopicParts mqtt_filter_parts(std::string_view filter);
// Parts → MQTT topic name; false when a part holds '/', '+' or '#' (no MQTT name: a WAMP topic
// `a.b/c` or `a.+`) or is a wildcard.
bool mqtt_topic_name(const TopicParts& parts, std::string* out);

// A topic one may publish to: at least one part and no wildcard marker; with `allow_empty_parts`
// false (WAMP) also no empty part. MQTT allows empty levels ("a//b").
bool valid_publish_topic(const TopicParts& parts, bool allow_empty_parts);

// MQTT rule: a topic whose first part starts with '$' is not matched by a wildcard in the first level.
bool is_dollar_topic(const TopicParts& parts);

}  // namespace fox
