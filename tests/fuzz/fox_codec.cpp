// libFuzzer target: the FOX codec (src/fox/codec.hpp: StreamDecoder, decode_message,
// encode_message, read_id) and FOX bodies (src/fox/body.hpp).
//
// Input: [limit][cut seed][stream...]. limit & 3 picks max_message_size (16 MiB, 4096, 64, 8
// bytes); the stream (concatenated MessagePack maps, as on the FOX TCP port) is fed in pieces cut
// by the seed (fuzz_support.hpp). The whole stream is also decoded as one WebSocket message.
//
// Properties checked:
//  - the messages (and the final error, if any) read from the pieces are exactly those read from
//    the whole stream at once, and so are the bytes left buffered;
//  - after each feed the decoder holds at most the limit plus that feed (codec.hpp);
//  - every message is a map; encode_message of it decodes again (when it fits the limit) and
//    encodes to the same bytes;
//  - the body of a message (its `data`) that read_body accepts gives bodies (body_of, exact_body,
//    body_of_payload) that read_body accepts too: what the router sends a FOX client it can read.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/payload.hpp"
#include "fox/body.hpp"
#include "fox/codec.hpp"
#include "fuzz_support.hpp"

using namespace fox;
using namespace fox::foxp;

namespace {

struct Outcome {
  std::vector<Json> messages;
  bool failed = false;
  std::string error;
  std::size_t buffered = 0;
};

std::string packed(const Json& value) {
  std::string out;
  encode_message(value, out);
  return out;
}

Outcome run(std::string_view stream, std::uint8_t seed, std::size_t max) {
  StreamDecoder decoder(max);
  Outcome out;
  fuzz::Chunks chunks(stream, seed);
  std::string_view piece;
  while (chunks.next(&piece)) {
    decoder.feed(piece);
    for (;;) {
      Json message;
      std::string error;
      const Next next = decoder.next(&message, &error);
      if (next == Next::kNeedMore) {
        FUZZ_CHECK(decoder.buffered() <= max + piece.size(),
                   "holds " + std::to_string(decoder.buffered()) + " bytes, over the limit plus "
                   "the last feed");
        break;
      }
      if (next == Next::kError) {
        FUZZ_CHECK(!error.empty(), "an error without a reason");
        std::string again;
        FUZZ_CHECK(decoder.next(&message, &again) == Next::kError && again == error,
                   "a final error that changed");
        out.failed = true;
        out.error = error;
        out.buffered = decoder.buffered();
        return out;
      }
      out.messages.push_back(std::move(message));
    }
  }
  out.buffered = decoder.buffered();
  return out;
}

void check_readable(const Json& body, const char* what) {
  Body read;
  std::string error;
  FUZZ_CHECK(read_body(body, &read, &error), std::string(what) + " is not a readable body: " + error);
}

void check_message(const Json& m, std::size_t max) {
  FUZZ_CHECK(m.is_object(), "a message that is not a map");
  const std::string bytes = packed(m);
  FUZZ_CHECK(!bytes.empty(), "encode_message wrote nothing");
  if (bytes.size() <= max) {
    Json again;
    std::string error;
    FUZZ_CHECK(decode_message(bytes, max, &again, &error),
               "encode_message's bytes do not decode: " + error);
    FUZZ_CHECK(packed(again) == bytes, "encode(decode(encode(m))) != encode(m)");
  }
  for (const char* key : {"id", "qid"}) {
    Id id = 0;
    if (auto it = m.find(key); it != m.end() && read_id(*it, &id)) {
      FUZZ_CHECK(id <= kMaxId, "read_id above 2^53");
    }
  }
  const auto data = m.find("data");
  if (data == m.end()) return;
  Body body;
  std::string error;
  if (!read_body(*data, &body, &error)) {
    FUZZ_CHECK(!error.empty(), "read_body refused without a reason");
    return;
  }
  FUZZ_CHECK(body.args.is_null() || body.args.is_array(), "body args neither null nor a list");
  FUZZ_CHECK(body.kwargs.is_null() || body.kwargs.is_object(), "body kwargs neither null nor a map");
  check_readable(body_of(body.args, body.kwargs), "body_of(args, kwargs)");
  check_readable(exact_body(body.args, body.kwargs), "exact_body(args, kwargs)");
  if (body.payload) {
    check_readable(body_of_payload(*body.payload), "body_of_payload(payload)");
    const Json args = args_from_payload(*body.payload);
    FUZZ_CHECK(args.is_null() || args.is_array(), "args_from_payload neither null nor a list");
  } else {
    (void)payload_from_args(body.args);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static constexpr std::size_t kMax[] = {16u * 1024 * 1024, 4096, 64, 8};
  const std::size_t max = kMax[data[0] & 3];
  const std::string_view stream = fuzz::as_view(data + 2, size - 2);

  const Outcome whole = run(stream, 0, max);
  for (const Json& m : whole.messages) check_message(m, max);

  Json frame;
  std::string error;
  if (decode_message(stream, max, &frame, &error)) {
    FUZZ_CHECK(whole.messages.size() == 1 && whole.buffered == 0 && !whole.failed &&
                   packed(frame) == packed(whole.messages[0]),
               "one WebSocket message differs from the same bytes as a stream");
  } else {
    FUZZ_CHECK(!error.empty(), "decode_message refused without a reason");
  }

  if (data[1] == 0) return 0;
  const Outcome cut = run(stream, data[1], max);
  FUZZ_CHECK(cut.messages.size() == whole.messages.size(),
             "cut stream gives " + std::to_string(cut.messages.size()) + " messages, whole " +
                 std::to_string(whole.messages.size()));
  for (std::size_t i = 0; i < cut.messages.size(); ++i) {
    FUZZ_CHECK(packed(cut.messages[i]) == packed(whole.messages[i]),
               "message " + std::to_string(i) + " differs between cut and whole stream");
  }
  FUZZ_CHECK(cut.failed == whole.failed && cut.error == whole.error,
             "end differs between cut and whole stream: '" + cut.error + "' vs '" + whole.error +
                 "'");
  FUZZ_CHECK(cut.buffered == whole.buffered, "bytes left buffered differ");
  return 0;
}
