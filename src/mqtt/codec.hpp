// MQTT 3.1.1 / 3.1 wire codec: bytes ⇄ Packet. Pure: no I/O, no clocks, never throws.
//
// Decoding checks every rule that can be checked from the bytes of one packet (fixed-header
// flags, lengths, UTF-8, topic syntax, CONNECT flag consistency, packet ids). Rules that need
// connection state (first packet must be CONNECT, client id policy, packet id reuse, ...) belong
// to the session. Every decode error means "close the connection" (MQTT-4.8.0-1); the kind only
// tells the session whether to send CONNACK 1 first and what to log.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "mqtt/packet.hpp"

namespace fox::mqtt {

// Largest value the 4-byte Remaining Length can express (§2.2.3).
inline constexpr std::uint32_t kMaxRemainingLength = 268'435'455;
// Default bound on the Remaining Length a decoder accepts (SPEC §10 max_message_size).
inline constexpr std::size_t kDefaultMaxPacketSize = 16u * 1024 * 1024;
// Longest fixed header: type byte + 4 length bytes.
inline constexpr std::size_t kMaxFixedHeaderSize = 5;

enum class ErrorKind {
  kMalformed,                  // bytes that break the packet format or a MUST of the spec
  kProtocolViolation,          // a well-formed packet this peer may not send
  kUnacceptableProtocolLevel,  // CONNECT of an unsupported level: answer CONNACK 1, then close
  kTooLarge,                   // Remaining Length above the decoder's maximum
};

std::string_view error_kind_name(ErrorKind kind);

struct NeedMore {
  bool operator==(const NeedMore&) const = default;
};

struct DecodeError {
  ErrorKind kind = ErrorKind::kMalformed;
  std::string reason;  // one line for the log, e.g. "SUBSCRIBE: topic filter 'a/#/b' is invalid"
};

using DecodeResult = std::variant<NeedMore, Packet, DecodeError>;

// Who sent the bytes being decoded. A broker decodes kFromClient; a client tool kFromServer.
// A packet type the sender may not send is a protocol violation (§2.2.1 "Direction of flow").
enum class Direction { kFromClient, kFromServer };

// Decodes one packet whose fixed header byte and body (exactly Remaining Length bytes) are
// known. protocol_level is the level of the connection (0 = not known yet): MQTT 3.1 clients may
// set DUP on PUBREL/SUBSCRIBE/UNSUBSCRIBE retries, which 3.1.1 forbids.
DecodeResult decode_packet(std::uint8_t first_byte, std::string_view body, Direction from,
                           std::uint8_t protocol_level = 0);

// Incremental decoder for one connection's byte stream (TCP or WebSocket messages, which may
// split or join packets anywhere).
//
// Memory: the body of a packet is stored only as its bytes arrive (nothing is reserved from the
// announced length), and a Remaining Length above max_packet_size is rejected as soon as the
// length bytes are in. So between feeds the buffer holds at most one incomplete packet
// (≤ max_packet_size + 5 bytes) plus the bytes of the latest feed() — call next() until NeedMore
// after each feed. Consumed bytes are dropped by moving the tail only when the consumed prefix is
// at least as long as the tail, so compaction costs O(1) amortized per byte.
//
// Errors are final: after one, next() keeps returning it and feed() drops its input.
class StreamDecoder {
public:
  explicit StreamDecoder(std::size_t max_packet_size = kDefaultMaxPacketSize,
                         Direction from = Direction::kFromClient);

  void feed(const char* data, std::size_t len);
  void feed(std::string_view data) { feed(data.data(), data.size()); }

  // NeedMore, one decoded Packet, or the (final) DecodeError.
  DecodeResult next();

  // The connection's protocol level. A server-side decoder learns it from the first CONNECT it
  // decodes; a client sets the level it connected with.
  std::uint8_t protocol_level() const { return protocol_level_; }
  void set_protocol_level(std::uint8_t level) { protocol_level_ = level; }

  std::size_t buffered() const { return buf_.size() - pos_; }  // bytes held, not yet decoded
  bool failed() const { return error_.has_value(); }

private:
  DecodeResult fail(DecodeError error);

  std::size_t max_packet_size_;
  Direction from_;
  std::uint8_t protocol_level_ = 0;
  std::string buf_;
  std::size_t pos_ = 0;  // start of undecoded bytes in buf_
  std::optional<DecodeError> error_;
};

// Encodes any packet (either direction). Returns "" when the packet cannot be encoded: a string
// or payload longer than its length field allows, a Remaining Length above kMaxRemainingLength,
// or a QoS above 2. Content rules (UTF-8, topic syntax, non-zero packet ids) are NOT checked:
// sessions encode values that were validated on the way in, and tests need to build bad packets.
std::string encode(const Packet& packet);
// The same, appending to `out`; false (and `out` unchanged) when it cannot be encoded.
bool encode_to(const Packet& packet, std::string& out);

// The hot path of fan-out: appends one PUBLISH to `out` without building a Publish value.
// packet_id is written only when qos > 0. False (and `out` unchanged) as for encode().
bool encode_publish(std::string_view topic, std::string_view payload, std::uint8_t qos,
                    bool retain, bool dup, std::uint16_t packet_id, std::string& out);

}  // namespace fox::mqtt
