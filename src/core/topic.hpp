// Topics as lists of parts (SPEC §3): split/join between the text forms (dotted for WAMP/FOX/SQLite,
// slashed for MQTT) and validation helpers shared by the protocol sessions and the router.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace fox {

using TopicParts = std::vector<std::string>;  // same alias as router/types.hpp

inline constexpr char kWampSeparator = '.';
inline constexpr char kMqttSeparator = '/';
inline constexpr std::string_view kWildcardOne = "*";   // exactly one part
inline constexpr std::string_view kWildcardMany = "#";  // zero or more parts

// "a.b.c" → [a, b, c]. Empty parts are kept: "" → [""], "a..b" → [a, "", b].
TopicParts split_topic(std::string_view text, char separator = kWampSeparator);
std::string join_topic(const TopicParts& parts, char separator = kWampSeparator);

bool is_wildcard_part(std::string_view part);
bool has_wildcard_part(const TopicParts& parts);
bool has_empty_part(const TopicParts& parts);

// A topic one may publish to: at least one part and no `*`/`#` part; with `allow_empty_parts`
// false (WAMP) also no empty part. MQTT allows empty levels ("a//b").
bool valid_publish_topic(const TopicParts& parts, bool allow_empty_parts);

// MQTT rule: a topic whose first part starts with '$' is not matched by a wildcard in the first level.
bool is_dollar_topic(const TopicParts& parts);

}  // namespace fox
