// Decoding: one message array (already parsed into Json) → a typed Message, or a DecodeError that
// names the offending field.
#include <exception>
#include <optional>
#include <span>
#include <utility>

#include "wamp/codec.hpp"
#include "wamp/codec_internal.hpp"
#include "wamp/options.hpp"

namespace fox::wamp {

namespace {

using options::Rule;

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

  // A dict whose well-known keys (options.hpp) must have their types.
  bool dict(std::size_t i, std::string_view what, Json& out, std::span<const Rule> rules) {
    if (!items_[i].is_object()) return fail(what, "must be a dict");
    out = std::move(items_[i]);
    std::string reason;  // "<key> must be ..."
    if (options::check_dict(out, rules, &reason)) return true;
    error_.reason.assign(name_).append(".").append(what).append(".").append(reason);
    return false;
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
      !f.dict(2, "Details", m.details, options::kSessionDetails)) {
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
      !f.dict(2, "Details", m.details, options::kSessionDetails)) {
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
  if (!f.request(2, m.request) || !f.dict(3, "Details", m.details, options::kErrorDetails) ||
      !f.string(4, "Error", m.error) || !f.payload(5, m.details, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_publish(Fields& f) {
  Publish m;
  if (!f.length(4, 6) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, options::kPublishOptions) ||
      !f.string(3, "Topic", m.topic) || !f.payload(4, m.options, m.args, m.kwargs, m.payload)) {
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
      !f.dict(2, "Options", m.options, options::kSubscribeOptions) ||
      !f.string(3, "Topic", m.topic)) {
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
      !f.id(2, "Publication", m.publication) ||
      !f.dict(3, "Details", m.details, options::kEventDetails) ||
      !f.payload(4, m.details, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_call(Fields& f) {
  Call m;
  if (!f.length(4, 6) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, options::kCallOptions) ||
      !f.string(3, "Procedure", m.procedure) ||
      !f.payload(4, m.options, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_cancel(Fields& f) {
  Cancel m;
  if (!f.length(3, 3) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, options::kCancelOptions)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_result(Fields& f) {
  Result m;
  if (!f.length(3, 5) || !f.request(1, m.request) ||
      !f.dict(2, "Details", m.details, options::kResultDetails) ||
      !f.payload(3, m.details, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_register(Fields& f) {
  Register m;
  if (!f.length(4, 4) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, options::kRegisterOptions) ||
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
      !f.dict(3, "Details", m.details, options::kInvocationDetails) ||
      !f.payload(4, m.details, m.args, m.kwargs, m.payload)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_interrupt(Fields& f) {
  Interrupt m;
  if (!f.length(3, 3) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, options::kInterruptOptions)) {
    return std::nullopt;
  }
  return m;
}

std::optional<Message> decode_yield(Fields& f) {
  Yield m;
  if (!f.length(3, 5) || !f.request(1, m.request) ||
      !f.dict(2, "Options", m.options, options::kYieldOptions) ||
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
    case MessageType::kUnsubscribed:
      return decode_revocable<Unsubscribed>(f, options::kRevokedSubscription);
    case MessageType::kEvent: return decode_event(f);
    case MessageType::kCall: return decode_call(f);
    case MessageType::kCancel: return decode_cancel(f);
    case MessageType::kResult: return decode_result(f);
    case MessageType::kRegister: return decode_register(f);
    case MessageType::kRegistered: return decode_registered(f);
    case MessageType::kUnregister: return decode_unregister(f);
    case MessageType::kUnregistered:
      return decode_revocable<Unregistered>(f, options::kRevokedRegistration);
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

}  // namespace fox::wamp
