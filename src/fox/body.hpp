// FOX bodies (`data` of PUSH, CALL, YIELD, EVENT, TASK, OK, EMIT) and what they are to WAMP and
// MQTT (README "Payload mapping"; reference doc §1.6 and §3.5):
//   FOX → router   {kv: v}: WAMP args [v] (v null or nil body: no args);
//                  {args: [...], kwargs: {...}}: as they are; {payload: bytes}: MQTT bytes.
//   router → FOX   {kv: v} where v is the value: args[0] when there is one arg, the args list when
//                  there are several, the kwargs object when there are no args, an MQTT payload
//                  parsed as JSON (bytes that are not JSON travel as MessagePack bin); nil when
//                  there is nothing. When kv alone loses the shape (several args, or kwargs) the
//                  body has args and kwargs too: fox-wamp's clients read kv, fox's read args
//                  and kwargs (read_body prefers them), so FOX ⇄ WAMP loses nothing.
// A FOX {kv: v} reaches MQTT subscribers as the JSON of v, like a WAMP publication of [v].
#pragma once
#include <optional>
#include <string>

#include "core/json.hpp"

namespace fox::foxp {

struct Body {
  Json args = nullptr;                  // array or null
  Json kwargs = nullptr;                // object or null
  std::optional<std::string> payload;   // MQTT bytes ({payload: bin})
};

// False with *error for a body that is neither nil nor one of the maps above.
bool read_body(const Json& data, Body* out, std::string* error);

// The FOX body of args/kwargs (or of an MQTT payload).
Json body_of(const Json& args, const Json& kwargs);
Json body_of_payload(const std::string& payload);

// What a FOX client sends for args/kwargs so the router sees exactly them: {kv: v} for one
// argument alone, {args, kwargs} otherwise, nil for nothing.
Json exact_body(const Json& args, const Json& kwargs);

}  // namespace fox::foxp
