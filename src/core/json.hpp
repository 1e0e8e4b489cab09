// The one JSON type of fox (nlohmann also reads and writes MessagePack and CBOR with it).
// ordered_json keeps object members in the order the publisher wrote them: a payload that fox
// decodes and encodes again (WAMP -> MQTT, retained and history replays, merge results) comes out
// with its members where they were.
//
// Its objects are vectors searched linearly, so everything here that reads untrusted input or
// touches members by key keeps a hash index for large objects: parsing, merging and comparing
// an object of N members is O(N), never O(N^2) (one PUBLISH of 60 000 keys must not stall the
// loop for seconds).
#pragma once
#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fox {
using Json = nlohmann::ordered_json;

// Nesting deeper than this is refused by the parsers: nlohmann's encoders recurse once per
// level, so a value fox keeps must never be deeper.
inline constexpr int kMaxJsonNesting = 100;

enum class JsonFormat { kJson, kMsgpack, kCbor };

enum class JsonParse {
  kOk,
  kSyntax,      // not valid text / bytes of the format
  kTooDeep,     // nesting deeper than kMaxJsonNesting
  kBadLength,   // a container header announces more elements than there are bytes
};

// Parses one complete value. Never throws; `out` is unspecified unless kOk. A duplicate member
// keeps its first position and takes the last value (as nlohmann does).
JsonParse parse_json(JsonFormat format, std::string_view bytes, Json* out);

// JSON equality: objects compare by members whatever their order (ordered_json's operator==
// compares the order too), arrays element by element, numbers by value.
bool json_equal(const Json& a, const Json& b);
// An optional boolean member of an options object: absent or null leaves `out` as it is; false
// when it is present with another type.
bool optional_bool(const Json& object, const char* key, bool* out);

// Members of `pattern` (an object) all present in `value` and equal, recursively (a null member
// of the pattern also matches an absent one). A non-object pattern is json_equal.
bool json_subset(const Json& pattern, const Json& value);

// RFC 7396 JSON Merge Patch of `patch` onto `target`, in place; members keep their positions and
// new ones are appended.
void json_merge_patch(Json& target, const Json& patch);

// A copy with the members of every object sorted by key (a canonical form).
Json json_sorted(const Json& value);
}  // namespace fox
