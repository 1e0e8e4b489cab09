// MQTT topic names (what PUBLISH carries) and topic filters (what SUBSCRIBE carries), §4.7.
#pragma once
#include <string_view>

namespace fox::mqtt {

// A topic name: 1..65535 bytes (MQTT-4.7.3-1), a valid MQTT string (MQTT-1.5.3-1/2,
// MQTT-4.7.3-2), and no wildcard character '+' or '#' (MQTT-4.7.1-1, MQTT-3.3.2-2).
bool valid_topic_name(std::string_view topic);

// A topic filter: 1..65535 bytes, a valid MQTT string, '+' only as a whole level
// (MQTT-4.7.1-3), '#' only as a whole level that is the last one (MQTT-4.7.1-2).
// "a//b", "/" and "+/+" are valid: empty levels are levels.
bool valid_topic_filter(std::string_view filter);

}  // namespace fox::mqtt
