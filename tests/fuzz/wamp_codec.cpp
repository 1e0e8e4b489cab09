// libFuzzer target: the WAMP codec (src/wamp/codec.hpp: decode, encode, encode_event) in its
// three serializers.
//
// Input: one byte choosing the serializer (low two bits: 0 JSON, 1 MessagePack, 2 CBOR, 3 JSON),
// then the bytes of one message as a WebSocket frame or RawSocket message would carry them.
//
// Properties checked on every message that decodes:
//  - in its own serializer, encode then decode again succeeds, and encoding that gives the same
//    bytes (encode is stable: decode(encode(m)) loses nothing encode writes);
//  - in the other two serializers encode then decode succeeds too (the router re-encodes a
//    publisher's message for subscribers of every serializer), except that into JSON a string
//    starting with "\u0000" in Arguments, ArgumentsKw or the payload means binary (WAMP's JSON
//    convention), so from MessagePack/CBOR such a string that is not base64 cannot be read back;
//    what does decode is stable as above;
//  - encode_event (the router's hot path) writes exactly what encode writes for an EVENT.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_support.hpp"
#include "wamp/codec.hpp"

using namespace fox;
using namespace fox::wamp;

namespace {

constexpr Serializer kSerializers[] = {Serializer::kJson, Serializer::kMsgpack, Serializer::kCbor};

std::string name(Serializer s) { return std::string(subprotocol_name(s)); }

bool has_nul_string(const Json& value) {
  switch (value.type()) {
    case Json::value_t::string: {
      const auto& text = value.get_ref<const Json::string_t&>();
      return !text.empty() && text[0] == '\0';
    }
    case Json::value_t::array:
      for (const auto& item : value) {
        if (has_nul_string(item)) return true;
      }
      return false;
    case Json::value_t::object:
      for (const auto& item : value.items()) {
        if (has_nul_string(item.value())) return true;
      }
      return false;
    default: return false;
  }
}

// True if args, kwargs or the payload of `m` hold a string that starts with NUL.
bool nul_strings_in_payload(const Message& m) {
  return std::visit(
      [](const auto& msg) {
        if constexpr (requires { msg.args; msg.kwargs; msg.payload; }) {
          return has_nul_string(msg.args) || has_nul_string(msg.kwargs) ||
                 has_nul_string(msg.payload);
        } else {
          return false;
        }
      },
      m);
}

// `m` was decoded from serializer `s`: its encoding decodes again and encodes to the same bytes.
void check_stable(Serializer s, const Message& m, const std::string& encoded) {
  DecodeResult again = decode(s, encoded);
  FUZZ_CHECK(again.ok(), name(s) + ": own encoding does not decode: " + again.error().reason);
  FUZZ_CHECK(message_type(again.message()) == message_type(m), name(s) + ": type changed");
  const std::string twice = encode(s, again.message());
  FUZZ_CHECK(twice == encoded, name(s) + ": encode(decode(encode(m))) != encode(m)");
}

void check_event_fast_path(const Message& m) {
  const auto* e = std::get_if<Event>(&m);
  if (e == nullptr || !e->payload.is_null()) return;
  for (Serializer s : kSerializers) {
    FUZZ_CHECK(encode_event(s, e->subscription, e->publication, e->details, e->args, e->kwargs) ==
                   encode(s, m),
               name(s) + ": encode_event differs from encode");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const Serializer from = kSerializers[(data[0] & 3) % 3];
  DecodeResult result = decode(from, fuzz::as_view(data + 1, size - 1));
  if (!result.ok()) {
    FUZZ_CHECK(!result.error().reason.empty(), "a DecodeError without a reason");
    return 0;
  }
  const Message& m = result.message();
  for (Serializer to : kSerializers) {
    const std::string encoded = encode(to, m);
    FUZZ_CHECK(!encoded.empty(), name(to) + ": encode gave nothing");
    if (to == from) {
      check_stable(to, m, encoded);
      continue;
    }
    DecodeResult converted = decode(to, encoded);
    if (!converted.ok()) {
      FUZZ_CHECK(to == Serializer::kJson && nul_strings_in_payload(m),
                 name(from) + " -> " + name(to) + ": does not decode: " +
                     converted.error().reason);
      continue;
    }
    check_stable(to, converted.message(), encode(to, converted.message()));
  }
  check_event_fast_path(m);
  return 0;
}
