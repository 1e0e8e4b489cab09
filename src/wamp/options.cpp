// The well-known Options/Details keys of WAMP and their spec types (see options.hpp).
#include "wamp/options.hpp"

#include <cmath>

namespace fox::wamp {

// An id as WAMP sends it: an integer. A float that holds an exact integer is accepted too, because
// some JavaScript MessagePack encoders write numbers above 2^32 as float64.
bool read_id(const Json& value, bool allow_zero, Id& out) {
  Id id = 0;
  switch (value.type()) {
    case Json::value_t::number_unsigned: id = *value.get_ptr<const Json::number_unsigned_t*>(); break;
    case Json::value_t::number_integer: {
      const auto v = *value.get_ptr<const Json::number_integer_t*>();
      if (v < 0) return false;
      id = static_cast<Id>(v);
      break;
    }
    case Json::value_t::number_float: {
      const double v = *value.get_ptr<const Json::number_float_t*>();
      if (!(v >= 0 && v <= static_cast<double>(kMaxId)) || std::floor(v) != v) return false;
      id = static_cast<Id>(v);
      break;
    }
    default: return false;
  }
  if (id > kMaxId || (id == 0 && !allow_zero)) return false;
  out = id;
  return true;
}

namespace options {
namespace {
namespace table {

constexpr std::string_view kMatchValues[] = {"exact", "prefix", "wildcard"};
constexpr std::string_view kInvokeValues[] = {"single", "roundrobin", "random", "first", "last"};
constexpr std::string_view kCancelModes[] = {"skip", "kill", "killnowait"};
constexpr std::string_view kInterruptModes[] = {"kill", "killnowait"};
constexpr std::string_view kEncAlgos[] = {"cryptobox", "mqtt", "xbr"};
constexpr std::string_view kEncSerializers[] = {"json", "msgpack", "cbor", "ubjson", "opaque",
                                                "flatbuffers"};

// Payload PassThru Mode and router-to-router keys, allowed wherever a payload travels.
#define FOX_PPT_RULES                                                                         \
  {"ppt_scheme", Kind::kString}, {"ppt_serializer", Kind::kString},                           \
      {"ppt_cipher", Kind::kString}, {"ppt_keyid", Kind::kString},                            \
      {"enc_algo", Kind::kEnum, kEncAlgos}, {"enc_serializer", Kind::kEnum, kEncSerializers}, \
      {"enc_key", Kind::kString}, {"forward_for", Kind::kDictList}

constexpr Rule kPublishOptions[] = {
    {"acknowledge", Kind::kBool},       {"exclude_me", Kind::kBool},
    {"disclose_me", Kind::kBool},       {"exclude", Kind::kIdList},
    {"exclude_authid", Kind::kStringList}, {"exclude_authrole", Kind::kStringList},
    {"eligible", Kind::kIdList},        {"eligible_authid", Kind::kStringList},
    {"eligible_authrole", Kind::kStringList}, {"retain", Kind::kBool},
    {"transaction_hash", Kind::kString}, FOX_PPT_RULES};
constexpr Rule kSubscribeOptions[] = {{"match", Kind::kEnum, kMatchValues},
                                      {"get_retained", Kind::kBool},
                                      {"forward_for", Kind::kDictList}};
constexpr Rule kEventDetails[] = {
    {"publisher", Kind::kId},          {"publisher_authid", Kind::kString},
    {"publisher_authrole", Kind::kString}, {"topic", Kind::kString},
    {"retained", Kind::kBool},         {"transaction_hash", Kind::kString},
    {"x_acknowledged_delivery", Kind::kBool}, FOX_PPT_RULES};
constexpr Rule kCallOptions[] = {{"timeout", Kind::kNonNegativeInt},
                                 {"receive_progress", Kind::kBool},
                                 {"disclose_me", Kind::kBool},
                                 {"progress", Kind::kBool},
                                 FOX_PPT_RULES};
constexpr Rule kRegisterOptions[] = {{"match", Kind::kEnum, kMatchValues},
                                     {"invoke", Kind::kEnum, kInvokeValues},
                                     {"disclose_caller", Kind::kBool},
                                     {"force_reregister", Kind::kBool},
                                     {"forward_for", Kind::kDictList}};
constexpr Rule kInvocationDetails[] = {{"caller", Kind::kId},
                                       {"caller_authid", Kind::kString},
                                       {"caller_authrole", Kind::kString},
                                       {"procedure", Kind::kString},
                                       {"receive_progress", Kind::kBool},
                                       {"timeout", Kind::kNonNegativeInt},
                                       {"progress", Kind::kBool},
                                       FOX_PPT_RULES};
constexpr Rule kYieldOptions[] = {{"progress", Kind::kBool}, FOX_PPT_RULES};
constexpr Rule kResultDetails[] = {{"progress", Kind::kBool}, FOX_PPT_RULES};
constexpr Rule kErrorDetails[] = {FOX_PPT_RULES};
constexpr Rule kCancelOptions[] = {{"mode", Kind::kEnum, kCancelModes},
                                   {"forward_for", Kind::kDictList}};
constexpr Rule kInterruptOptions[] = {{"mode", Kind::kEnum, kInterruptModes},
                                      {"reason", Kind::kString},
                                      {"forward_for", Kind::kDictList}};
constexpr Rule kSessionDetails[] = {{"roles", Kind::kDict},
                                    {"authmethods", Kind::kStringList},
                                    {"authid", Kind::kString},
                                    {"authrole", Kind::kString},
                                    {"authmethod", Kind::kString},
                                    {"authprovider", Kind::kString},
                                    {"authextra", Kind::kDict}};
constexpr Rule kRevokedSubscription[] = {{"subscription", Kind::kId}, {"reason", Kind::kString}};
constexpr Rule kRevokedRegistration[] = {{"registration", Kind::kId}, {"reason", Kind::kString}};

#undef FOX_PPT_RULES

}  // namespace table

bool check_kind(const Json& value, const Rule& rule) {
  switch (rule.kind) {
    case Kind::kBool: return value.is_boolean();
    case Kind::kId: {
      Id id = 0;
      return read_id(value, false, id);
    }
    case Kind::kNonNegativeInt:
      return value.is_number_unsigned() ||
             (value.is_number_integer() && value.get<Json::number_integer_t>() >= 0);
    case Kind::kString: return value.is_string();
    case Kind::kDict: return value.is_object();
    case Kind::kIdList:
      if (!value.is_array()) return false;
      for (const auto& item : value) {
        Id id = 0;
        if (!read_id(item, false, id)) return false;
      }
      return true;
    case Kind::kStringList:
      if (!value.is_array()) return false;
      for (const auto& item : value) {
        if (!item.is_string()) return false;
      }
      return true;
    case Kind::kDictList:
      if (!value.is_array()) return false;
      for (const auto& item : value) {
        if (!item.is_object()) return false;
      }
      return true;
    case Kind::kEnum:
      if (!value.is_string()) return false;
      for (const auto allowed : rule.values) {
        if (value.get_ref<const Json::string_t&>() == allowed) return true;
      }
      return false;
  }
  return false;
}

const char* kind_text(Kind kind) {
  switch (kind) {
    case Kind::kBool: return "a boolean";
    case Kind::kId: return "an id in [1, 2^53]";
    case Kind::kNonNegativeInt: return "a non-negative integer";
    case Kind::kString: return "a string";
    case Kind::kDict: return "a dict";
    case Kind::kIdList: return "a list of ids";
    case Kind::kStringList: return "a list of strings";
    case Kind::kDictList: return "a list of dicts";
    case Kind::kEnum: return "one of";
  }
  return "?";
}

}  // namespace

bool check_dict(const Json& dict, std::span<const Rule> rules, std::string* reason) {
  for (const auto& [key, value] : dict.items()) {
    for (const auto& rule : rules) {
      if (rule.key != key) continue;
      if (check_kind(value, rule)) break;
      if (reason != nullptr) {
        reason->assign(key).append(" must be ").append(kind_text(rule.kind));
        for (std::size_t v = 0; v < rule.values.size(); ++v) {
          reason->append(v == 0 ? " " : ", ").append(rule.values[v]);
        }
      }
      return false;
    }
  }
  return true;
}

const std::span<const Rule> kPublishOptions = table::kPublishOptions;
const std::span<const Rule> kSubscribeOptions = table::kSubscribeOptions;
const std::span<const Rule> kEventDetails = table::kEventDetails;
const std::span<const Rule> kCallOptions = table::kCallOptions;
const std::span<const Rule> kRegisterOptions = table::kRegisterOptions;
const std::span<const Rule> kInvocationDetails = table::kInvocationDetails;
const std::span<const Rule> kYieldOptions = table::kYieldOptions;
const std::span<const Rule> kResultDetails = table::kResultDetails;
const std::span<const Rule> kErrorDetails = table::kErrorDetails;
const std::span<const Rule> kCancelOptions = table::kCancelOptions;
const std::span<const Rule> kInterruptOptions = table::kInterruptOptions;
const std::span<const Rule> kSessionDetails = table::kSessionDetails;
const std::span<const Rule> kRevokedSubscription = table::kRevokedSubscription;
const std::span<const Rule> kRevokedRegistration = table::kRevokedRegistration;

}  // namespace options

// Reads an optional typed option; a present value of the wrong type is an error.
bool opt_bool(const Json& options, const char* key, bool* out) {
  return optional_bool(options, key, out);
}

// True when `options[key]` is the boolean true.
bool json_true_option(const Json& options, const char* key) {
  auto it = options.find(key);
  return it != options.end() && it->is_boolean() && it->get<bool>();
}

bool opt_ids(const Json& options, const char* key, std::vector<Id>* out, bool* present) {
  auto it = options.find(key);
  if (it == options.end()) return true;
  if (!it->is_array()) return false;
  for (const auto& v : *it) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() > 0)) return false;
    out->push_back(v.get<Id>());
  }
  if (present) *present = true;
  return true;
}

bool opt_strings(const Json& options, const char* key, std::vector<std::string>* out, bool* present) {
  auto it = options.find(key);
  if (it == options.end()) return true;
  if (!it->is_array()) return false;
  for (const auto& v : *it) {
    if (!v.is_string()) return false;
    out->push_back(v.get<std::string>());
  }
  if (present) *present = true;
  return true;
}

}  // namespace fox::wamp
