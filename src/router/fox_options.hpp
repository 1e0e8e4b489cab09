// The fox-wamp options (SPEC §5), parsed and type-checked in one place for every protocol:
// publish retain / merge / when / watch / will, subscribe retained / after / snapshot / filter.
#pragma once
#include "router/router.hpp"
#include "router/types.hpp"

namespace fox {

struct KvPublish {
  bool retain = false;
  bool merge = false;
  bool watch = false;
  bool has_when = false;
  Json when;
  bool has_will = false;
  Json will;
};

// True when a publication needs the KV path (MQTT retain flag, or `retain`/`when`/`will`).
// No allocation, no parsing: a few lookups in the options object.
bool uses_kv(const Publication& pub, const Json& raw_options);
// False with `error` (wamp.error.invalid_argument) when an option has the wrong type.
bool parse_kv_publish(const Publication& pub, const Json& raw_options, KvPublish* out, Error* error);

// `retained` / `retainedState` / `get_retained`, `snapshot`, `after`, `filter`. False with
// `error` (wamp.error.invalid_argument) when one has the wrong type.
bool parse_replay_request(const Json& raw_options, ReplayRequest* out, Error* error);

}  // namespace fox
