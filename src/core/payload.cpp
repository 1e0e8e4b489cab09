#include "core/payload.hpp"

namespace fox {

Json args_from_payload(std::string_view payload) {
  if (payload.empty()) return nullptr;
  Json v;
  // Not JSON, or nested deeper than fox keeps: the bytes travel as one binary argument.
  if (parse_json(JsonFormat::kJson, payload, &v) != JsonParse::kOk) {
    return Json::array({Json::binary(std::vector<std::uint8_t>(payload.begin(), payload.end()))});
  }
  if (v.is_null()) return nullptr;
  if (v.is_array()) return v;
  return Json::array({std::move(v)});
}

namespace {
std::string dump(const Json& v) {
  // Binary values have no JSON form: they cannot occur from JSON peers; from msgpack/cbor peers
  // they are written as their bytes when alone, else as a JSON array of byte values.
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}
}  // namespace

std::string payload_from_args(const Json& args) {
  if (args.is_null()) return "null";
  if (args.is_array() && args.size() == 1) {
    const Json& a = args[0];
    if (a.is_binary()) return std::string(a.get_binary().begin(), a.get_binary().end());
    return dump(a);
  }
  return dump(args);
}

}  // namespace fox
