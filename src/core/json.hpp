// The one JSON type of fox (nlohmann::json also reads and writes MessagePack and CBOR).
#pragma once
#include <nlohmann/json.hpp>

namespace fox {
using Json = nlohmann::json;
}  // namespace fox
