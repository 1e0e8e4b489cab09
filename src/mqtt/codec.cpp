#include "mqtt/codec.hpp"

#include <algorithm>
#include <type_traits>
#include <utility>

#include "mqtt/topic.hpp"
#include "mqtt/utf8.hpp"

namespace fox::mqtt {
namespace {

// After a big packet the buffer's capacity is given back, so thousands of idle connections do
// not each keep the largest packet they ever saw.
constexpr std::size_t kKeptCapacity = 64 * 1024;

DecodeError malformed(std::string reason) { return {ErrorKind::kMalformed, std::move(reason)}; }
DecodeError violation(std::string reason) {
  return {ErrorKind::kProtocolViolation, std::move(reason)};
}

std::string name_of(PacketType type) { return std::string(packet_name(type)); }

// Bounds-checked reads over one packet body. Every read fails instead of running past the end.
class Reader {
public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool u8(std::uint8_t& out) {
    if (left() < 1) return false;
    out = static_cast<std::uint8_t>(data_[pos_++]);
    return true;
  }
  bool u16(std::uint16_t& out) {
    if (left() < 2) return false;
    out = static_cast<std::uint16_t>((static_cast<std::uint8_t>(data_[pos_]) << 8) |
                                     static_cast<std::uint8_t>(data_[pos_ + 1]));
    pos_ += 2;
    return true;
  }
  // A 2-byte length followed by that many bytes (UTF-8 strings and binary data, §1.5.3).
  bool prefixed(std::string_view& out) {
    std::uint16_t len = 0;
    if (!u16(len)) return false;
    if (left() < len) return false;
    out = data_.substr(pos_, len);
    pos_ += len;
    return true;
  }
  std::string_view rest() {
    std::string_view r = data_.substr(pos_);
    pos_ = data_.size();
    return r;
  }
  std::size_t left() const { return data_.size() - pos_; }
  bool done() const { return pos_ == data_.size(); }

private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

// Why a topic name failed valid_topic_name(); computed only on the error path.
std::string topic_name_problem(std::string_view topic) {
  if (topic.empty()) return "topic name is empty (MQTT-4.7.3-1)";
  if (!valid_mqtt_string(topic)) {
    return "topic name is not valid UTF-8 or contains U+0000 (MQTT-1.5.3)";
  }
  return "topic name contains a wildcard (MQTT-3.3.2-2)";
}

std::string topic_filter_problem(std::string_view filter) {
  if (filter.empty()) return "topic filter is empty (MQTT-4.7.3-1)";
  if (!valid_mqtt_string(filter)) {
    return "topic filter is not valid UTF-8 or contains U+0000 (MQTT-1.5.3)";
  }
  return "topic filter has a misplaced wildcard (MQTT-4.7.1-2/3)";
}

// Table 2.1 "Direction of flow": what a client, or a server, may send.
bool client_may_send(PacketType type) {
  switch (type) {
    case PacketType::kConnack:
    case PacketType::kSuback:
    case PacketType::kUnsuback:
    case PacketType::kPingresp: return false;
    default: return true;
  }
}
bool server_may_send(PacketType type) {
  switch (type) {
    case PacketType::kConnect:
    case PacketType::kSubscribe:
    case PacketType::kUnsubscribe:
    case PacketType::kPingreq:
    case PacketType::kDisconnect: return false;
    default: return true;
  }
}

// Everything the first byte and the Remaining Length decide, so a stream can refuse a packet
// before its body arrives.
std::optional<DecodeError> check_fixed_header(std::uint8_t first_byte, std::size_t remaining,
                                              Direction from, std::uint8_t level) {
  unsigned type_value = first_byte >> 4;
  unsigned flags = first_byte & 0x0F;
  if (type_value == 0 || type_value == 15) {
    return malformed("reserved packet type " + std::to_string(type_value));
  }
  auto type = static_cast<PacketType>(type_value);
  if (from == Direction::kFromClient && !client_may_send(type)) {
    return violation("a client may not send " + name_of(type));
  }
  if (from == Direction::kFromServer && !server_may_send(type)) {
    return violation("a server may not send " + name_of(type));
  }

  // Table 2.2 "Flag Bits" (MQTT-2.2.2-1, MQTT-2.2.2-2).
  switch (type) {
    case PacketType::kPublish: {
      unsigned qos = (flags >> 1) & 3;
      if (qos == 3) return malformed("PUBLISH with QoS 3 (MQTT-3.3.1-4)");
      if (qos == 0 && (flags & 0x08)) return malformed("PUBLISH QoS 0 with DUP set (MQTT-3.3.1-2)");
      break;
    }
    case PacketType::kPubrel:
    case PacketType::kSubscribe:
    case PacketType::kUnsubscribe:
      // MQTT 3.1 set DUP on retries of these QoS 1-style packets; 3.1.1 fixed the bits to 0010.
      if (flags == 0x02 || (level == kProtocolLevel31 && flags == 0x0A)) break;
      return malformed(name_of(type) +
                       " fixed header flags must be 0010 (MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1)");
    default:
      if (flags != 0) {
        return malformed(name_of(type) + " fixed header flags must be 0000 (MQTT-2.2.2-1)");
      }
  }

  switch (type) {
    case PacketType::kConnack:
    case PacketType::kPuback:
    case PacketType::kPubrec:
    case PacketType::kPubrel:
    case PacketType::kPubcomp:
    case PacketType::kUnsuback:
      if (remaining != 2) return malformed(name_of(type) + " Remaining Length must be 2");
      break;
    case PacketType::kPingreq:
    case PacketType::kPingresp:
    case PacketType::kDisconnect:
      if (remaining != 0) return malformed(name_of(type) + " Remaining Length must be 0");
      break;
    default: break;
  }
  return std::nullopt;
}

DecodeResult decode_connect(std::string_view body) {
  Reader r(body);
  std::string_view name;
  std::uint8_t level = 0;
  if (!r.prefixed(name) || !r.u8(level)) return malformed("CONNECT: truncated variable header");

  // MQTT-3.1.2-1: another protocol name is not ours to process. An unsupported level of a
  // known protocol gets CONNACK 1 (MQTT-3.1.2-2); the rest of such a packet (e.g. MQTT 5
  // properties) is not parsed, since its format is not ours either.
  if (name == "MQTT") {
    if (level != kProtocolLevel311) {
      return DecodeError{ErrorKind::kUnacceptableProtocolLevel,
                         "CONNECT: protocol MQTT level " + std::to_string(level) + " not supported"};
    }
  } else if (name == "MQIsdp") {
    if (level != kProtocolLevel31) {
      return DecodeError{ErrorKind::kUnacceptableProtocolLevel,
                         "CONNECT: protocol MQIsdp level " + std::to_string(level) + " not supported"};
    }
  } else {
    return violation("CONNECT: unknown protocol name (MQTT-3.1.2-1)");
  }

  std::uint8_t flags = 0;
  Connect c;
  c.protocol_level = level;
  if (!r.u8(flags) || !r.u16(c.keep_alive)) return malformed("CONNECT: truncated variable header");
  if (flags & 0x01) return malformed("CONNECT: reserved flag is set (MQTT-3.1.2-3)");
  bool will_flag = flags & 0x04;
  std::uint8_t will_qos = (flags >> 3) & 0x03;
  bool will_retain = flags & 0x20;
  bool password_flag = flags & 0x40;
  bool username_flag = flags & 0x80;
  c.clean_session = flags & 0x02;
  if (!will_flag && (will_qos != 0 || will_retain)) {
    return malformed("CONNECT: will QoS/retain set without the will flag (MQTT-3.1.2-11/13/15)");
  }
  if (will_qos == 3) return malformed("CONNECT: will QoS 3 (MQTT-3.1.2-14)");
  // MQTT 3.1 did not forbid this, so old clients keep their password.
  if (password_flag && !username_flag && level == kProtocolLevel311) {
    return violation("CONNECT: password flag without user name flag (MQTT-3.1.2-22)");
  }

  std::string_view client_id;
  if (!r.prefixed(client_id)) return malformed("CONNECT: truncated client identifier");
  if (!valid_mqtt_string(client_id)) {
    return malformed("CONNECT: client identifier is not valid UTF-8 (MQTT-3.1.3-4, MQTT-1.5.3)");
  }
  c.client_id = client_id;

  if (will_flag) {
    std::string_view topic, message;
    if (!r.prefixed(topic) || !r.prefixed(message)) {
      return malformed("CONNECT: will flag set but will topic/message missing (MQTT-3.1.2-9)");
    }
    if (!valid_topic_name(topic)) return malformed("CONNECT: will " + topic_name_problem(topic));
    c.will = Will{std::string(topic), std::string(message), will_qos, will_retain};
  }
  if (username_flag) {
    std::string_view username;
    if (!r.prefixed(username)) {
      return malformed("CONNECT: user name flag set but no user name (MQTT-3.1.2-19)");
    }
    if (!valid_mqtt_string(username)) {
      return malformed("CONNECT: user name is not valid UTF-8 (MQTT-3.1.3-11, MQTT-1.5.3)");
    }
    c.username = std::string(username);
  }
  if (password_flag) {
    std::string_view password;
    if (!r.prefixed(password)) {
      return malformed("CONNECT: password flag set but no password (MQTT-3.1.2-21)");
    }
    c.password = std::string(password);
  }
  // Bytes left over are fields whose flag is 0 (MQTT-3.1.2-11/18/20) or garbage.
  if (!r.done()) return malformed("CONNECT: bytes after the last field its flags announce");
  return Packet{std::move(c)};
}

DecodeResult decode_connack(std::string_view body) {
  auto ack_flags = static_cast<std::uint8_t>(body[0]);
  auto code = static_cast<std::uint8_t>(body[1]);
  if (ack_flags & 0xFE) return malformed("CONNACK: reserved acknowledge flags are set");
  if (code > kConnackNotAuthorized) {
    return malformed("CONNACK: reserved return code " + std::to_string(code));
  }
  bool session_present = ack_flags & 0x01;
  if (session_present && code != kConnackAccepted) {
    return malformed("CONNACK: session present with a non-zero return code (MQTT-3.2.2-4)");
  }
  return Packet{Connack{session_present, code}};
}

DecodeResult decode_publish(std::uint8_t first_byte, std::string_view body) {
  Publish p;
  p.qos = (first_byte >> 1) & 0x03;
  p.dup = first_byte & 0x08;
  p.retain = first_byte & 0x01;
  Reader r(body);
  std::string_view topic;
  if (!r.prefixed(topic)) return malformed("PUBLISH: truncated topic name");
  if (!valid_topic_name(topic)) return malformed("PUBLISH: " + topic_name_problem(topic));
  if (p.qos > 0) {
    if (!r.u16(p.packet_id)) return malformed("PUBLISH: truncated packet identifier");
    if (p.packet_id == 0) {
      return malformed("PUBLISH: packet identifier 0 with QoS > 0 (MQTT-2.3.1-1)");
    }
  }
  p.topic = topic;
  p.payload = r.rest();
  return Packet{std::move(p)};
}

// PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: just a packet id, which answers a PUBLISH, PUBREL or
// UNSUBSCRIBE and so is never 0 (MQTT-2.3.1-1, MQTT-2.3.1-6).
template <typename Ack>
DecodeResult decode_ack(PacketType type, std::string_view body) {
  Reader r(body);
  Ack ack;
  r.u16(ack.packet_id);  // length 2 was checked with the fixed header
  if (ack.packet_id == 0) return malformed(name_of(type) + ": packet identifier 0 (MQTT-2.3.1-1)");
  return Packet{ack};
}

DecodeResult decode_subscribe(std::string_view body) {
  Reader r(body);
  Subscribe s;
  if (!r.u16(s.packet_id)) return malformed("SUBSCRIBE: truncated packet identifier");
  if (s.packet_id == 0) return malformed("SUBSCRIBE: packet identifier 0 (MQTT-2.3.1-1)");
  while (!r.done()) {
    std::string_view filter;
    std::uint8_t qos = 0;
    if (!r.prefixed(filter)) return malformed("SUBSCRIBE: truncated topic filter");
    if (!valid_topic_filter(filter)) return malformed("SUBSCRIBE: " + topic_filter_problem(filter));
    if (!r.u8(qos)) return malformed("SUBSCRIBE: topic filter without requested QoS");
    if (qos > 2) {
      return malformed("SUBSCRIBE: requested QoS byte " + std::to_string(qos) +
                       " is not 0, 1 or 2 (MQTT-3.8.3-4)");
    }
    s.topics.push_back(SubscribeTopic{std::string(filter), qos});
  }
  if (s.topics.empty()) return violation("SUBSCRIBE without topic filters (MQTT-3.8.3-3)");
  return Packet{std::move(s)};
}

DecodeResult decode_suback(std::string_view body) {
  Reader r(body);
  Suback s;
  if (!r.u16(s.packet_id)) return malformed("SUBACK: truncated packet identifier");
  if (s.packet_id == 0) return malformed("SUBACK: packet identifier 0 (MQTT-2.3.1-1)");
  std::string_view codes = r.rest();
  if (codes.empty()) return malformed("SUBACK without return codes");
  for (char ch : codes) {
    auto code = static_cast<std::uint8_t>(ch);
    if (code > 2 && code != kSubackFailure) {
      return malformed("SUBACK: reserved return code " + std::to_string(code) + " (MQTT-3.9.3-2)");
    }
    s.return_codes.push_back(code);
  }
  return Packet{std::move(s)};
}

DecodeResult decode_unsubscribe(std::string_view body) {
  Reader r(body);
  Unsubscribe u;
  if (!r.u16(u.packet_id)) return malformed("UNSUBSCRIBE: truncated packet identifier");
  if (u.packet_id == 0) return malformed("UNSUBSCRIBE: packet identifier 0 (MQTT-2.3.1-1)");
  while (!r.done()) {
    std::string_view filter;
    if (!r.prefixed(filter)) return malformed("UNSUBSCRIBE: truncated topic filter");
    if (!valid_topic_filter(filter)) {
      return malformed("UNSUBSCRIBE: " + topic_filter_problem(filter));
    }
    u.filters.emplace_back(filter);
  }
  if (u.filters.empty()) return violation("UNSUBSCRIBE without topic filters (MQTT-3.10.3-2)");
  return Packet{std::move(u)};
}

// The body of a packet whose fixed header passed check_fixed_header().
DecodeResult decode_body(std::uint8_t first_byte, std::string_view body) {
  auto type = static_cast<PacketType>(first_byte >> 4);
  switch (type) {
    case PacketType::kConnect: return decode_connect(body);
    case PacketType::kConnack: return decode_connack(body);
    case PacketType::kPublish: return decode_publish(first_byte, body);
    case PacketType::kPuback: return decode_ack<Puback>(type, body);
    case PacketType::kPubrec: return decode_ack<Pubrec>(type, body);
    case PacketType::kPubrel: return decode_ack<Pubrel>(type, body);
    case PacketType::kPubcomp: return decode_ack<Pubcomp>(type, body);
    case PacketType::kSubscribe: return decode_subscribe(body);
    case PacketType::kSuback: return decode_suback(body);
    case PacketType::kUnsubscribe: return decode_unsubscribe(body);
    case PacketType::kUnsuback: return decode_ack<Unsuback>(type, body);
    case PacketType::kPingreq: return Packet{Pingreq{}};
    case PacketType::kPingresp: return Packet{Pingresp{}};
    case PacketType::kDisconnect: return Packet{Disconnect{}};
  }
  return malformed("reserved packet type");
}

// ---- encoding ----

// Appends to a string, remembering whether some field did not fit its length prefix.
struct Writer {
  std::string out;
  bool ok = true;

  void u8(std::uint8_t v) { out.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xFF));
  }
  void prefixed(std::string_view s) {
    if (s.size() > kMaxStringLength) {
      ok = false;
      return;
    }
    u16(static_cast<std::uint16_t>(s.size()));
    out.append(s);
  }
};

void put_remaining_length(std::string& out, std::size_t n) {
  do {
    auto byte = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n > 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (n > 0);
}

std::size_t remaining_length_size(std::size_t n) {
  if (n < 128) return 1;
  if (n < 16'384) return 2;
  if (n < 2'097'152) return 3;
  return 4;
}

// Grows `out` geometrically: an exact reserve per appended packet would make a loop of appends
// quadratic on implementations whose reserve() allocates exactly.
void reserve_more(std::string& out, std::size_t extra) {
  std::size_t need = out.size() + extra;
  if (need > out.capacity()) out.reserve(std::max(need, out.capacity() * 2));
}

std::uint8_t first_byte_of(const Packet& packet) {
  auto type = static_cast<std::uint8_t>(packet_type(packet));
  std::uint8_t flags = 0;
  if (const auto* p = std::get_if<Publish>(&packet)) {
    flags = static_cast<std::uint8_t>((p->dup ? 0x08 : 0) | (p->qos << 1) | (p->retain ? 0x01 : 0));
  } else if (std::holds_alternative<Pubrel>(packet) || std::holds_alternative<Subscribe>(packet) ||
             std::holds_alternative<Unsubscribe>(packet)) {
    flags = 0x02;
  }
  return static_cast<std::uint8_t>(type << 4 | flags);
}

// The variable header and payload of `packet`.
Writer encode_body(const Packet& packet) {
  Writer w;
  std::visit(
      [&w](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Connect>) {
          w.prefixed(p.protocol_level == kProtocolLevel31 ? "MQIsdp" : "MQTT");
          w.u8(p.protocol_level);
          std::uint8_t flags = 0;
          if (p.clean_session) flags |= 0x02;
          if (p.will) {
            if (p.will->qos > 2) w.ok = false;
            flags |= static_cast<std::uint8_t>(0x04 | (p.will->qos & 0x03) << 3 |
                                               (p.will->retain ? 0x20 : 0));
          }
          if (p.password) flags |= 0x40;
          if (p.username) flags |= 0x80;
          w.u8(flags);
          w.u16(p.keep_alive);
          w.prefixed(p.client_id);
          if (p.will) {
            w.prefixed(p.will->topic);
            w.prefixed(p.will->payload);
          }
          if (p.username) w.prefixed(*p.username);
          if (p.password) w.prefixed(*p.password);
        } else if constexpr (std::is_same_v<T, Connack>) {
          w.u8(p.session_present ? 1 : 0);
          w.u8(p.return_code);
        } else if constexpr (std::is_same_v<T, Publish>) {
          if (p.qos > 2) w.ok = false;
          w.prefixed(p.topic);
          if (p.qos > 0) w.u16(p.packet_id);
          w.out.append(p.payload);
        } else if constexpr (std::is_same_v<T, Puback> || std::is_same_v<T, Pubrec> ||
                             std::is_same_v<T, Pubrel> || std::is_same_v<T, Pubcomp> ||
                             std::is_same_v<T, Unsuback>) {
          w.u16(p.packet_id);
        } else if constexpr (std::is_same_v<T, Subscribe>) {
          w.u16(p.packet_id);
          for (const auto& t : p.topics) {
            if (t.qos > 2) w.ok = false;
            w.prefixed(t.filter);
            w.u8(t.qos);
          }
        } else if constexpr (std::is_same_v<T, Suback>) {
          w.u16(p.packet_id);
          for (std::uint8_t code : p.return_codes) w.u8(code);
        } else if constexpr (std::is_same_v<T, Unsubscribe>) {
          w.u16(p.packet_id);
          for (const auto& f : p.filters) w.prefixed(f);
        }
        // PINGREQ, PINGRESP, DISCONNECT have no body.
      },
      packet);
  if (w.out.size() > kMaxRemainingLength) w.ok = false;
  return w;
}

}  // namespace

std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kMalformed: return "malformed";
    case ErrorKind::kProtocolViolation: return "protocol_violation";
    case ErrorKind::kUnacceptableProtocolLevel: return "unacceptable_protocol_level";
    case ErrorKind::kTooLarge: return "too_large";
  }
  return "unknown";
}

DecodeResult decode_packet(std::uint8_t first_byte, std::string_view body, Direction from,
                           std::uint8_t protocol_level) {
  if (body.size() > kMaxRemainingLength) return malformed("Remaining Length above 268435455");
  if (auto error = check_fixed_header(first_byte, body.size(), from, protocol_level)) return *error;
  return decode_body(first_byte, body);
}

// ---- StreamDecoder ----

StreamDecoder::StreamDecoder(std::size_t max_packet_size, Direction from)
    : max_packet_size_(max_packet_size), from_(from) {}

void StreamDecoder::feed(const char* data, std::size_t len) {
  if (error_ || len == 0) return;
  // Drop the consumed prefix only when it is at least as long as what would move: each byte is
  // then moved at most once per time it was consumed, never quadratically.
  if (pos_ > 0 && pos_ >= buf_.size() - pos_) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(data, len);
}

DecodeResult StreamDecoder::fail(DecodeError error) {
  error_ = std::move(error);
  std::string().swap(buf_);
  pos_ = 0;
  return *error_;
}

DecodeResult StreamDecoder::next() {
  if (error_) return *error_;
  const char* p = buf_.data() + pos_;
  std::size_t avail = buf_.size() - pos_;
  if (avail < 2) return NeedMore{};

  // Remaining Length (§2.2.3): 7 bits per byte, low group first, at most 4 bytes.
  std::size_t remaining = 0;
  std::size_t header = 1;
  std::size_t multiplier = 1;
  while (true) {
    if (header >= avail) return NeedMore{};
    auto byte = static_cast<std::uint8_t>(p[header]);
    remaining += (byte & 0x7F) * multiplier;
    ++header;
    if (!(byte & 0x80)) break;
    if (header == kMaxFixedHeaderSize) {
      return fail(malformed("Remaining Length longer than 4 bytes"));
    }
    multiplier *= 128;
  }

  auto first_byte = static_cast<std::uint8_t>(p[0]);
  if (auto error = check_fixed_header(first_byte, remaining, from_, protocol_level_)) {
    return fail(std::move(*error));
  }
  if (remaining > max_packet_size_) {
    return fail(DecodeError{ErrorKind::kTooLarge, "Remaining Length " + std::to_string(remaining) +
                                                      " above the maximum " +
                                                      std::to_string(max_packet_size_)});
  }
  if (avail - header < remaining) return NeedMore{};

  DecodeResult result = decode_body(first_byte, std::string_view(p + header, remaining));
  pos_ += header + remaining;
  if (pos_ == buf_.size()) {
    pos_ = 0;
    if (buf_.capacity() > kKeptCapacity) {
      std::string().swap(buf_);
    } else {
      buf_.clear();
    }
  }
  if (auto* error = std::get_if<DecodeError>(&result)) return fail(std::move(*error));
  if (from_ == Direction::kFromClient) {
    if (const auto* connect = std::get_if<Connect>(&std::get<Packet>(result))) {
      protocol_level_ = connect->protocol_level;
    }
  }
  return result;
}

// ---- encoding API ----

bool encode_to(const Packet& packet, std::string& out) {
  Writer body = encode_body(packet);
  if (!body.ok) return false;
  reserve_more(out, kMaxFixedHeaderSize + body.out.size());
  out.push_back(static_cast<char>(first_byte_of(packet)));
  put_remaining_length(out, body.out.size());
  out.append(body.out);
  return true;
}

std::string encode(const Packet& packet) {
  std::string out;
  encode_to(packet, out);
  return out;
}

bool encode_publish(std::string_view topic, std::string_view payload, std::uint8_t qos,
                    bool retain, bool dup, std::uint16_t packet_id, std::string& out) {
  if (qos > 2 || topic.size() > kMaxStringLength) return false;
  std::size_t remaining = 2 + topic.size() + (qos > 0 ? 2 : 0);
  if (payload.size() > kMaxRemainingLength - remaining) return false;
  remaining += payload.size();

  reserve_more(out, 1 + remaining_length_size(remaining) + remaining);
  out.push_back(static_cast<char>(0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0)));
  put_remaining_length(out, remaining);
  out.push_back(static_cast<char>(topic.size() >> 8));
  out.push_back(static_cast<char>(topic.size() & 0xFF));
  out.append(topic);
  if (qos > 0) {
    out.push_back(static_cast<char>(packet_id >> 8));
    out.push_back(static_cast<char>(packet_id & 0xFF));
  }
  out.append(payload);
  return true;
}

}  // namespace fox::mqtt
