// The payload mapping between MQTT and WAMP (SPEC §4, fox-wamp compatible).
#pragma once
#include <string>
#include <string_view>

#include "core/json.hpp"

namespace fox {

// MQTT → WAMP: the payload parsed as JSON; a JSON array becomes args as is, any other JSON value
// v becomes [v]; an empty payload or JSON null → no args (null). A payload that is not JSON (or not
// UTF-8) becomes one binary argument. Never throws.
Json args_from_payload(std::string_view payload);

// WAMP → MQTT: JSON of args[0] when there is exactly one arg, else JSON of the whole args list
// ("[]" for an empty list, "null" when args are absent). kwargs are not carried to MQTT. Binary
// values are written as MQTT bytes when they are the single argument.
std::string payload_from_args(const Json& args);

}  // namespace fox
