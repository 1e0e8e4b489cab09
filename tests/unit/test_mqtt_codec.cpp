// MQTT 3.1.1 / 3.1 codec: packet round trips, stream framing, and every decode-time rule.
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "mqtt/codec.hpp"
#include "mqtt/topic.hpp"
#include "mqtt/utf8.hpp"

using namespace fox::mqtt;

namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::string u16(unsigned v) { return bytes({static_cast<int>(v >> 8), static_cast<int>(v & 0xFF)}); }
std::string str(std::string_view s) { return u16(static_cast<unsigned>(s.size())) + std::string(s); }

std::string remaining_length(std::size_t n) {
  std::string out;
  do {
    int b = static_cast<int>(n % 128);
    n /= 128;
    if (n > 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n > 0);
  return out;
}

// A packet with the given first byte around `body`.
std::string frame(int first_byte, const std::string& body) {
  return bytes({first_byte}) + remaining_length(body.size()) + body;
}

// CONNECT bytes with explicit fields, so tests can break any of them.
std::string connect_bytes(std::string_view name, int level, int flags,
                          std::initializer_list<std::string_view> payload_fields) {
  std::string body = str(name) + bytes({level, flags}) + u16(60);
  for (auto field : payload_fields) body += str(field);
  return frame(0x10, body);
}

DecodeResult decode_one(const std::string& wire, Direction from = Direction::kFromClient) {
  StreamDecoder decoder(kDefaultMaxPacketSize, from);
  decoder.feed(wire);
  return decoder.next();
}

bool is_error(const DecodeResult& r, ErrorKind kind) {
  const auto* e = std::get_if<DecodeError>(&r);
  return e != nullptr && e->kind == kind;
}
bool is_malformed(const DecodeResult& r) { return is_error(r, ErrorKind::kMalformed); }
bool is_violation(const DecodeResult& r) { return is_error(r, ErrorKind::kProtocolViolation); }

template <typename T>
T packet_of(const DecodeResult& r) {
  const auto* p = std::get_if<Packet>(&r);
  REQUIRE_MESSAGE(p != nullptr, (std::holds_alternative<DecodeError>(r)
                                     ? std::get<DecodeError>(r).reason
                                     : std::string("need more")));
  REQUIRE(std::holds_alternative<T>(*p));
  return std::get<T>(*p);
}

// Encodes, decodes with a decoder of the right direction, and checks nothing is left over.
void check_round_trip(const Packet& packet, Direction from) {
  std::string wire = encode(packet);
  REQUIRE_FALSE(wire.empty());
  StreamDecoder decoder(kDefaultMaxPacketSize, from);
  decoder.feed(wire);
  DecodeResult r = decoder.next();
  const auto* decoded = std::get_if<Packet>(&r);
  REQUIRE_MESSAGE(decoded != nullptr, (std::holds_alternative<DecodeError>(r)
                                           ? std::get<DecodeError>(r).reason
                                           : std::string("need more")));
  CHECK(*decoded == packet);
  CHECK(std::holds_alternative<NeedMore>(decoder.next()));
  CHECK(decoder.buffered() == 0);
}

Publish sample_publish(std::uint16_t id) {
  Publish p;
  p.topic = "sensors/" + std::to_string(id);
  p.payload = std::string("\x00\x01payload", 9) + std::to_string(id);
  p.qos = static_cast<std::uint8_t>(id % 3);
  p.packet_id = p.qos > 0 ? id : 0;
  p.retain = id % 2 == 0;
  p.dup = p.qos > 0 && id % 5 == 0;
  return p;
}

}  // namespace

// ---- round trips ----

TEST_CASE("every packet a client may send round-trips through encode and the broker decoder") {
  Connect full;
  full.client_id = "sensor-1";
  full.clean_session = false;
  full.keep_alive = 30;
  full.will = Will{"status/sensor-1", std::string("gone\0!", 6), 1, true};
  full.username = "joe@realm1";
  full.password = std::string("se\xffret", 6);
  check_round_trip(full, Direction::kFromClient);
  check_round_trip(Connect{}, Direction::kFromClient);
  check_round_trip(Publish{"a/b", "hello", 0, false, false, 0}, Direction::kFromClient);
  check_round_trip(Publish{"a/b", "", 1, true, true, 7}, Direction::kFromClient);
  check_round_trip(Publish{"a/b", std::string(300, 'x'), 2, false, false, 65535}, Direction::kFromClient);
  check_round_trip(Puback{1}, Direction::kFromClient);
  check_round_trip(Pubrec{2}, Direction::kFromClient);
  check_round_trip(Pubrel{3}, Direction::kFromClient);
  check_round_trip(Pubcomp{4}, Direction::kFromClient);
  check_round_trip(Subscribe{5, {{"a/+/c", 0}, {"#", 1}, {"x/y", 2}}}, Direction::kFromClient);
  check_round_trip(Unsubscribe{6, {"a/+/c", "#"}}, Direction::kFromClient);
  check_round_trip(Pingreq{}, Direction::kFromClient);
  check_round_trip(Disconnect{}, Direction::kFromClient);
}

TEST_CASE("every packet a broker may send round-trips through encode and the client decoder") {
  check_round_trip(Connack{false, kConnackAccepted}, Direction::kFromServer);
  check_round_trip(Connack{true, kConnackAccepted}, Direction::kFromServer);
  check_round_trip(Connack{false, kConnackNotAuthorized}, Direction::kFromServer);
  check_round_trip(Publish{"a/b", "{\"x\":1}", 1, false, false, 9}, Direction::kFromServer);
  check_round_trip(Puback{1}, Direction::kFromServer);
  check_round_trip(Pubrec{2}, Direction::kFromServer);
  check_round_trip(Pubrel{3}, Direction::kFromServer);
  check_round_trip(Pubcomp{4}, Direction::kFromServer);
  check_round_trip(Suback{5, {0, 1, 2, kSubackFailure}}, Direction::kFromServer);
  check_round_trip(Unsuback{6}, Direction::kFromServer);
  check_round_trip(Pingresp{}, Direction::kFromServer);
}

TEST_CASE("an MQTT 3.1 CONNECT uses protocol name MQIsdp and round-trips at level 3") {
  Connect c;
  c.protocol_level = kProtocolLevel31;
  c.client_id = "old-client";
  std::string wire = encode(c);
  CHECK(wire.substr(2, 8) == str("MQIsdp"));
  CHECK(static_cast<int>(wire[10]) == 3);
  check_round_trip(c, Direction::kFromClient);
}

TEST_CASE("the wire bytes of a PUBLISH follow the spec layout") {
  std::string out;
  REQUIRE(encode_publish("a/b", "hi", 1, true, false, 0x0102, out));
  CHECK(out == bytes({0x33, 9, 0, 3, 'a', '/', 'b', 1, 2, 'h', 'i'}));
  CHECK(encode(Pubrel{0x0A0B}) == bytes({0x62, 2, 0x0A, 0x0B}));
  CHECK(encode(Subscribe{1, {{"t", 1}}}) == bytes({0x82, 6, 0, 1, 0, 1, 't', 1}));
  CHECK(encode(Unsubscribe{1, {"t"}}) == bytes({0xA2, 5, 0, 1, 0, 1, 't'}));
  CHECK(encode(Pingreq{}) == bytes({0xC0, 0}));
  CHECK(encode(Disconnect{}) == bytes({0xE0, 0}));
}

TEST_CASE("encode_publish appends to the buffer and matches encode of a Publish") {
  std::string out = "prefix";
  REQUIRE(encode_publish("t/1", "body", 2, false, true, 42, out));
  REQUIRE(encode_publish("t/2", "", 0, true, false, 0, out));
  CHECK(out == "prefix" + encode(Publish{"t/1", "body", 2, false, true, 42}) +
                   encode(Publish{"t/2", "", 0, true, false, 0}));
}

TEST_CASE("encode refuses a string longer than 65535 bytes and a QoS above 2") {
  std::string long_topic(65536, 'a');
  CHECK(encode(Publish{long_topic, "", 0, false, false, 0}).empty());
  CHECK(encode(Subscribe{1, {{"a", 3}}}).empty());
  Connect c;
  c.username = std::string(70000, 'u');
  CHECK(encode(c).empty());
  std::string out = "keep";
  CHECK_FALSE(encode_publish(long_topic, "", 0, false, false, 0, out));
  CHECK_FALSE(encode_publish("a", "", 3, false, false, 1, out));
  CHECK(out == "keep");
  CHECK_FALSE(encode_to(Publish{"a", "", 3, false, false, 1}, out));
  CHECK(out == "keep");
}

// ---- Remaining Length ----

TEST_CASE("remaining length boundaries encode in 1 to 4 bytes and decode back") {
  CHECK(encode(Pingreq{}) == bytes({0xC0, 0x00}));  // length 0
  struct Case {
    std::size_t length;
    std::string encoded;
  };
  const std::vector<Case> cases = {
      {127, bytes({0x7F})},
      {128, bytes({0x80, 0x01})},
      {16'383, bytes({0xFF, 0x7F})},
      {16'384, bytes({0x80, 0x80, 0x01})},
      {2'097'151, bytes({0xFF, 0xFF, 0x7F})},
      {2'097'152, bytes({0x80, 0x80, 0x80, 0x01})},
  };
  for (const auto& c : cases) {
    CAPTURE(c.length);
    std::string payload(c.length - 3, 'p');  // topic "t" takes 3 bytes, QoS 0 has no packet id
    std::string out;
    REQUIRE(encode_publish("t", payload, 0, false, false, 0, out));
    CHECK(out.substr(1, c.encoded.size()) == c.encoded);
    CHECK(out.size() == 1 + c.encoded.size() + c.length);
    auto p = packet_of<Publish>(decode_one(out));
    CHECK(p.payload.size() == payload.size());
  }
}

TEST_CASE("the largest remaining length 268435455 is accepted up to the decoder's maximum") {
  StreamDecoder decoder(kMaxRemainingLength);
  decoder.feed(bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F}) + str("t"));
  CHECK(std::holds_alternative<NeedMore>(decoder.next()));
  CHECK(decoder.buffered() == 8);  // only what arrived, nothing reserved for the body
}

TEST_CASE("a remaining length of five bytes is malformed") {
  StreamDecoder decoder;
  decoder.feed(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF}));
  CHECK(is_malformed(decoder.next()));
  CHECK(is_malformed(decode_one(bytes({0x30, 0x80, 0x80, 0x80, 0x80, 0x01}))));
}

TEST_CASE("a packet above the maximum is reported too_large before its body arrives") {
  StreamDecoder decoder(16u * 1024 * 1024);
  decoder.feed(bytes({0x30}) + remaining_length(100u * 1024 * 1024));
  DecodeResult r = decoder.next();
  CHECK(is_error(r, ErrorKind::kTooLarge));
  CHECK(decoder.buffered() == 0);
  decoder.feed(std::string(1000, 'x'));  // the rest of the body is dropped, the error stays
  CHECK(decoder.buffered() == 0);
  CHECK(is_error(decoder.next(), ErrorKind::kTooLarge));
}

TEST_CASE("a partial packet keeps only the bytes that arrived") {
  StreamDecoder decoder;
  std::string wire = encode(Publish{"t", std::string(1'000'000, 'x'), 0, false, false, 0});
  decoder.feed(wire.data(), 100);
  CHECK(std::holds_alternative<NeedMore>(decoder.next()));
  CHECK(decoder.buffered() == 100);
  decoder.feed(wire.data() + 100, wire.size() - 100);
  CHECK(packet_of<Publish>(decoder.next()).payload.size() == 1'000'000);
  CHECK(decoder.buffered() == 0);
}

// ---- stream framing ----

TEST_CASE("packets split across feeds byte by byte decode in order") {
  std::vector<Packet> sent;
  Connect c;
  c.client_id = "c1";
  c.will = Will{"w", "bye", 2, false};
  sent.push_back(c);
  for (std::uint16_t i = 1; i <= 20; ++i) sent.push_back(sample_publish(i));
  sent.push_back(Subscribe{3, {{"a/#", 1}}});
  sent.push_back(Pingreq{});
  sent.push_back(Disconnect{});
  std::string wire;
  for (const auto& p : sent) wire += encode(p);

  StreamDecoder decoder;
  std::vector<Packet> received;
  for (char ch : wire) {
    decoder.feed(&ch, 1);
    while (true) {
      DecodeResult r = decoder.next();
      if (std::holds_alternative<NeedMore>(r)) break;
      REQUIRE(std::holds_alternative<Packet>(r));
      received.push_back(std::get<Packet>(r));
    }
  }
  CHECK(received == sent);
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("several packets in one feed are returned one per next call") {
  std::string wire = encode(Puback{1}) + encode(Pubrec{2}) + encode(Pingreq{}) +
                     encode(Publish{"x", "y", 0, false, false, 0});
  StreamDecoder decoder;
  decoder.feed(wire);
  CHECK(packet_of<Puback>(decoder.next()).packet_id == 1);
  CHECK(packet_of<Pubrec>(decoder.next()).packet_id == 2);
  packet_of<Pingreq>(decoder.next());
  CHECK(packet_of<Publish>(decoder.next()).payload == "y");
  CHECK(std::holds_alternative<NeedMore>(decoder.next()));
}

TEST_CASE("a long stream fed in odd-sized chunks decodes every packet") {
  std::string wire;
  const int count = 20'000;
  for (int i = 1; i <= count; ++i) wire += encode(sample_publish(static_cast<std::uint16_t>(i)));
  StreamDecoder decoder;
  int decoded = 0;
  std::size_t max_buffered = 0;
  for (std::size_t at = 0; at < wire.size(); at += 777) {
    std::size_t n = std::min<std::size_t>(777, wire.size() - at);
    decoder.feed(wire.data() + at, n);
    max_buffered = std::max(max_buffered, decoder.buffered());
    while (true) {
      DecodeResult r = decoder.next();
      if (std::holds_alternative<NeedMore>(r)) break;
      auto p = packet_of<Publish>(r);
      ++decoded;
      REQUIRE(p == sample_publish(static_cast<std::uint16_t>(decoded)));
    }
  }
  CHECK(decoded == count);
  CHECK(max_buffered < 777 + 64);  // one partial packet plus the latest chunk
}

TEST_CASE("an error is final: later feeds are dropped and next repeats the error") {
  StreamDecoder decoder;
  decoder.feed(bytes({0x20, 0x02, 0x00, 0x00}));  // CONNACK from a client
  CHECK(is_violation(decoder.next()));
  CHECK(decoder.failed());
  decoder.feed(encode(Pingreq{}));
  CHECK(is_violation(decoder.next()));
  CHECK(decoder.buffered() == 0);
}

// ---- direction of flow ----

TEST_CASE("a broker refuses CONNACK SUBACK UNSUBACK and PINGRESP from a client as a protocol violation") {
  CHECK(is_violation(decode_one(encode(Connack{}))));
  CHECK(is_violation(decode_one(encode(Suback{1, {0}}))));
  CHECK(is_violation(decode_one(encode(Unsuback{1}))));
  CHECK(is_violation(decode_one(encode(Pingresp{}))));
}

TEST_CASE("a client-sent CONNACK is refused as soon as its fixed header arrives") {
  StreamDecoder decoder;
  decoder.feed(bytes({0x20, 0x02}));
  CHECK(is_violation(decoder.next()));
}

TEST_CASE("a client decoder refuses CONNECT SUBSCRIBE UNSUBSCRIBE PINGREQ and DISCONNECT from a server") {
  auto from_server = [](const Packet& p) { return decode_one(encode(p), Direction::kFromServer); };
  CHECK(is_violation(from_server(Connect{})));
  CHECK(is_violation(from_server(Subscribe{1, {{"a", 0}}})));
  CHECK(is_violation(from_server(Unsubscribe{1, {"a"}})));
  CHECK(is_violation(from_server(Pingreq{})));
  CHECK(is_violation(from_server(Disconnect{})));
}

TEST_CASE("reserved packet types 0 and 15 are malformed") {
  CHECK(is_malformed(decode_one(bytes({0x00, 0x00}))));
  CHECK(is_malformed(decode_one(bytes({0xF0, 0x00}))));
  CHECK(is_malformed(decode_one(bytes({0xF0, 0x00}), Direction::kFromServer)));
}

// ---- fixed header flags (Table 2.2) ----

TEST_CASE("every packet type with fixed flags rejects any other flag value") {
  struct Case {
    Packet packet;
    Direction from;
  };
  const std::vector<Case> cases = {
      {Connect{}, Direction::kFromClient},     {Connack{}, Direction::kFromServer},
      {Puback{1}, Direction::kFromClient},     {Pubrec{1}, Direction::kFromClient},
      {Pubrel{1}, Direction::kFromClient},     {Pubcomp{1}, Direction::kFromClient},
      {Subscribe{1, {{"a", 0}}}, Direction::kFromClient},
      {Suback{1, {0}}, Direction::kFromServer},
      {Unsubscribe{1, {"a"}}, Direction::kFromClient},
      {Unsuback{1}, Direction::kFromServer},   {Pingreq{}, Direction::kFromClient},
      {Pingresp{}, Direction::kFromServer},    {Disconnect{}, Direction::kFromClient},
  };
  for (const auto& c : cases) {
    std::string wire = encode(c.packet);
    int good = static_cast<unsigned char>(wire[0]) & 0x0F;
    CAPTURE(std::string(packet_name(packet_type(c.packet))));
    CHECK(std::holds_alternative<Packet>(decode_one(wire, c.from)));
    for (int flags = 0; flags < 16; ++flags) {
      if (flags == good) continue;
      CAPTURE(flags);
      wire[0] = static_cast<char>((static_cast<unsigned char>(wire[0]) & 0xF0) | flags);
      CHECK(is_malformed(decode_one(wire, c.from)));
    }
  }
}

TEST_CASE("PUBLISH with QoS 3 is malformed") {
  std::string wire = encode(Publish{"a", "x", 1, false, false, 1});
  wire[0] = static_cast<char>(0x36);
  CHECK(is_malformed(decode_one(wire)));
}

TEST_CASE("PUBLISH with QoS 0 and DUP set is malformed") {
  std::string wire = encode(Publish{"a", "x", 0, false, false, 0});
  wire[0] = static_cast<char>(0x38);
  CHECK(is_malformed(decode_one(wire)));
}

TEST_CASE("PUBLISH accepts every valid DUP QoS RETAIN combination") {
  for (int qos = 0; qos <= 2; ++qos) {
    for (int dup = 0; dup <= (qos > 0 ? 1 : 0); ++dup) {
      for (int retain = 0; retain <= 1; ++retain) {
        Publish p{"t", "x", static_cast<std::uint8_t>(qos), retain == 1, dup == 1,
                  static_cast<std::uint16_t>(qos > 0 ? 5 : 0)};
        CHECK(packet_of<Publish>(decode_one(encode(p))) == p);
      }
    }
  }
}

TEST_CASE("an MQTT 3.1 connection may set DUP on SUBSCRIBE UNSUBSCRIBE and PUBREL but 3.1.1 may not") {
  Connect old;
  old.protocol_level = kProtocolLevel31;
  old.client_id = "old";
  std::string sub = encode(Subscribe{1, {{"a", 0}}});
  sub[0] = static_cast<char>(0x8A);
  std::string unsub = encode(Unsubscribe{1, {"a"}});
  unsub[0] = static_cast<char>(0xAA);
  std::string pubrel = encode(Pubrel{1});
  pubrel[0] = static_cast<char>(0x6A);

  StreamDecoder decoder;
  decoder.feed(encode(old) + sub + unsub + pubrel);
  packet_of<Connect>(decoder.next());
  CHECK(decoder.protocol_level() == kProtocolLevel31);
  packet_of<Subscribe>(decoder.next());
  packet_of<Unsubscribe>(decoder.next());
  packet_of<Pubrel>(decoder.next());

  StreamDecoder modern;
  Connect c;
  modern.feed(encode(c) + sub);
  packet_of<Connect>(modern.next());
  CHECK(modern.protocol_level() == kProtocolLevel311);
  CHECK(is_malformed(modern.next()));
}

TEST_CASE("packets of fixed size with another remaining length are malformed") {
  CHECK(is_malformed(decode_one(bytes({0x40, 0x03, 0x00, 0x01, 0x00}))));  // PUBACK
  CHECK(is_malformed(decode_one(bytes({0x40, 0x01, 0x00}))));
  CHECK(is_malformed(decode_one(bytes({0xC0, 0x01, 0x00}))));              // PINGREQ
  CHECK(is_malformed(decode_one(bytes({0xE0, 0x01, 0x00}))));              // DISCONNECT
  CHECK(is_malformed(decode_one(bytes({0x20, 0x03, 0, 0, 0}), Direction::kFromServer)));
}

TEST_CASE("acknowledgements with packet identifier 0 are malformed") {
  CHECK(is_malformed(decode_one(encode(Puback{0}))));
  CHECK(is_malformed(decode_one(encode(Pubrec{0}))));
  CHECK(is_malformed(decode_one(encode(Pubrel{0}))));
  CHECK(is_malformed(decode_one(encode(Pubcomp{0}))));
  CHECK(is_malformed(decode_one(encode(Unsuback{0}), Direction::kFromServer)));
  CHECK(is_malformed(decode_one(encode(Suback{0, {0}}), Direction::kFromServer)));
}

// ---- CONNECT ----

TEST_CASE("CONNECT at level 4 named MQTT and at level 3 named MQIsdp are accepted") {
  auto c4 = packet_of<Connect>(decode_one(connect_bytes("MQTT", 4, 0x02, {"id"})));
  CHECK(c4.protocol_level == 4);
  CHECK(c4.clean_session);
  CHECK(c4.keep_alive == 60);
  CHECK(c4.client_id == "id");
  auto c3 = packet_of<Connect>(decode_one(connect_bytes("MQIsdp", 3, 0x00, {"id"})));
  CHECK(c3.protocol_level == 3);
  CHECK_FALSE(c3.clean_session);
}

TEST_CASE("CONNECT with an unknown protocol name is a protocol violation") {
  CHECK(is_violation(decode_one(connect_bytes("MQTX", 4, 0x02, {"id"}))));
  CHECK(is_violation(decode_one(connect_bytes("", 4, 0x02, {"id"}))));
}

TEST_CASE("CONNECT of an unsupported protocol level is reported as unacceptable_protocol_level") {
  auto unacceptable = [](const DecodeResult& r) {
    return is_error(r, ErrorKind::kUnacceptableProtocolLevel);
  };
  CHECK(unacceptable(decode_one(connect_bytes("MQTT", 5, 0x02, {"id"}))));
  CHECK(unacceptable(decode_one(connect_bytes("MQTT", 3, 0x02, {"id"}))));
  CHECK(unacceptable(decode_one(connect_bytes("MQIsdp", 4, 0x02, {"id"}))));
  // An MQTT 5 CONNECT carries properties the 3.1.1 layout cannot parse: still CONNACK 1.
  std::string v5 = frame(0x10, str("MQTT") + bytes({5, 0x02, 0, 60, 0x05, 0x11, 0, 0, 0, 10}) + str("id"));
  CHECK(unacceptable(decode_one(v5)));
}

TEST_CASE("CONNECT with the reserved flag set is malformed") {
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x03, {"id"}))));
}

TEST_CASE("CONNECT with will QoS or will retain but no will flag is malformed") {
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x02 | 0x08, {"id"}))));  // QoS 1
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x02 | 0x10, {"id"}))));  // QoS 2
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x02 | 0x20, {"id"}))));  // retain
}

TEST_CASE("CONNECT with will QoS 3 is malformed") {
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x02 | 0x04 | 0x18, {"id", "w", "m"}))));
}

TEST_CASE("CONNECT with a will decodes topic message QoS and retain") {
  auto c = packet_of<Connect>(decode_one(connect_bytes("MQTT", 4, 0x02 | 0x04 | 0x10 | 0x20,
                                                       {"id", "last/will", "bye"})));
  REQUIRE(c.will);
  CHECK(c.will->topic == "last/will");
  CHECK(c.will->payload == "bye");
  CHECK(c.will->qos == 2);
  CHECK(c.will->retain);
}

TEST_CASE("CONNECT with the will flag but without will fields is malformed") {
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x06, {"id"}))));
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x06, {"id", "w"}))));
}

TEST_CASE("CONNECT with a wildcard, empty or ill-formed will topic is malformed") {
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x06, {"id", "w/#", "m"}))));
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x06, {"id", "", "m"}))));
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x06, {"id", "w\xc0\xaf", "m"}))));
}

TEST_CASE("CONNECT with a password but no user name is a protocol violation at level 4") {
  CHECK(is_violation(decode_one(connect_bytes("MQTT", 4, 0x02 | 0x40, {"id", "secret"}))));
}

TEST_CASE("CONNECT with a password but no user name is accepted at level 3") {
  auto c = packet_of<Connect>(decode_one(connect_bytes("MQIsdp", 3, 0x02 | 0x40, {"id", "secret"})));
  CHECK_FALSE(c.username);
  CHECK(c.password == "secret");
}

TEST_CASE("CONNECT with user name and password flags decodes both") {
  auto c = packet_of<Connect>(decode_one(connect_bytes("MQTT", 4, 0xC2, {"id", "joe@realm1", "pw"})));
  CHECK(c.username == "joe@realm1");
  CHECK(c.password == "pw");
}

TEST_CASE("CONNECT with a flag set but its field missing is malformed") {
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x82, {"id"}))));        // user name
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0xC2, {"id", "joe"}))));  // password
}

TEST_CASE("CONNECT with fields its flags do not announce is malformed") {
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x02, {"id", "joe"}))));
}

TEST_CASE("CONNECT with a zero-length client id is accepted by the codec") {
  CHECK(packet_of<Connect>(decode_one(connect_bytes("MQTT", 4, 0x02, {""}))).client_id.empty());
  // clean session 0 with an empty id is refused by the session (CONNACK 2), not by the codec.
  CHECK(packet_of<Connect>(decode_one(connect_bytes("MQTT", 4, 0x00, {""}))).client_id.empty());
}

TEST_CASE("CONNECT with invalid UTF-8 or U+0000 in client id or user name is malformed") {
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x02, {"a\xff"}))));
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x02, {std::string_view("a\0b", 3)}))));
  CHECK(is_malformed(decode_one(connect_bytes("MQTT", 4, 0x82, {"id", "\xed\xa0\x80"}))));
}

TEST_CASE("CONNECT truncated inside the variable header is malformed") {
  CHECK(is_malformed(decode_one(frame(0x10, str("MQTT")))));
  CHECK(is_malformed(decode_one(frame(0x10, str("MQTT") + bytes({4, 2})))));
  CHECK(is_malformed(decode_one(frame(0x10, bytes({0, 10, 'M'})))));
}

// ---- PUBLISH ----

TEST_CASE("PUBLISH with a wildcard in the topic name is malformed") {
  CHECK(is_malformed(decode_one(encode(Publish{"a/+", "x", 0, false, false, 0}))));
  CHECK(is_malformed(decode_one(encode(Publish{"a/#", "x", 0, false, false, 0}))));
  CHECK(is_malformed(decode_one(encode(Publish{"#", "x", 0, false, false, 0}))));
}

TEST_CASE("PUBLISH with an empty topic name is malformed") {
  CHECK(is_malformed(decode_one(encode(Publish{"", "x", 0, false, false, 0}))));
}

TEST_CASE("PUBLISH with QoS above 0 and packet identifier 0 is malformed") {
  CHECK(is_malformed(decode_one(encode(Publish{"a", "x", 1, false, false, 0}))));
  CHECK(is_malformed(decode_one(encode(Publish{"a", "x", 2, false, false, 0}))));
}

TEST_CASE("PUBLISH QoS 0 carries no packet identifier and an empty payload is kept empty") {
  auto p = packet_of<Publish>(decode_one(bytes({0x30, 3, 0, 1, 'a'})));
  CHECK(p.topic == "a");
  CHECK(p.payload.empty());
  CHECK(p.packet_id == 0);
  auto q = packet_of<Publish>(decode_one(bytes({0x30, 5, 0, 1, 'a', 0, 1})));
  CHECK(q.payload == bytes({0, 1}));
}

TEST_CASE("PUBLISH truncated before its topic or packet identifier is malformed") {
  CHECK(is_malformed(decode_one(bytes({0x30, 1, 0}))));
  CHECK(is_malformed(decode_one(bytes({0x30, 3, 0, 5, 'a'}))));
  CHECK(is_malformed(decode_one(bytes({0x32, 4, 0, 1, 'a', 0}))));
}

TEST_CASE("PUBLISH with invalid UTF-8 or U+0000 in the topic is malformed") {
  const std::vector<std::string> bad = {
      "a\xc3\x28",           // bad continuation
      "\xc0\x80",            // overlong NUL
      "\xe0\x80\xaf",        // overlong '/'
      "\xed\xa0\x80",        // surrogate U+D800
      "\xf4\x90\x80\x80",    // above U+10FFFF
      "\xe2\x82",            // truncated
      "\x80",                // lone continuation byte
      std::string("a\0b", 3),
  };
  for (const auto& topic : bad) {
    CAPTURE(topic);
    CHECK(is_malformed(decode_one(encode(Publish{topic, "x", 0, false, false, 0}))));
  }
}

TEST_CASE("PUBLISH payload is binary and may hold any bytes") {
  std::string payload = bytes({0, 0xFF, 0xC0, 0x80, 0xED, 0xA0, 0x80});
  CHECK(packet_of<Publish>(decode_one(encode(Publish{"bin", payload, 0, false, false, 0}))).payload ==
        payload);
}

// ---- SUBSCRIBE / UNSUBSCRIBE ----

TEST_CASE("SUBSCRIBE without topic filters is a protocol violation") {
  CHECK(is_violation(decode_one(frame(0x82, u16(1)))));
}

TEST_CASE("SUBSCRIBE with requested QoS 3 or reserved QoS bits is malformed") {
  CHECK(is_malformed(decode_one(frame(0x82, u16(1) + str("a") + bytes({3})))));
  CHECK(is_malformed(decode_one(frame(0x82, u16(1) + str("a") + bytes({0x04})))));
  CHECK(is_malformed(decode_one(frame(0x82, u16(1) + str("a") + bytes({0x81})))));
}

TEST_CASE("SUBSCRIBE with a filter missing its QoS byte is malformed") {
  CHECK(is_malformed(decode_one(frame(0x82, u16(1) + str("a")))));
  CHECK(is_malformed(decode_one(frame(0x82, u16(1) + str("a") + bytes({0}) + str("b")))));
}

TEST_CASE("SUBSCRIBE with packet identifier 0 is malformed") {
  CHECK(is_malformed(decode_one(encode(Subscribe{0, {{"a", 0}}}))));
}

TEST_CASE("SUBSCRIBE with a misplaced wildcard or an empty filter is malformed") {
  for (std::string filter : {"a/#/b", "a+", "#a", "a/b#", "+a/b", "a/++", "##", ""}) {
    CAPTURE(filter);
    CHECK(is_malformed(decode_one(encode(Subscribe{1, {{"ok", 0}, {filter, 0}}}))));
  }
}

TEST_CASE("SUBSCRIBE accepts wildcards that occupy a whole level") {
  for (std::string filter : {"#", "+", "a/+/b", "a/#", "/", "+/+", "sport/tennis/#", "+/#", "$SYS/#",
                             "a//b"}) {
    CAPTURE(filter);
    CHECK(packet_of<Subscribe>(decode_one(encode(Subscribe{1, {{filter, 1}}}))).topics[0].filter ==
          filter);
  }
}

TEST_CASE("UNSUBSCRIBE without topic filters is a protocol violation") {
  CHECK(is_violation(decode_one(frame(0xA2, u16(1)))));
}

TEST_CASE("UNSUBSCRIBE with a bad filter or packet identifier 0 is malformed") {
  CHECK(is_malformed(decode_one(encode(Unsubscribe{1, {"a/#/b"}}))));
  CHECK(is_malformed(decode_one(encode(Unsubscribe{1, {"a\xff"}}))));
  CHECK(is_malformed(decode_one(encode(Unsubscribe{0, {"a"}}))));
  CHECK(is_malformed(decode_one(frame(0xA2, u16(1) + bytes({0, 5, 'a'})))));
}

// ---- packets from a broker (client mode) ----

TEST_CASE("CONNACK with session present and a refusal code is malformed") {
  CHECK(is_malformed(decode_one(bytes({0x20, 2, 1, 5}), Direction::kFromServer)));
}

TEST_CASE("CONNACK with reserved acknowledge flags or a reserved return code is malformed") {
  CHECK(is_malformed(decode_one(bytes({0x20, 2, 2, 0}), Direction::kFromServer)));
  CHECK(is_malformed(decode_one(bytes({0x20, 2, 0, 6}), Direction::kFromServer)));
}

TEST_CASE("SUBACK with a reserved return code or no return codes is malformed") {
  CHECK(is_malformed(decode_one(frame(0x90, u16(1) + bytes({3})), Direction::kFromServer)));
  CHECK(is_malformed(decode_one(frame(0x90, u16(1) + bytes({0x81})), Direction::kFromServer)));
  CHECK(is_malformed(decode_one(frame(0x90, u16(1)), Direction::kFromServer)));
}

// ---- the standalone helpers ----

TEST_CASE("valid_utf8 accepts well-formed text and rejects ill-formed sequences") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("\xc3\xbc \xe2\x82\xac \xf0\x9d\x84\x9e"));  // ü € 𝄞
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));                        // U+10FFFF
  CHECK(valid_utf8("\xef\xbb\xbf" "bom"));                      // BOM is data (MQTT-1.5.3-3)
  CHECK(valid_utf8("\xed\x9f\xbf"));                            // U+D7FF, just below surrogates
  CHECK(valid_utf8(std::string_view("\0", 1)));                  // NUL is UTF-8, not MQTT
  CHECK_FALSE(valid_utf8("\xed\xbf\xbf"));                      // U+DFFF
  CHECK_FALSE(valid_utf8("\xc1\xbf"));
  CHECK_FALSE(valid_utf8("\xf0\x8f\xbf\xbf"));                  // overlong 4-byte
  CHECK_FALSE(valid_utf8("\xf5\x80\x80\x80"));
  CHECK_FALSE(valid_utf8("\xff"));
  CHECK_FALSE(valid_utf8("\xf0\x9d\x84"));
}

TEST_CASE("valid_mqtt_string rejects U+0000 and strings over 65535 bytes") {
  CHECK(valid_mqtt_string("a"));
  CHECK_FALSE(valid_mqtt_string(std::string_view("a\0", 2)));
  CHECK(valid_mqtt_string(std::string(65535, 'a')));
  CHECK_FALSE(valid_mqtt_string(std::string(65536, 'a')));
}

TEST_CASE("valid_topic_name refuses wildcards and empty names") {
  CHECK(valid_topic_name("a/b/c"));
  CHECK(valid_topic_name("/"));
  CHECK(valid_topic_name("$SYS/broker"));
  CHECK(valid_topic_name("a b/\xc3\xbc"));
  CHECK_FALSE(valid_topic_name(""));
  CHECK_FALSE(valid_topic_name("a/+/b"));
  CHECK_FALSE(valid_topic_name("a/#"));
  CHECK_FALSE(valid_topic_name("a+"));
}

TEST_CASE("valid_topic_filter requires + and # to be whole levels and # to be last") {
  CHECK(valid_topic_filter("#"));
  CHECK(valid_topic_filter("a/+/#"));
  CHECK(valid_topic_filter("+"));
  CHECK_FALSE(valid_topic_filter("a/#/b"));
  CHECK_FALSE(valid_topic_filter("a+"));
  CHECK_FALSE(valid_topic_filter("#a"));
  CHECK_FALSE(valid_topic_filter("a/#/"));
  CHECK_FALSE(valid_topic_filter(""));
}

TEST_CASE("decode_packet decodes one packet from its first byte and body") {
  std::string wire = encode(Subscribe{7, {{"a/b", 2}}});
  auto s = packet_of<Subscribe>(decode_packet(static_cast<std::uint8_t>(wire[0]), wire.substr(2),
                                              Direction::kFromClient));
  CHECK(s.packet_id == 7);
  CHECK(is_violation(decode_packet(0x20, bytes({0, 0}), Direction::kFromClient)));
}
