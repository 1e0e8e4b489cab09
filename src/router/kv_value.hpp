// The value of a publication as retained state sees it (SPEC §4/§5), and the comparisons that
// `when` (publish) and `filter` (subscribe) make against it. Pure functions, no exceptions.
//
// Value of a publication:
//  - MQTT (payload set): the payload parsed as JSON; an empty payload has no value; bytes that
//    are not JSON are "opaque" (never match an object or scalar condition, never throw).
//  - WAMP: args[0] when there is exactly one arg, else the args array; with no args (absent or
//    []) the kwargs object when it is not empty; otherwise no value.
#pragma once
#include "router/types.hpp"

namespace fox {

struct PublicationValue {
  enum class Kind { kAbsent, kJson, kOpaque };
  enum class Source { kNone, kPayload, kFirstArg, kArgs, kKwargs };
  Kind kind = Kind::kAbsent;
  Source source = Source::kNone;
  Json json;  // when kind == kJson
};

PublicationValue publication_value(const Publication& pub);

// A retained publication that deletes its key: no args (absent, [] or [null]) and no kwargs
// (absent or {}), or for MQTT an empty payload. 0, false and "" are values.
bool is_empty_publication(const Publication& pub);

// `when` / `filter` against a value:
//  - condition null: the value is absent (or JSON null);
//  - object: the value is an object having every member of the condition, compared recursively
//    (a null member matches an absent or null member);
//  - anything else: equal JSON (numbers by value).
bool value_matches(const Json& condition, const PublicationValue& value);

// (The subset comparison itself is core/json.hpp's json_subset.)

}  // namespace fox
