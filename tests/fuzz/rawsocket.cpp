// libFuzzer target: WAMP RawSocket framing (src/wamp/rawsocket.hpp): the handshake and the
// frame reader over a byte stream, as src/wamp/transports.cpp drives them, and the WAMP decoder
// on every message frame.
//
// Input: [limit][cut seed][stream...]. `limit` sets the router's max_message_size to 2^(limit % 40)
// bytes (the negotiated frame maximum is 2^(9 + length_exponent(that))); the stream (the client's
// bytes: 4 handshake bytes, then frames) is fed in pieces cut by the seed (fuzz_support.hpp).
//
// Properties checked:
//  - the handshake reply starts with the magic byte; an accepted one echoes the serializer;
//  - the frames read from the pieces are exactly those read from the whole stream at once, and
//    so is the end (waiting for more, or the same error);
//  - each frame is the next bytes of the stream (frame_header(type, length) + payload).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "wamp/codec.hpp"
#include "wamp/rawsocket.hpp"

using namespace fox;
using namespace fox::wamp;
namespace rs = fox::wamp::rawsocket;

namespace {

bool supported(int serializer) { return serializer_from_rawsocket_id(serializer).has_value(); }

struct Frame {
  rs::FrameType type;
  std::string payload;
  bool operator==(const Frame&) const = default;
};

struct Outcome {
  bool handshake_done = false;
  bool accepted = false;
  std::vector<Frame> frames;
  bool failed = false;   // the decoder reported an error (the transport aborts)
  std::string error;
};

// What the transport does with the client's bytes, cut by `seed`; the session's decoder reads
// each message frame when `decode_messages`.
Outcome run(std::string_view stream, std::uint8_t seed, std::uint64_t max_message_size,
            bool decode_messages) {
  const std::uint32_t server_max = std::uint32_t{1} << (9 + rs::length_exponent(max_message_size));
  Outcome out;
  unsigned char handshake[4];
  std::size_t handshake_len = 0;
  rs::FrameDecoder decoder(server_max);
  Serializer serializer = Serializer::kJson;
  std::size_t consumed = 4;   // stream offset of the next frame
  fuzz::Chunks chunks(stream, seed);
  std::string_view bytes;
  while (chunks.next(&bytes)) {
    if (!out.handshake_done) {
      while (!bytes.empty() && handshake_len < 4) {
        handshake[handshake_len++] = static_cast<unsigned char>(bytes.front());
        bytes.remove_prefix(1);
      }
      if (handshake_len < 4) continue;
      out.handshake_done = true;
      const rs::Handshake h = rs::accept(handshake, server_max, supported);
      FUZZ_CHECK(h.reply[0] == rs::kMagic, "handshake reply without the magic byte");
      if (!h.ok) {
        FUZZ_CHECK(!h.error.empty(), "a refused handshake without a reason");
        return out;
      }
      FUZZ_CHECK((h.reply[1] & 0x0F) == h.serializer, "reply does not echo the serializer");
      FUZZ_CHECK(h.client_max >= 512 && h.client_max <= (1u << 24), "client maximum out of range");
      out.accepted = true;
      serializer = *serializer_from_rawsocket_id(h.serializer);
    }
    if (bytes.empty()) continue;
    decoder.feed(bytes);
    for (;;) {
      rs::FrameType type;
      std::string_view payload;
      std::string error;
      const auto status = decoder.next(&type, &payload, &error);
      if (status == rs::FrameDecoder::Status::kNeedMore) break;
      if (status == rs::FrameDecoder::Status::kError) {
        FUZZ_CHECK(!error.empty(), "a frame error without a reason");
        out.failed = true;
        out.error = error;
        return out;
      }
      FUZZ_CHECK(payload.size() <= server_max, "a frame over the negotiated maximum");
      const std::string framed =
          rs::frame_header(type, static_cast<std::uint32_t>(payload.size())) + std::string(payload);
      FUZZ_CHECK(stream.substr(consumed, framed.size()) == framed,
                 "frame is not the next bytes of the stream");
      consumed += framed.size();
      if (decode_messages && type == rs::FrameType::kMessage) {
        const DecodeResult r = decode(serializer, payload);
        if (!r.ok()) FUZZ_CHECK(!r.error().reason.empty(), "a DecodeError without a reason");
      }
      out.frames.push_back(Frame{type, std::string(payload)});
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint64_t max_message_size = std::uint64_t{1} << (data[0] % 40);
  const std::string_view stream = fuzz::as_view(data + 2, size - 2);
  const Outcome cut = run(stream, data[1], max_message_size, true);
  if (data[1] == 0) return 0;   // already one piece
  const Outcome whole = run(stream, 0, max_message_size, false);
  FUZZ_CHECK(cut.handshake_done == whole.handshake_done && cut.accepted == whole.accepted,
             "handshake differs between cut and whole stream");
  FUZZ_CHECK(cut.frames == whole.frames, "frames differ between cut and whole stream");
  FUZZ_CHECK(cut.failed == whole.failed && cut.error == whole.error,
             "end differs between cut and whole stream: '" + cut.error + "' vs '" + whole.error +
                 "'");
  return 0;
}
