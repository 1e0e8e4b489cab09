// Serializers: their names (subprotocols, RawSocket ids), bytes → Json with the limits of
// core/json, and the "\u0000"+base64 convention for binary values in JSON.
#include <span>
#include <utility>

#include "core/base64.hpp"
#include "wamp/codec.hpp"
#include "wamp/codec_internal.hpp"

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

namespace {

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

}  // namespace

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

}  // namespace fox::wamp
