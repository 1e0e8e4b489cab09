// WAMP v2 codec: bytes ⇄ typed messages (message.hpp) for the JSON, MessagePack and CBOR
// serializers. Pure functions, no I/O, nothing thrown: a malformed message is a DecodeError the
// session turns into ABORT wamp.error.protocol_violation.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/ids.hpp"
#include "core/json.hpp"
#include "wamp/message.hpp"

namespace fox::wamp {

enum class Serializer { kJson = 0, kMsgpack = 1, kCbor = 2 };

// WebSocket subprotocol names: "wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor".
std::string_view subprotocol_name(Serializer serializer);
std::optional<Serializer> serializer_from_subprotocol(std::string_view name);

// RawSocket handshake serializer numbers: 1 JSON, 2 MessagePack, 3 CBOR.
int rawsocket_serializer_id(Serializer serializer);
std::optional<Serializer> serializer_from_rawsocket_id(int id);

// Nesting deeper than this (counting the message array as 1) is rejected: it protects every
// recursive walk that follows (nlohmann's MessagePack/CBOR readers, dump(), our own walks).
inline constexpr int kMaxNesting = 100;

struct DecodeError {
  std::string reason;      // human readable, names the offending field ("PUBLISH.Options.exclude")
  int type_if_known = 0;   // the message type code when it could be read (even an unknown one)
  Id request_if_known = 0; // the request id when it could be read (0 = unknown)
};

class DecodeResult {
public:
  DecodeResult(Message message) : value_(std::move(message)) {}
  DecodeResult(DecodeError error) : value_(std::move(error)) {}

  bool ok() const { return value_.index() == 0; }
  explicit operator bool() const { return ok(); }
  Message& message() { return std::get<0>(value_); }
  const Message& message() const { return std::get<0>(value_); }
  const DecodeError& error() const { return std::get<1>(value_); }

private:
  std::variant<Message, DecodeError> value_;
};

// Parses and validates one message. Field types are checked as the WAMP spec defines them (ids are
// integers in [1, 2^53], dicts objects, URIs strings, args an array, kwargs an object; the
// well-known options/details keys have their spec types). URI syntax is NOT checked here: a bad URI
// is an ERROR reply (wamp.error.invalid_uri), not a protocol violation, so the session does it.
// JSON: strings starting with "\u0000" inside args/kwargs/payload become binary values.
DecodeResult decode(Serializer serializer, std::string_view bytes);

// Encodes one message. Never throws: invalid UTF-8 in strings is replaced (JSON), binary values
// become "\u0000"+base64 strings (JSON). args are written if args or kwargs are present ([] when
// only kwargs are), kwargs only if present.
std::string encode(Serializer serializer, const Message& message);

// The hot path: an EVENT without building a Message (no copies of details/args/kwargs).
std::string encode_event(Serializer serializer, Id subscription, Id publication,
                         const Json& details, const Json& args, const Json& kwargs);

// A copy of `value` with every binary turned into the "\u0000"+base64 string (for JSON output),
// and the reverse: strings starting with "\u0000" turned into binary. from_json_binary returns
// false if such a string is not valid base64.
Json to_json_binary(const Json& value);
bool from_json_binary(Json& value);

}  // namespace fox::wamp
