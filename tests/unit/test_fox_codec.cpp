// FOX codec: cutting a MessagePack stream into maps, every early refusal, ids as FOX clients
// write them, and random input that must never crash.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fox/codec.hpp"

using namespace fox;
using namespace fox::foxp;

namespace {

constexpr std::size_t kLimit = 16 * 1024 * 1024;

std::string raw(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::string pack(const Json& value) {
  std::string out;
  encode_message(value, out);
  return out;
}

// Feeds nothing; takes every message the decoder has, and says how it stopped.
Next drain(StreamDecoder& decoder, std::vector<Json>& messages, std::string* error) {
  for (;;) {
    Json message;
    const Next next = decoder.next(&message, error);
    if (next != Next::kMessage) return next;
    messages.push_back(std::move(message));
  }
}

std::string reason_of(std::string_view bytes, std::size_t limit = kLimit) {
  StreamDecoder decoder(limit);
  decoder.feed(bytes);
  std::vector<Json> messages;
  std::string error;
  if (drain(decoder, messages, &error) != Next::kError) return "no error";
  return error;
}

// Maps that use every MessagePack type: fix and sized forms, ints of every width, floats,
// strings and binaries past one and two length bytes, exts, nesting, empty containers.
std::vector<Json> sample_messages() {
  Json kinds = Json::object();
  kinds["nil"] = nullptr;
  kinds["yes"] = true;
  kinds["no"] = false;
  kinds["ints"] = {0, 127, 128, 255, 256, 65535, 65536, 4294967295ULL, 4294967296ULL,
                   std::numeric_limits<std::uint64_t>::max(), -1, -32, -33, -128, -129,
                   -32768, -32769, -2147483648LL, -2147483649LL,
                   std::numeric_limits<std::int64_t>::min()};
  kinds["float"] = 1.5;
  kinds["str8"] = std::string(40, 's');
  kinds["str16"] = std::string(300, 't');
  kinds["bin8"] = Json::binary({1, 2, 3});
  kinds["bin16"] = Json::binary(std::vector<std::uint8_t>(300, 7));
  kinds["fixext"] = Json::binary({9}, 5);
  kinds["ext8"] = Json::binary({1, 2, 3}, 2);
  kinds["empty"] = {{"a", Json::array()}, {"o", Json::object()}};
  Json array16 = Json::array();
  Json map16 = Json::object();
  for (int i = 0; i < 20; ++i) {
    array16.push_back(i);
    map16["k" + std::to_string(i)] = {{"deep", {i, {{"deeper", "x"}}}}};
  }
  kinds["array16"] = array16;
  kinds["map16"] = map16;
  return {
      {{"ft", "PUSH"}, {"id", 3}, {"uri", {"a", "b"}}, {"data", {{"kv", 1}}}},
      Json::object(),
      kinds,
      {{"ft", "ACK"}, {"id", 4}},
  };
}

std::string sample_stream() {
  std::string stream;
  for (const Json& m : sample_messages()) stream += pack(m);
  return stream;
}

// A map of exactly `size` bytes: {"p": <str32 of the rest>}.
std::string message_of_size(std::size_t size) {
  const std::size_t text = size - 8;   // 0x81, 0xa1 'p', 0xdb and 4 length bytes
  std::string out = raw({0x81, 0xa1, 'p', 0xdb});
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(text >> shift));
  return out + std::string(text, 'x');
}

}  // namespace

TEST_CASE("several messages in one feed come out one by one, in order") {
  const std::vector<Json> sent = sample_messages();
  StreamDecoder decoder(kLimit);
  decoder.feed(sample_stream());
  std::vector<Json> got;
  std::string error;
  CHECK(drain(decoder, got, &error) == Next::kNeedMore);
  CHECK(got == sent);
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("a stream split at any byte boundary gives the same messages") {
  const std::vector<Json> sent = sample_messages();
  const std::string stream = sample_stream();
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    StreamDecoder decoder(kLimit);
    std::vector<Json> got;
    std::string error;
    decoder.feed(std::string_view(stream).substr(0, cut));
    REQUIRE(drain(decoder, got, &error) == Next::kNeedMore);
    decoder.feed(std::string_view(stream).substr(cut));
    REQUIRE(drain(decoder, got, &error) == Next::kNeedMore);
    REQUIRE_MESSAGE(got == sent, "cut at " << cut);
  }
}

TEST_CASE("a stream fed one byte at a time gives the same messages") {
  const std::string stream = sample_stream();
  StreamDecoder decoder(kLimit);
  std::vector<Json> got;
  std::string error;
  for (char byte : stream) {
    decoder.feed(std::string_view(&byte, 1));
    REQUIRE(drain(decoder, got, &error) == Next::kNeedMore);
  }
  CHECK(got == sample_messages());
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("an id is a non-negative integer up to 2^53, or a float64 holding one") {
  Id id = 0;
  CHECK((read_id(Json(7), &id) && id == 7));
  CHECK((read_id(Json(0), &id) && id == 0));
  CHECK((read_id(Json(kMaxId), &id) && id == kMaxId));
  CHECK((read_id(Json(std::int64_t{42}), &id) && id == 42));
  // msgpack-lite writes every integer beyond 32 bits as float64.
  CHECK((read_id(Json(3.0), &id) && id == 3));
  CHECK((read_id(Json(4294967296.0), &id) && id == 4294967296ULL));
  CHECK((read_id(Json(9007199254740992.0), &id) && id == kMaxId));
  CHECK((read_id(Json(-0.0), &id) && id == 0));

  id = 99;
  CHECK_FALSE(read_id(Json(kMaxId + 1), &id));
  CHECK_FALSE(read_id(Json(-1), &id));
  CHECK_FALSE(read_id(Json(std::numeric_limits<std::int64_t>::min()), &id));
  CHECK_FALSE(read_id(Json(1.5), &id));
  CHECK_FALSE(read_id(Json(-1.0), &id));
  CHECK_FALSE(read_id(Json(9007199254740994.0), &id));
  CHECK_FALSE(read_id(Json(1e300), &id));
  CHECK_FALSE(read_id(Json(std::nan("")), &id));
  CHECK_FALSE(read_id(Json(std::numeric_limits<double>::infinity()), &id));
  CHECK_FALSE(read_id(Json(true), &id));
  CHECK_FALSE(read_id(Json("3"), &id));
  CHECK_FALSE(read_id(Json(nullptr), &id));
  CHECK_FALSE(read_id(Json::array({3}), &id));
  CHECK(id == 99);   // untouched when refused
}

TEST_CASE("a float64 id written by the reference client decodes and reads as an id") {
  // {"id": 2^40 as float64}
  std::string wire = raw({0x81, 0xa2, 'i', 'd', 0xcb, 0x42, 0x70, 0, 0, 0, 0, 0, 0});
  Json message;
  std::string error;
  REQUIRE(decode_message(wire, kLimit, &message, &error));
  CHECK(message["id"].is_number_float());
  Id id = 0;
  CHECK((read_id(message["id"], &id) && id == (Id{1} << 40)));
}

TEST_CASE("integers beyond 32 bits round-trip with their value and signedness") {
  const Json sent = {{"id", Id{1} << 40},
                     {"max", kMaxId},
                     {"u64", std::numeric_limits<std::uint64_t>::max()},
                     {"neg", -(std::int64_t{1} << 40)},
                     {"i64", std::numeric_limits<std::int64_t>::min()}};
  Json got;
  std::string error;
  REQUIRE(decode_message(pack(sent), kLimit, &got, &error));
  CHECK(got == sent);
  CHECK(got["id"].is_number_unsigned());
  CHECK(got["id"].get<std::uint64_t>() == (std::uint64_t{1} << 40));
  CHECK(got["u64"].get<std::uint64_t>() == std::numeric_limits<std::uint64_t>::max());
  CHECK(got["neg"].get<std::int64_t>() == -(std::int64_t{1} << 40));
  CHECK(got["i64"].get<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
}

TEST_CASE("binary values round-trip as binary, exts with their subtype") {
  const Json sent = {{"bin", Json::binary({0, 1, 0xff})},
                     {"ext", Json::binary({1, 2, 3, 4}, 7)},
                     {"big", Json::binary(std::vector<std::uint8_t>(70000, 0xab))}};
  Json got;
  std::string error;
  REQUIRE(decode_message(pack(sent), kLimit, &got, &error));
  CHECK(got == sent);
  REQUIRE(got["bin"].is_binary());
  const std::vector<std::uint8_t> bin_bytes = got["bin"].get_binary();
  CHECK(bin_bytes == std::vector<std::uint8_t>{0, 1, 0xff});
  CHECK_FALSE(got["bin"].get_binary().has_subtype());
  REQUIRE(got["ext"].is_binary());
  CHECK(got["ext"].get_binary().subtype() == 7);
  CHECK(got["big"].get_binary().size() == 70000);
}

TEST_CASE("a first value that is not a map is refused at its first byte") {
  CHECK(reason_of(raw({0x91})) == "a message is not a map");            // fixarray
  CHECK(reason_of(raw({0xdc})) == "a message is not a map");            // array16
  CHECK(reason_of(raw({0xa1})) == "a message is not a map");            // fixstr
  CHECK(reason_of(raw({0xd9})) == "a message is not a map");            // str8
  CHECK(reason_of(raw({0x05})) == "a message is not a map");            // positive fixint
  CHECK(reason_of(raw({0xff})) == "a message is not a map");            // negative fixint
  CHECK(reason_of(raw({0xcb})) == "a message is not a map");            // float64
  CHECK(reason_of(raw({0xc0})) == "a message is not a map");            // nil
  CHECK(reason_of(raw({0xc4})) == "a message is not a map");            // bin8
  // ... and so is a second message that is not one, after a good first.
  CHECK(reason_of(pack({{"a", 1}}) + raw({0x91, 0x01})) == "a message is not a map");
}

TEST_CASE("garbage is refused, not waited for") {
  CHECK(reason_of("hello world") == "a message is not a map");
  CHECK(reason_of("GET / HTTP/1.1\r\n\r\n") == "a message is not a map");
  CHECK(reason_of(raw({0x00, 0x00, 0x00, 0x10})) == "a message is not a map");
}

TEST_CASE("the reserved byte 0xc1 is refused wherever it appears") {
  CHECK(reason_of(raw({0xc1})) == "reserved byte 0xc1");
  CHECK(reason_of(raw({0x81, 0xa1, 'a', 0xc1})) == "reserved byte 0xc1");
  CHECK(reason_of(raw({0x81, 0xa1, 'a', 0x92, 0x01, 0xc1})) == "reserved byte 0xc1");
}

TEST_CASE("a map key that is not a string is refused") {
  CHECK(reason_of(raw({0x81, 0x01, 0x02})) ==
        "invalid MessagePack (a map key that is not a string)");
}

TEST_CASE("a str32 header declaring 2^32-1 bytes fails at once, with nothing buffered") {
  StreamDecoder decoder(kLimit);
  decoder.feed(raw({0x81, 0xa1, 'a', 0xdb, 0xff, 0xff, 0xff, 0xff}));
  Json message;
  std::string error;
  CHECK(decoder.next(&message, &error) == Next::kError);
  CHECK(error == "a message over 16777216 bytes");
  CHECK(decoder.buffered() < 16);
  // bin32 and ext32 too, even with a small limit.
  CHECK(reason_of(raw({0x81, 0xa1, 'a', 0xc6, 0, 0, 1, 0}), 200) == "a message over 200 bytes");
  CHECK(reason_of(raw({0x81, 0xa1, 'a', 0xc9, 0, 0, 1, 0, 1}), 200) == "a message over 200 bytes");
}

TEST_CASE("a huge container count in a small message is refused without allocating") {
  // array32 of 2^32-1 items: every item needs a byte, so the limit is known to be passed.
  StreamDecoder decoder(kLimit);
  decoder.feed(raw({0x81, 0xa1, 'a', 0xdd, 0xff, 0xff, 0xff, 0xff}));
  Json message;
  std::string error;
  CHECK(decoder.next(&message, &error) == Next::kError);
  CHECK(error == "a message over 16777216 bytes");
  CHECK(decoder.buffered() < 16);
  CHECK(reason_of(raw({0xdf, 0x80, 0, 0, 0})) == "a message over 16777216 bytes");   // map32

  // Within the limit, it waits for the items with only the bytes seen held.
  StreamDecoder waiting(1024 * 1024);
  waiting.feed(raw({0x81, 0xa1, 'a', 0xdc, 0xff, 0xff, 0x01, 0x02}));
  CHECK(waiting.next(&message, &error) == Next::kNeedMore);
  CHECK(waiting.buffered() == 8);
}

TEST_CASE("nesting 10 000 arrays deep inside a map is refused, 100 levels pass") {
  std::string deep = raw({0x81, 0xa1, 'a'}) + std::string(10000, '\x91') + raw({0xc0});
  CHECK(reason_of(deep) == "nesting deeper than 100");
  // The map is level 1: 99 arrays inside it make 100 levels, as parse_json allows.
  std::string ok = raw({0x81, 0xa1, 'a'}) + std::string(kMaxJsonNesting - 1, '\x91') + raw({0xc0});
  Json message;
  std::string error;
  CHECK(decode_message(ok, kLimit, &message, &error));
  std::string over = raw({0x81, 0xa1, 'a'}) + std::string(kMaxJsonNesting, '\x91') + raw({0xc0});
  CHECK(reason_of(over) == "nesting deeper than 100");
  // Empty containers count as levels too.
  std::string empty = raw({0x81, 0xa1, 'a'}) + std::string(kMaxJsonNesting - 1, '\x91') + raw({0x90});
  CHECK(reason_of(empty) == "nesting deeper than 100");
}

TEST_CASE("a message exactly at the limit passes, one byte over fails") {
  const std::size_t limit = 1000;
  const std::string exact = message_of_size(limit);
  REQUIRE(exact.size() == limit);
  StreamDecoder decoder(limit);
  decoder.feed(exact);
  Json message;
  std::string error;
  CHECK(decoder.next(&message, &error) == Next::kMessage);
  CHECK(message["p"].get_ref<const std::string&>().size() == limit - 8);
  CHECK(decode_message(exact, limit, &message, &error));

  CHECK(reason_of(message_of_size(limit + 1), limit) == "a message over 1000 bytes");
  CHECK_FALSE(decode_message(message_of_size(limit + 1), limit, &message, &error));
  CHECK(error == "a message over 1000 bytes");

  // Small values count byte by byte: 1 + 2 + ... up to the limit.
  Json many = Json::object();
  for (int i = 0; i < 300; ++i) many["k" + std::to_string(i)] = i;
  const std::string wire = pack(many);
  CHECK(reason_of(wire, wire.size()) == "no error");
  CHECK(reason_of(wire, wire.size() - 1) == "a message over " + std::to_string(wire.size() - 1) +
                                                 " bytes");
}

TEST_CASE("decode_message takes exactly one map") {
  Json message;
  std::string error;
  const std::string one = pack({{"ft", "PING"}});
  CHECK(decode_message(one, kLimit, &message, &error));
  CHECK(message == Json{{"ft", "PING"}});

  CHECK_FALSE(decode_message(one + raw({0x01}), kLimit, &message, &error));
  CHECK(error == "bytes after the message");
  CHECK_FALSE(decode_message(one + one, kLimit, &message, &error));
  CHECK(error == "bytes after the message");
  CHECK_FALSE(decode_message(one.substr(0, one.size() - 1), kLimit, &message, &error));
  CHECK(error == "a message cut short");
  CHECK_FALSE(decode_message("", kLimit, &message, &error));
  CHECK(error == "an empty message");
  CHECK_FALSE(decode_message(raw({0x91, 0x01}), kLimit, &message, &error));
  CHECK(error == "a message is not a map");
}

TEST_CASE("after an error the decoder stays failed and keeps nothing") {
  StreamDecoder decoder(kLimit);
  decoder.feed(raw({0x91}));
  Json message;
  std::string error;
  CHECK(decoder.next(&message, &error) == Next::kError);
  decoder.feed(pack({{"a", 1}}));
  error.clear();
  CHECK(decoder.next(&message, &error) == Next::kError);
  CHECK(error == "a message is not a map");
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("consumed messages are dropped from the buffer") {
  const std::string one = pack({{"ft", "PUSH"}, {"data", std::string(100, 'd')}});
  StreamDecoder decoder(kLimit);
  Json message;
  std::string error;
  for (int i = 0; i < 1000; ++i) {
    // Each feed carries the end of one message and the start of the next.
    decoder.feed(std::string_view(one).substr(i == 0 ? 0 : 10));
    decoder.feed(std::string_view(one).substr(0, 10));
    REQUIRE(decoder.next(&message, &error) == Next::kMessage);
    REQUIRE(decoder.next(&message, &error) == Next::kNeedMore);
    REQUIRE(decoder.buffered() == 10);
  }
}

TEST_CASE("a 4 MiB message in 4 KiB pieces is found once its last piece arrives") {
  Json big = Json::object();
  Json items = Json::array();
  for (int i = 0; i < 200000; ++i) items.push_back({{"n", i}, {"s", "abcdef"}});
  big["items"] = std::move(items);
  big["blob"] = Json::binary(std::vector<std::uint8_t>(2 * 1024 * 1024, 1));
  const std::string wire = pack(big);
  REQUIRE(wire.size() > 4 * 1024 * 1024);

  StreamDecoder decoder(kLimit);
  Json message;
  std::string error;
  const std::size_t piece = 4096;
  for (std::size_t at = 0; at < wire.size(); at += piece) {
    decoder.feed(std::string_view(wire).substr(at, piece));
    const Next next = decoder.next(&message, &error);
    if (at + piece < wire.size()) {
      REQUIRE(next == Next::kNeedMore);
    } else {
      REQUIRE(next == Next::kMessage);
    }
  }
  CHECK(message["items"].size() == 200000);
  CHECK(message["items"][199999]["n"] == 199999);
  CHECK(message["blob"].get_binary().size() == 2 * 1024 * 1024);
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("random bytes never crash the decoder") {
  std::mt19937 random(20240601);
  for (int round = 0; round < 3000; ++round) {
    std::string bytes(random() % 64, '\0');
    for (char& b : bytes) b = static_cast<char>(random());
    if (round % 2 == 0 && !bytes.empty()) bytes[0] = static_cast<char>(0x80 | (random() % 16));
    const std::size_t limit = 1 + random() % 128;
    StreamDecoder decoder(limit);
    std::vector<Json> got;
    std::string error;
    for (std::size_t at = 0; at < bytes.size();) {
      const std::size_t n = 1 + random() % 8;
      decoder.feed(std::string_view(bytes).substr(at, n));
      at += n;
      if (drain(decoder, got, &error) == Next::kError) break;
      REQUIRE(decoder.buffered() <= limit);
    }
    for (const Json& m : got) CHECK(m.is_object());
    Json message;
    if (decode_message(bytes, limit, &message, &error)) CHECK(message.is_object());
  }
}

TEST_CASE("random mutations of valid messages never crash the decoder") {
  std::mt19937 random(7);
  const std::string stream = sample_stream();
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = stream;
    const int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = random() % bytes.size();
      switch (random() % 4) {
        case 0: bytes[at] = static_cast<char>(random()); break;
        case 1: bytes[at] = static_cast<char>(bytes[at] ^ (1 << (random() % 8))); break;
        case 2: bytes.erase(at, 1 + random() % 4); break;
        default: bytes.insert(at, 1, static_cast<char>(random())); break;
      }
      if (bytes.empty()) bytes = stream;
    }
    StreamDecoder decoder(4096);
    std::vector<Json> got;
    std::string error;
    for (std::size_t at = 0; at < bytes.size();) {
      const std::size_t n = 1 + random() % 300;
      decoder.feed(std::string_view(bytes).substr(at, n));
      at += n;
      if (drain(decoder, got, &error) == Next::kError) {
        CHECK_FALSE(error.empty());
        break;
      }
    }
    for (const Json& m : got) {
      CHECK(m.is_object());
      std::string again;
      encode_message(m, again);   // whatever was accepted can be sent on
      CHECK_FALSE(again.empty());
    }
    Json message;
    decode_message(bytes, 4096, &message, &error);
  }
}
