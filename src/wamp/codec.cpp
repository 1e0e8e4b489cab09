#include "wamp/codec.hpp"

#include <charconv>
#include <cmath>
#include <exception>
#include <span>
#include <utility>

#include "core/base64.hpp"

namespace fox::wamp {

// ---------------------------------------------------------------------------------------------
// Serializer names

std::string_view subprotocol_name(Serializer serializer) {
  switch (serializer) {
    case Serializer::kJson: return "wamp.2.json";
    case Serializer::kMsgpack: return "wamp.2.msgpack";
    case Serializer::kCbor: return "wamp.2.cbor";
  }
  return "";
}

std::optional<Serializer> serializer_from_subprotocol(std::string_view name) {
  if (name == "wamp.2.json") return Serializer::kJson;
  if (name == "wamp.2.msgpack") return Serializer::kMsgpack;
  if (name == "wamp.2.cbor") return Serializer::kCbor;
  return std::nullopt;
}

int rawsocket_serializer_id(Serializer serializer) {
  switch (serializer) {
    case Serializer::kJson: return 1;
    case Serializer::kMsgpack: return 2;
    case Serializer::kCbor: return 3;
  }
  return 0;
}

std::optional<Serializer> serializer_from_rawsocket_id(int id) {
  switch (id) {
    case 1: return Serializer::kJson;
    case 2: return Serializer::kMsgpack;
    case 3: return Serializer::kCbor;
    default: return std::nullopt;
  }
}

std::string_view message_name(int type) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::kHello: return "HELLO";
    case MessageType::kWelcome: return "WELCOME";
    case MessageType::kAbort: return "ABORT";
    case MessageType::kChallenge: return "CHALLENGE";
    case MessageType::kAuthenticate: return "AUTHENTICATE";
    case MessageType::kGoodbye: return "GOODBYE";
    case MessageType::kError: return "ERROR";
    case MessageType::kPublish: return "PUBLISH";
    case MessageType::kPublished: return "PUBLISHED";
    case MessageType::kSubscribe: return "SUBSCRIBE";
    case MessageType::kSubscribed: return "SUBSCRIBED";
    case MessageType::kUnsubscribe: return "UNSUBSCRIBE";
    case MessageType::kUnsubscribed: return "UNSUBSCRIBED";
    case MessageType::kEvent: return "EVENT";
    case MessageType::kCall: return "CALL";
    case MessageType::kCancel: return "CANCEL";
    case MessageType::kResult: return "RESULT";
    case MessageType::kRegister: return "REGISTER";
    case MessageType::kRegistered: return "REGISTERED";
    case MessageType::kUnregister: return "UNREGISTER";
    case MessageType::kUnregistered: return "UNREGISTERED";
    case MessageType::kInvocation: return "INVOCATION";
    case MessageType::kInterrupt: return "INTERRUPT";
    case MessageType::kYield: return "YIELD";
  }
  return "UNKNOWN";
}

// ---------------------------------------------------------------------------------------------
// Binary values in JSON: "\u0000" + base64

namespace {

bool contains_binary(const Json& value) {
  switch (value.type()) {
    case Json::value_t::binary: return true;
    case Json::value_t::array:
      for (const auto& item : value) {
        if (contains_binary(item)) return true;
      }
      return false;
    case Json::value_t::object:
      for (const auto& item : value.items()) {
        if (contains_binary(item.value())) return true;
      }
      return false;
    default: return false;
  }
}

Json binary_to_string(const Json::binary_t& bytes) {
  std::string text(1, '\0');
  base64_encode_to(std::span<const std::uint8_t>(bytes.data(), bytes.size()), text);
  return Json(std::move(text));
}

}  // namespace

Json to_json_binary(const Json& value) {
  switch (value.type()) {
    case Json::value_t::binary: return binary_to_string(value.get_binary());
    case Json::value_t::array: {
      Json out = Json::array();
      out.get_ref<Json::array_t&>().reserve(value.size());
      for (const auto& item : value) out.push_back(to_json_binary(item));
      return out;
    }
    case Json::value_t::object: {
      Json out = Json::object();
      for (const auto& item : value.items()) out[item.key()] = to_json_binary(item.value());
      return out;
    }
    default: return value;
  }
}

bool from_json_binary(Json& value) {
  switch (value.type()) {
    case Json::value_t::string: {
      const auto& text = value.get_ref<const Json::string_t&>();
      if (text.empty() || text[0] != '\0') return true;
      Json::binary_t bytes;
      if (!base64_decode_to(std::string_view(text).substr(1), bytes)) return false;
      value = Json::binary(std::move(bytes));
      return true;
    }
    case Json::value_t::array:
      for (auto& item : value) {
        if (!from_json_binary(item)) return false;
      }
      return true;
    case Json::value_t::object:
      for (auto& item : value.items()) {
        if (!from_json_binary(item.value())) return false;
      }
      return true;
    default: return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing: bytes → Json, with a nesting limit

namespace {

const char* serializer_label(Serializer serializer) {
  switch (serializer) {
    case Serializer::kJson: return "JSON";
    case Serializer::kMsgpack: return "MessagePack";
    case Serializer::kCbor: return "CBOR";
  }
  return "?";
}

// Bytes → Json with core/json's builder: linear in the input, nesting bounded by kMaxNesting
// (nlohmann's MessagePack/CBOR readers recurse once per level, so ~1 MB of 0x91 bytes would
// overflow the stack), and a length header that announces more elements than there are bytes
// left is refused before anything is allocated.
bool parse(Serializer serializer, std::string_view bytes, Json& root, std::string& reason) {
  static_assert(kMaxNesting == kMaxJsonNesting);
  const JsonFormat format = serializer == Serializer::kJson      ? JsonFormat::kJson
                            : serializer == Serializer::kMsgpack ? JsonFormat::kMsgpack
                                                                 : JsonFormat::kCbor;
  switch (parse_json(format, bytes, &root)) {
    case JsonParse::kOk:
      return true;
    case JsonParse::kTooDeep:
      reason = "nesting deeper than " + std::to_string(kMaxNesting) + " levels";
      return false;
    case JsonParse::kBadLength:
      reason = std::string("invalid ") + serializer_label(serializer) +
               ": container length exceeds the message size";
      return false;
    case JsonParse::kSyntax:
      break;
  }
  reason = std::string("invalid ") + serializer_label(serializer);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Validation of the well-known Options/Details keys (their types as the WAMP spec defines them).
// Unknown keys pass: the spec lets peers add their own (fox-wamp extras, x_ keys).

enum class Kind { kBool, kId, kNonNegativeInt, kString, kDict, kIdList, kStringList, kDictList, kEnum };

struct Rule {
  std::string_view key;
  Kind kind;
  std::span<const std::string_view> values = {};
};

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

// ---------------------------------------------------------------------------------------------
// Reading the fields of one message array

class Fields {
public:
  Fields(Serializer serializer, Json::array_t& items, int type, DecodeError& error)
      : serializer_(serializer), items_(items), name_(message_name(type)), error_(error) {}

  std::size_t size() const { return items_.size(); }

  bool fail(std::string_view what, std::string_view problem) {
    error_.reason.assign(name_).append(".").append(what).append(" ").append(problem);
    return false;
  }

  bool length(std::size_t min, std::size_t max) {
    if (items_.size() >= min && items_.size() <= max) return true;
    error_.reason.assign(name_).append(" must have ").append(std::to_string(min));
    if (max != min) error_.reason.append(" to ").append(std::to_string(max));
    error_.reason.append(" elements, has ").append(std::to_string(items_.size()));
    return false;
  }

  bool id(std::size_t i, std::string_view what, Id& out, bool allow_zero = false) {
    if (read_id(items_[i], allow_zero, out)) return true;
    return fail(what, allow_zero ? "must be an integer in [0, 2^53]" : "must be an id in [1, 2^53]");
  }

  // The request id of the message: remembered so the session can answer a request it rejects.
  bool request(std::size_t i, Id& out, bool allow_zero = false) {
    if (!id(i, "Request", out, allow_zero)) return false;
    error_.request_if_known = out;
    return true;
  }

  bool string(std::size_t i, std::string_view what, std::string& out) {
    auto* text = items_[i].get_ptr<Json::string_t*>();
    if (text == nullptr) return fail(what, "must be a string");
    out = std::move(*text);
    return true;
  }

  bool dict(std::size_t i, std::string_view what, Json& out, std::span<const Rule> rules) {
    if (!items_[i].is_object()) return fail(what, "must be a dict");
    out = std::move(items_[i]);
    return check_rules(what, out, rules);
  }

  bool check_rules(std::string_view what, const Json& dict, std::span<const Rule> rules) {
    for (const auto& [key, value] : dict.items()) {
      for (const auto& rule : rules) {
        if (rule.key != key) continue;
        if (check_kind(value, rule)) break;
        std::string problem = std::string("must be ") + kind_text(rule.kind);
        for (std::size_t v = 0; v < rule.values.size(); ++v) {
          problem.append(v == 0 ? " " : ", ").append(rule.values[v]);
        }
        return fail(std::string(what).append(".").append(key), problem);
      }
    }
    return true;
  }

  // Arguments|list and ArgumentsKw|dict from position i on, or in Payload PassThru mode (the
  // dict announces ppt_scheme or enc_algo) one opaque payload in the Arguments position.
  bool payload(std::size_t i, const Json& dict, Json& args, Json& kwargs, Json& payload) {
    const bool passthru = dict.contains("ppt_scheme") || dict.contains("enc_algo");
    if (passthru) {
      if (items_.size() > i + 1) return fail("ArgumentsKw", "must be absent in payload passthru mode");
      if (items_.size() <= i) return true;
      if (serializer_ == Serializer::kJson && !from_json_binary(items_[i])) {
        return fail("Payload", "has a \\u0000-string that is not base64");
      }
      if (!items_[i].is_binary() && !items_[i].is_string()) {
        return fail("Payload", "must be binary in payload passthru mode");
      }
      payload = std::move(items_[i]);
      return true;
    }
    if (items_.size() > i) {
      if (!items_[i].is_array()) return fail("Arguments", "must be a list");
      args = std::move(items_[i]);
      if (serializer_ == Serializer::kJson && !from_json_binary(args)) {
        return fail("Arguments", "has a \\u0000-string that is not base64");
      }
    }
    if (items_.size() > i + 1) {
      if (!items_[i + 1].is_object()) return fail("ArgumentsKw", "must be a dict");
      kwargs = std::move(items_[i + 1]);
      if (serializer_ == Serializer::kJson && !from_json_binary(kwargs)) {
        return fail("ArgumentsKw", "has a \\u0000-string that is not base64");
      }
    }
    return true;
  }

private:
  Serializer serializer_;
  Json::array_t& items_;
  std::string_view name_;
  DecodeError& error_;
};

// ---------------------------------------------------------------------------------------------
// One decoder per message type: guard clauses in wire order.

std::optional<Message> decode_hello(Fields& f) {
  Hello m;
  if (!f.length(3, 3) || !f.string(1, "Realm", m.realm) ||
      !f.dict(2, "Details", m.details, kSessionDetails)) {
    return std::nullopt;
  }
  if (!m.details.contains("roles")) {
    f.fail("Details.roles", "is required");
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_welcome(Fields& f) {
  Welcome m;
  if (!f.length(3, 3) || !f.id(1, "Session", m.session) ||
      !f.dict(2, "Details", m.details, kSessionDetails)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_abort(Fields& f) {
  Abort m;
  if (!f.length(3, 3) || !f.dict(1, "Details", m.details, {}) ||
      !f.string(2, "Reason", m.reason)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_challenge(Fields& f) {
  Challenge m;
  if (!f.length(3, 3) || !f.string(1, "AuthMethod", m.authmethod) ||
      !f.dict(2, "Extra", m.extra, {})) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_authenticate(Fields& f) {
  Authenticate m;
  if (!f.length(3, 3) || !f.string(1, "Signature", m.signature) ||
      !f.dict(2, "Extra", m.extra, {})) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_goodbye(Fields& f) {
  Goodbye m;
  if (!f.length(3, 3) || !f.dict(1, "Details", m.details, {}) ||
      !f.string(2, "Reason", m.reason)) {
    return std::nullopt;
  }
  return m;
}

bool is_request_type(Id type) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::kSubscribe:
    case MessageType::kUnsubscribe:
    case MessageType::kPublish:
    case MessageType::kCall:
    case MessageType::kRegister:
    case MessageType::kUnregister:
    case MessageType::kInvocation:
      return true;
    default:
      return false;
  }
}

std::optional<Message> decode_error(Fields& f) {
  Error m;
  Id request_type = 0;
  if (!f.length(5, 7) || !f.id(1, "REQUEST.Type", request_type)) return std::nullopt;
  if (!is_request_type(request_type)) {
    f.fail("REQUEST.Type", "must be the type of a request (SUBSCRIBE, PUBLISH, CALL, ...)");
    return std::nullopt;
  }
  m.request_type = static_cast<int>(request_type);
  if (!f.request(2, m.request) || !f.dict(3, "Details", m.details, kErrorDetails) ||
      !f.string(4, "Error", m.error) || !f.payload(5, m.details, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_publish(Fields& f) {
  Publish m;
  if (!f.length(4, 6) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, kPublishOptions) || !f.string(3, "Topic", m.topic) ||
      !f.payload(4, m.options, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_published(Fields& f) {
  Published m;
  if (!f.length(3, 3) || !f.request(1, m.request) ||
      !f.id(2, "Publication", m.publication)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_subscribe(Fields& f) {
  Subscribe m;
  if (!f.length(4, 4) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, kSubscribeOptions) || !f.string(3, "Topic", m.topic)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_subscribed(Fields& f) {
  Subscribed m;
  if (!f.length(3, 3) || !f.request(1, m.request) ||
      !f.id(2, "Subscription", m.subscription)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_unsubscribe(Fields& f) {
  Unsubscribe m;
  if (!f.length(3, 3) || !f.request(1, m.request) ||
      !f.id(2, "Subscription", m.subscription)) {
    return std::nullopt;
  }
  return m;
}

// Request 0 is legal only in the router-initiated form, which carries Details.
template <class M>
std::optional<Message> decode_revocable(Fields& f, std::span<const Rule> detail_rules) {
  M m;
  if (!f.length(2, 3)) return std::nullopt;
  const bool has_details = f.size() == 3;
  if (!f.request(1, m.request, has_details)) return std::nullopt;
  if (has_details && !f.dict(2, "Details", m.details, detail_rules)) return std::nullopt;
  return m;
}

std::optional<Message> decode_event(Fields& f) {
  Event m;
  if (!f.length(4, 6) || !f.id(1, "Subscription", m.subscription) ||
      !f.id(2, "Publication", m.publication) || !f.dict(3, "Details", m.details, kEventDetails) ||
      !f.payload(4, m.details, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_call(Fields& f) {
  Call m;
  if (!f.length(4, 6) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, kCallOptions) || !f.string(3, "Procedure", m.procedure) ||
      !f.payload(4, m.options, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_cancel(Fields& f) {
  Cancel m;
  if (!f.length(3, 3) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, kCancelOptions)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_result(Fields& f) {
  Result m;
  if (!f.length(3, 5) || !f.request(1, m.request) ||
      !f.dict(2, "Details", m.details, kResultDetails) ||
      !f.payload(3, m.details, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_register(Fields& f) {
  Register m;
  if (!f.length(4, 4) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, kRegisterOptions) ||
      !f.string(3, "Procedure", m.procedure)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_registered(Fields& f) {
  Registered m;
  if (!f.length(3, 3) || !f.request(1, m.request) ||
      !f.id(2, "Registration", m.registration)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_unregister(Fields& f) {
  Unregister m;
  if (!f.length(3, 3) || !f.request(1, m.request) ||
      !f.id(2, "Registration", m.registration)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_invocation(Fields& f) {
  Invocation m;
  if (!f.length(4, 6) || !f.request(1, m.request) ||
      !f.id(2, "Registration", m.registration) ||
      !f.dict(3, "Details", m.details, kInvocationDetails) ||
      !f.payload(4, m.details, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_interrupt(Fields& f) {
  Interrupt m;
  if (!f.length(3, 3) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, kInterruptOptions)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_yield(Fields& f) {
  Yield m;
  if (!f.length(3, 5) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, kYieldOptions) ||
      !f.payload(3, m.options, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_fields(Fields& f, int type) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::kHello: return decode_hello(f);
    case MessageType::kWelcome: return decode_welcome(f);
    case MessageType::kAbort: return decode_abort(f);
    case MessageType::kChallenge: return decode_challenge(f);
    case MessageType::kAuthenticate: return decode_authenticate(f);
    case MessageType::kGoodbye: return decode_goodbye(f);
    case MessageType::kError: return decode_error(f);
    case MessageType::kPublish: return decode_publish(f);
    case MessageType::kPublished: return decode_published(f);
    case MessageType::kSubscribe: return decode_subscribe(f);
    case MessageType::kSubscribed: return decode_subscribed(f);
    case MessageType::kUnsubscribe: return decode_unsubscribe(f);
    case MessageType::kUnsubscribed: return decode_revocable<Unsubscribed>(f, kRevokedSubscription);
    case MessageType::kEvent: return decode_event(f);
    case MessageType::kCall: return decode_call(f);
    case MessageType::kCancel: return decode_cancel(f);
    case MessageType::kResult: return decode_result(f);
    case MessageType::kRegister: return decode_register(f);
    case MessageType::kRegistered: return decode_registered(f);
    case MessageType::kUnregister: return decode_unregister(f);
    case MessageType::kUnregistered: return decode_revocable<Unregistered>(f, kRevokedRegistration);
    case MessageType::kInvocation: return decode_invocation(f);
    case MessageType::kInterrupt: return decode_interrupt(f);
    case MessageType::kYield: return decode_yield(f);
  }
  return std::nullopt;  // unreachable: decode_message rejects unknown types first
}

// Where the Request|id sits in a message (0 = the message has none).
std::size_t request_position(int type) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::kHello:
    case MessageType::kWelcome:
    case MessageType::kAbort:
    case MessageType::kChallenge:
    case MessageType::kAuthenticate:
    case MessageType::kGoodbye:
    case MessageType::kEvent:
      return 0;
    case MessageType::kError:
      return 2;
    default:
      return 1;
  }
}

DecodeResult decode_message(Serializer serializer, Json& root) {
  if (!root.is_array() || root.empty()) {
    return DecodeError{"message must be a non-empty array", 0, 0};
  }
  auto& items = root.get_ref<Json::array_t&>();
  Id code = 0;
  if (!read_id(items[0], false, code) || code > 0x7fffffff || items[0].is_number_float()) {
    return DecodeError{"message type must be a positive integer", 0, 0};
  }
  const int type = static_cast<int>(code);
  DecodeError error{{}, type, 0};
  if (message_name(type) == "UNKNOWN") {
    error.reason = "unknown message type " + std::to_string(type);
    return error;
  }
  // Known before any other check, so the session can still answer a request it cannot accept.
  if (const std::size_t pos = request_position(type); pos != 0 && items.size() > pos) {
    Id request = 0;
    if (read_id(items[pos], false, request)) error.request_if_known = request;
  }
  Fields fields(serializer, items, type, error);
  if (auto message = decode_fields(fields, type)) return std::move(*message);
  return error;
}

}  // namespace

DecodeResult decode(Serializer serializer, std::string_view bytes) {
  try {
    Json root;
    std::string reason;
    if (!parse(serializer, bytes, root, reason)) return DecodeError{std::move(reason), 0, 0};
    return decode_message(serializer, root);
  } catch (const std::exception& e) {
    // Nothing above should throw; this is the last line that keeps a hostile message from
    // reaching the event loop as an exception.
    return DecodeError{std::string("cannot decode: ") + e.what(), 0, 0};
  } catch (...) {
    return DecodeError{"cannot decode", 0, 0};
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding: the message array is written element by element straight into the output string
// (no intermediate Json array, so args/kwargs/details are never copied).

namespace {

// nlohmann's writers are built once per thread around one reusable buffer: building them per
// message (a shared_ptr adapter, a 512-byte indent string, localeconv()) cost as much as the
// encoding itself. Messages are never encoded re-entrantly, so one buffer per thread suffices.
struct Scratch {
  std::string out;
  nlohmann::detail::output_adapter_t<char> adapter = nlohmann::detail::output_adapter<char>(out);
  nlohmann::detail::serializer<Json> json{adapter, ' ', nlohmann::json::error_handler_t::replace};
  nlohmann::detail::binary_writer<Json, char> binary{adapter};
};

// Above this size the buffer leaves with the message instead of being copied (and kept).
constexpr std::size_t kScratchKeep = 64 * 1024;

Scratch& scratch() {
  thread_local Scratch instance;
  return instance;
}

class Writer {
public:
  // Writes the array header and the message type code.
  Writer(Serializer serializer, std::size_t count, MessageType type)
      : serializer_(serializer), scratch_(scratch()), out_(scratch_.out) {
    out_.clear();
    switch (serializer_) {
      case Serializer::kJson: out_ += '['; break;
      // Every WAMP message has fewer than 16 elements: one-byte array headers.
      case Serializer::kMsgpack: out_ += static_cast<char>(0x90 | count); break;
      case Serializer::kCbor: out_ += static_cast<char>(0x80 | count); break;
    }
    uint(static_cast<std::uint64_t>(type));
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void uint(std::uint64_t v) {
    separator();
    switch (serializer_) {
      case Serializer::kJson: {
        char buf[24];
        const auto res = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, res.ptr);
        break;
      }
      case Serializer::kMsgpack:
        if (v < 0x80) {
          out_ += static_cast<char>(v);
        } else if (v <= 0xff) {
          out_ += static_cast<char>(0xcc);
          big_endian(v, 1);
        } else if (v <= 0xffff) {
          out_ += static_cast<char>(0xcd);
          big_endian(v, 2);
        } else if (v <= 0xffffffff) {
          out_ += static_cast<char>(0xce);
          big_endian(v, 4);
        } else {
          out_ += static_cast<char>(0xcf);
          big_endian(v, 8);
        }
        break;
      case Serializer::kCbor: cbor_head(0x00, v); break;
    }
  }

  void str(std::string_view s) {
    switch (serializer_) {
      case Serializer::kJson:
        value(Json(s));  // nlohmann escapes (and repairs invalid UTF-8)
        return;
      case Serializer::kMsgpack:
        separator();
        if (s.size() < 32) {
          out_ += static_cast<char>(0xa0 | s.size());
        } else if (s.size() <= 0xff) {
          out_ += static_cast<char>(0xd9);
          big_endian(s.size(), 1);
        } else if (s.size() <= 0xffff) {
          out_ += static_cast<char>(0xda);
          big_endian(s.size(), 2);
        } else {
          out_ += static_cast<char>(0xdb);
          big_endian(s.size(), 4);
        }
        break;
      case Serializer::kCbor:
        separator();
        cbor_head(0x60, s.size());
        break;
    }
    out_.append(s);
  }

  // A dict field: null (a default-constructed Json) is written as {} so the output stays valid.
  void dict(const Json& d) {
    if (d.is_null()) {
      empty_container('{', 0x80, 0xa0);
    } else {
      value(d);
    }
  }

  void empty_array() { empty_container('[', 0x90, 0x80); }

  void value(const Json& v) {
    separator();
    if (serializer_ == Serializer::kJson) {
      if ((v.is_structured() || v.is_binary()) && contains_binary(v)) {
        scratch_.json.dump(to_json_binary(v), false, false, 0);
      } else {
        scratch_.json.dump(v, false, false, 0);
      }
      return;
    }
    if (serializer_ == Serializer::kMsgpack) {
      scratch_.binary.write_msgpack(v);
    } else {
      scratch_.binary.write_cbor(v);
    }
  }

  // Arguments|list, ArgumentsKw|dict or the passthru payload, whichever are present.
  static std::size_t tail_count(const Json& args, const Json& kwargs, const Json& payload) {
    if (!payload.is_null()) return 1;
    if (!kwargs.is_null()) return 2;
    return args.is_null() ? 0 : 1;
  }

  void tail(const Json& args, const Json& kwargs, const Json& payload) {
    if (!payload.is_null()) {
      value(payload);
      return;
    }
    if (kwargs.is_null() && args.is_null()) return;
    if (args.is_null()) {
      empty_array();
    } else {
      value(args);
    }
    if (!kwargs.is_null()) value(kwargs);
  }

  std::string finish() {
    if (serializer_ == Serializer::kJson) out_ += ']';
    if (out_.size() > kScratchKeep) return std::exchange(out_, std::string());
    return out_;
  }

private:
  void separator() {
    if (serializer_ == Serializer::kJson && !first_) out_ += ',';
    first_ = false;
  }

  void empty_container(char json_open, unsigned msgpack, unsigned cbor) {
    separator();
    switch (serializer_) {
      case Serializer::kJson:
        out_ += json_open;
        out_ += json_open == '[' ? ']' : '}';
        break;
      case Serializer::kMsgpack: out_ += static_cast<char>(msgpack); break;
      case Serializer::kCbor: out_ += static_cast<char>(cbor); break;
    }
  }

  void big_endian(std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }

  void cbor_head(unsigned major, std::uint64_t v) {
    if (v < 24) {
      out_ += static_cast<char>(major | v);
    } else if (v <= 0xff) {
      out_ += static_cast<char>(major | 24);
      big_endian(v, 1);
    } else if (v <= 0xffff) {
      out_ += static_cast<char>(major | 25);
      big_endian(v, 2);
    } else if (v <= 0xffffffff) {
      out_ += static_cast<char>(major | 26);
      big_endian(v, 4);
    } else {
      out_ += static_cast<char>(major | 27);
      big_endian(v, 8);
    }
  }

  Serializer serializer_;
  Scratch& scratch_;
  std::string& out_;
  bool first_ = true;
};

std::string write(Serializer s, const Hello& m) {
  Writer w(s, 3, Hello::kType);
  w.str(m.realm);
  w.dict(m.details);
  return w.finish();
}

std::string write(Serializer s, const Welcome& m) {
  Writer w(s, 3, Welcome::kType);
  w.uint(m.session);
  w.dict(m.details);
  return w.finish();
}

std::string write(Serializer s, const Abort& m) {
  Writer w(s, 3, Abort::kType);
  w.dict(m.details);
  w.str(m.reason);
  return w.finish();
}

std::string write(Serializer s, const Challenge& m) {
  Writer w(s, 3, Challenge::kType);
  w.str(m.authmethod);
  w.dict(m.extra);
  return w.finish();
}

std::string write(Serializer s, const Authenticate& m) {
  Writer w(s, 3, Authenticate::kType);
  w.str(m.signature);
  w.dict(m.extra);
  return w.finish();
}

std::string write(Serializer s, const Goodbye& m) {
  Writer w(s, 3, Goodbye::kType);
  w.dict(m.details);
  w.str(m.reason);
  return w.finish();
}

std::string write(Serializer s, const Error& m) {
  Writer w(s, 5 + Writer::tail_count(m.args, m.kwargs, m.payload), Error::kType);
  w.uint(static_cast<std::uint64_t>(m.request_type));
  w.uint(m.request);
  w.dict(m.details);
  w.str(m.error);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Publish& m) {
  Writer w(s, 4 + Writer::tail_count(m.args, m.kwargs, m.payload), Publish::kType);
  w.uint(m.request);
  w.dict(m.options);
  w.str(m.topic);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Published& m) {
  Writer w(s, 3, Published::kType);
  w.uint(m.request);
  w.uint(m.publication);
  return w.finish();
}

std::string write(Serializer s, const Subscribe& m) {
  Writer w(s, 4, Subscribe::kType);
  w.uint(m.request);
  w.dict(m.options);
  w.str(m.topic);
  return w.finish();
}

std::string write(Serializer s, const Subscribed& m) {
  Writer w(s, 3, Subscribed::kType);
  w.uint(m.request);
  w.uint(m.subscription);
  return w.finish();
}

std::string write(Serializer s, const Unsubscribe& m) {
  Writer w(s, 3, Unsubscribe::kType);
  w.uint(m.request);
  w.uint(m.subscription);
  return w.finish();
}

std::string write(Serializer s, const Unsubscribed& m) {
  Writer w(s, m.details.is_null() ? 2 : 3, Unsubscribed::kType);
  w.uint(m.request);
  if (!m.details.is_null()) w.dict(m.details);
  return w.finish();
}

std::string write(Serializer s, const Event& m) {
  Writer w(s, 4 + Writer::tail_count(m.args, m.kwargs, m.payload), Event::kType);
  w.uint(m.subscription);
  w.uint(m.publication);
  w.dict(m.details);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Call& m) {
  Writer w(s, 4 + Writer::tail_count(m.args, m.kwargs, m.payload), Call::kType);
  w.uint(m.request);
  w.dict(m.options);
  w.str(m.procedure);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Cancel& m) {
  Writer w(s, 3, Cancel::kType);
  w.uint(m.request);
  w.dict(m.options);
  return w.finish();
}

std::string write(Serializer s, const Result& m) {
  Writer w(s, 3 + Writer::tail_count(m.args, m.kwargs, m.payload), Result::kType);
  w.uint(m.request);
  w.dict(m.details);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Register& m) {
  Writer w(s, 4, Register::kType);
  w.uint(m.request);
  w.dict(m.options);
  w.str(m.procedure);
  return w.finish();
}

std::string write(Serializer s, const Registered& m) {
  Writer w(s, 3, Registered::kType);
  w.uint(m.request);
  w.uint(m.registration);
  return w.finish();
}

std::string write(Serializer s, const Unregister& m) {
  Writer w(s, 3, Unregister::kType);
  w.uint(m.request);
  w.uint(m.registration);
  return w.finish();
}

std::string write(Serializer s, const Unregistered& m) {
  Writer w(s, m.details.is_null() ? 2 : 3, Unregistered::kType);
  w.uint(m.request);
  if (!m.details.is_null()) w.dict(m.details);
  return w.finish();
}

std::string write(Serializer s, const Invocation& m) {
  Writer w(s, 4 + Writer::tail_count(m.args, m.kwargs, m.payload), Invocation::kType);
  w.uint(m.request);
  w.uint(m.registration);
  w.dict(m.details);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Interrupt& m) {
  Writer w(s, 3, Interrupt::kType);
  w.uint(m.request);
  w.dict(m.options);
  return w.finish();
}

std::string write(Serializer s, const Yield& m) {
  Writer w(s, 3 + Writer::tail_count(m.args, m.kwargs, m.payload), Yield::kType);
  w.uint(m.request);
  w.dict(m.options);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

}  // namespace

std::string encode(Serializer serializer, const Message& message) {
  try {
    return std::visit([serializer](const auto& m) { return write(serializer, m); }, message);
  } catch (...) {
    // Only memory exhaustion can get here; an empty frame is dropped by the session.
    return {};
  }
}

std::string encode_event(Serializer serializer, Id subscription, Id publication,
                         const Json& details, const Json& args, const Json& kwargs) {
  try {
    static const Json kNoPayload;
    Writer w(serializer, 4 + Writer::tail_count(args, kwargs, kNoPayload), MessageType::kEvent);
    w.uint(subscription);
    w.uint(publication);
    w.dict(details);
    w.tail(args, kwargs, kNoPayload);
    return w.finish();
  } catch (...) {
    return {};
  }
}

}  // namespace fox::wamp
