// libFuzzer target: the MQTT 3.1.1 / 3.1 codec (src/mqtt/codec.hpp): StreamDecoder over a byte
// stream in pieces, decode_packet, encode, encode_publish.
//
// Input: [setup][cut seed][stream...]. setup bit 0: who sent the stream (0 a client, as the
// broker decodes; 1 the server, as a client tool decodes); bits 1-2: the protocol level set before
// the first byte (1: 3 = MQTT 3.1, 2: 4 = MQTT 3.1.1, else none: a broker learns it from CONNECT);
// bits 3-4: the decoder's max packet size (16 MiB, 64 KiB, 256, 8 bytes). The stream is fed in
// pieces cut by the seed (fuzz_support.hpp).
//
// Properties checked:
//  - the packets (and the final error, if any) read from the pieces are exactly those read from
//    the whole stream at once, and so are the bytes left buffered;
//  - each packet is what decode_packet makes of its own bytes (at the connection's level then);
//  - encode(packet) gives back its body byte for byte, and its first byte (but the DUP bit MQTT
//    3.1 clients may set on PUBREL, SUBSCRIBE, UNSUBSCRIBE, which the codec does not keep);
//  - encode_publish writes what encode writes for the same PUBLISH.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "fuzz_support.hpp"
#include "mqtt/codec.hpp"

using namespace fox;
using namespace fox::mqtt;

namespace {

struct Setup {
  Direction from;
  std::uint8_t level;
  std::size_t max_packet_size;
};

Setup setup_of(std::uint8_t b) {
  static constexpr std::size_t kMax[] = {kDefaultMaxPacketSize, 64 * 1024, 256, 8};
  const unsigned level = (b >> 1) & 3;
  return Setup{(b & 1) ? Direction::kFromServer : Direction::kFromClient,
               static_cast<std::uint8_t>(level == 1   ? kProtocolLevel31
                                         : level == 2 ? kProtocolLevel311
                                                      : 0),
               kMax[(b >> 3) & 3]};
}

struct Step {
  DecodeResult result;
  std::uint8_t level_before;   // the decoder's protocol level when it read this packet
};

struct Outcome {
  std::vector<Step> steps;     // packets, then the error if there was one
  std::size_t buffered = 0;
};

bool same(const DecodeResult& a, const DecodeResult& b) {
  if (a.index() != b.index()) return false;
  if (const auto* pa = std::get_if<Packet>(&a)) return *pa == std::get<Packet>(b);
  if (const auto* ea = std::get_if<DecodeError>(&a)) {
    const auto& eb = std::get<DecodeError>(b);
    return ea->kind == eb.kind && ea->reason == eb.reason;
  }
  return true;
}

Outcome run(std::string_view stream, std::uint8_t seed, const Setup& setup) {
  StreamDecoder decoder(setup.max_packet_size, setup.from);
  if (setup.level != 0) decoder.set_protocol_level(setup.level);
  Outcome out;
  fuzz::Chunks chunks(stream, seed);
  std::string_view piece;
  while (chunks.next(&piece)) {
    decoder.feed(piece);
    for (;;) {
      const std::uint8_t level = decoder.protocol_level();
      DecodeResult r = decoder.next();
      if (std::holds_alternative<NeedMore>(r)) break;
      const bool error = std::holds_alternative<DecodeError>(r);
      out.steps.push_back(Step{std::move(r), level});
      if (error) {
        FUZZ_CHECK(decoder.failed(), "an error the decoder does not keep");
        FUZZ_CHECK(same(decoder.next(), out.steps.back().result), "a final error that changed");
        out.buffered = decoder.buffered();
        return out;
      }
    }
  }
  out.buffered = decoder.buffered();
  return out;
}

// The fixed header at the start of `bytes`: first byte, Remaining Length and header size (an
// independent reading of §2.2.3, for the checks).
bool split_packet(std::string_view bytes, std::uint8_t* first, std::string_view* body) {
  if (bytes.size() < 2) return false;
  std::size_t length = 0, multiplier = 1, i = 1;
  for (;; ++i) {
    if (i >= bytes.size() || i > 4) return false;
    const auto b = static_cast<std::uint8_t>(bytes[i]);
    length += (b & 0x7F) * multiplier;
    multiplier *= 128;
    if (!(b & 0x80)) break;
  }
  if (bytes.size() - (i + 1) < length) return false;
  *first = static_cast<std::uint8_t>(bytes[0]);
  *body = bytes.substr(i + 1, length);
  return true;
}

void check_packets(std::string_view stream, const Outcome& whole, const Setup& setup) {
  std::size_t pos = 0;
  for (const Step& step : whole.steps) {
    const auto* packet = std::get_if<Packet>(&step.result);
    if (packet == nullptr) break;
    std::uint8_t first = 0;
    std::string_view body;
    FUZZ_CHECK(split_packet(stream.substr(pos), &first, &body), "a packet not in the stream");
    pos = static_cast<std::size_t>(body.data() + body.size() - stream.data());
    FUZZ_CHECK(same(decode_packet(first, body, setup.from, step.level_before), step.result),
               "decode_packet differs from the stream decoder");

    const std::string encoded = encode(*packet);
    FUZZ_CHECK(!encoded.empty(), "a decoded packet does not encode");
    std::uint8_t encoded_first = 0;
    std::string_view encoded_body;
    FUZZ_CHECK(split_packet(encoded, &encoded_first, &encoded_body) &&
                   encoded_body.data() + encoded_body.size() == encoded.data() + encoded.size(),
               "encode wrote a broken fixed header");
    FUZZ_CHECK(encoded_body == body, "encode(decode(body)) != body");
    std::uint8_t expected_first = first;
    if (std::holds_alternative<Pubrel>(*packet) || std::holds_alternative<Subscribe>(*packet) ||
        std::holds_alternative<Unsubscribe>(*packet)) {
      expected_first &= static_cast<std::uint8_t>(~0x08);
    }
    FUZZ_CHECK(encoded_first == expected_first, "encode wrote another first byte");

    if (const auto* p = std::get_if<Publish>(packet)) {
      std::string fast;
      FUZZ_CHECK(encode_publish(p->topic, p->payload, p->qos, p->retain, p->dup, p->packet_id, fast),
                 "encode_publish refused a decoded PUBLISH");
      FUZZ_CHECK(fast == encoded, "encode_publish differs from encode");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const Setup setup = setup_of(data[0]);
  const std::string_view stream = fuzz::as_view(data + 2, size - 2);
  const Outcome whole = run(stream, 0, setup);
  check_packets(stream, whole, setup);
  if (data[1] == 0) return 0;
  const Outcome cut = run(stream, data[1], setup);
  FUZZ_CHECK(cut.steps.size() == whole.steps.size(),
             "cut stream gives " + std::to_string(cut.steps.size()) + " results, whole " +
                 std::to_string(whole.steps.size()));
  for (std::size_t i = 0; i < cut.steps.size(); ++i) {
    FUZZ_CHECK(same(cut.steps[i].result, whole.steps[i].result),
               "result " + std::to_string(i) + " differs between cut and whole stream");
  }
  FUZZ_CHECK(cut.buffered == whole.buffered, "bytes left buffered differ");
  return 0;
}
