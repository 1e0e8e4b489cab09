#include "fox/body.hpp"

#include "core/payload.hpp"

namespace fox::foxp {

bool read_body(const Json& data, Body* out, std::string* error) {
  *out = Body{};
  if (data.is_null()) return true;
  if (!data.is_object()) {
    *error = "data must be a map ({kv: value}, {args: [...]} or {payload: bytes}) or nil";
    return false;
  }
  // {kv: v, args, kwargs} (what fox sends when kv alone would lose something): args/kwargs win.
  if (auto kv = data.find("kv"); kv != data.end() && !data.contains("args") && !data.contains("kwargs")) {
    if (!kv->is_null()) out->args = Json::array({*kv});
    return true;
  }
  if (auto payload = data.find("payload"); payload != data.end()) {
    if (payload->is_binary()) {
      const auto& bytes = payload->get_binary();
      out->payload.emplace(bytes.begin(), bytes.end());
    } else if (payload->is_string()) {
      out->payload = payload->get<std::string>();
    } else {
      *error = "data.payload must be bytes";
      return false;
    }
    return true;
  }
  auto args = data.find("args");
  auto kwargs = data.find("kwargs");
  if (args == data.end() && kwargs == data.end()) {
    *error = "data must hold kv, args or payload";
    return false;
  }
  if (args != data.end() && !args->is_null()) {
    if (!args->is_array()) {
      *error = "data.args must be a list";
      return false;
    }
    out->args = *args;
  }
  if (kwargs != data.end() && !kwargs->is_null()) {
    if (!kwargs->is_object()) {
      *error = "data.kwargs must be a map";
      return false;
    }
    out->kwargs = *kwargs;
  }
  return true;
}

Json body_of(const Json& args, const Json& kwargs) {
  const bool has_kwargs = kwargs.is_object() && !kwargs.empty();
  if (args.is_array() && args.size() == 1 && !has_kwargs) return Json{{"kv", args[0]}};
  Json body = Json::object();
  if (args.is_array() && args.size() == 1) body["kv"] = args[0];
  else if (args.is_array() && args.size() > 1) body["kv"] = args;
  else if (has_kwargs) body["kv"] = kwargs;
  else return nullptr;
  // kv alone would lose the shape: fox's own clients read args and kwargs, fox-wamp's read kv.
  body["args"] = args.is_array() ? args : Json::array();
  if (has_kwargs) body["kwargs"] = kwargs;
  return body;
}

// The value of the payload (README table: `{kv: value of p}`, an array stays an array): "[5]" is
// {kv: [5]}, not the {kv: 5} of its WAMP args [5]; an array also goes as args (args_from_payload:
// a JSON array is the args), which read_body prefers, so both readings are exact.
Json body_of_payload(const std::string& payload) {
  if (payload.empty()) return nullptr;
  Json value;
  if (parse_json(JsonFormat::kJson, payload, &value) != JsonParse::kOk) {
    return body_of(args_from_payload(payload), nullptr);   // not JSON: {kv: bin}
  }
  if (value.is_null()) return nullptr;
  if (!value.is_array()) return Json{{"kv", std::move(value)}};
  Json body = Json::object();
  body["kv"] = value;
  body["args"] = std::move(value);
  return body;
}

Json exact_body(const Json& args, const Json& kwargs) {
  const bool has_args = args.is_array() && !args.empty();
  const bool has_kwargs = kwargs.is_object() && !kwargs.empty();
  if (!has_args && !has_kwargs) return nullptr;
  if (has_args && args.size() == 1 && !has_kwargs) return Json{{"kv", args[0]}};
  Json body = Json::object();
  body["args"] = has_args ? args : Json::array();
  if (has_kwargs) body["kwargs"] = kwargs;
  return body;
}

}  // namespace fox::foxp
