// Shared by the codec's own files (serializer.cpp, decode.cpp, encode.cpp); not for callers of
// codec.hpp.
#pragma once
#include <string>
#include <string_view>

#include "core/json.hpp"
#include "wamp/codec.hpp"

namespace fox::wamp {

// Bytes → Json (serializer.cpp). False with `reason` set if the bytes are not one valid value of
// the serializer, nest deeper than kMaxNesting or announce more elements than they hold.
bool parse(Serializer serializer, std::string_view bytes, Json& root, std::string& reason);

// True if `value` holds a binary anywhere (serializer.cpp): the JSON encoder converts only then.
bool contains_binary(const Json& value);

}  // namespace fox::wamp
