#include "router/fox_options.hpp"

namespace fox {

namespace {

Error invalid(const std::string& message) { return make_error("wamp.error.invalid_argument", message); }

}  // namespace

bool uses_kv(const Publication& pub, const Json& raw) {
  if (pub.retain) return true;
  if (!raw.is_object() || raw.empty()) return false;
  return raw.contains("retain") || raw.contains("when") || raw.contains("will");
}

bool parse_kv_publish(const Publication& pub, const Json& raw, KvPublish* out, Error* error) {
  *out = KvPublish{};
  out->retain = pub.retain;
  if (!raw.is_object()) return true;
  bool retain = false;
  for (auto [key, target] : {std::pair<const char*, bool*>{"retain", &retain},
                             {"merge", &out->merge}, {"watch", &out->watch}}) {
    if (!optional_bool(raw, key, target)) {
      *error = invalid(std::string(key) + " must be a boolean");
      return false;
    }
  }
  out->retain = out->retain || retain;
  if (auto it = raw.find("when"); it != raw.end()) {
    out->has_when = true;
    out->when = *it;
  }
  if (auto it = raw.find("will"); it != raw.end()) {
    out->has_will = true;
    out->will = *it;
  }
  return true;
}

bool parse_replay_request(const Json& raw, ReplayRequest* out, Error* error) {
  *out = ReplayRequest{};
  if (!raw.is_object() || raw.empty()) return true;
  // `get_retained` is the WAMP event-retention spelling; the other two are fox-wamp's.
  for (const char* key : {"retained", "retainedState", "get_retained"}) {
    bool value = false;
    if (!optional_bool(raw, key, &value)) {
      *error = invalid(std::string(key) + " must be a boolean");
      return false;
    }
    out->retained = out->retained || value;
  }
  if (!optional_bool(raw, "snapshot", &out->snapshot)) {
    *error = invalid("snapshot must be a boolean");
    return false;
  }
  if (auto it = raw.find("after"); it != raw.end() && !it->is_null()) {
    if (it->is_number_unsigned()) {
      out->after = it->get<std::uint64_t>();
    } else if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
      out->after = static_cast<Id>(it->get<std::int64_t>());
    } else {
      *error = invalid("after must be an event id (integer)");
      return false;
    }
    out->has_after = true;
  }
  if (auto it = raw.find("filter"); it != raw.end() && !it->is_null()) {
    out->has_filter = true;
    out->filter = *it;
  }
  return true;
}

}  // namespace fox
