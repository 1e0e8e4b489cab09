// MQTT 3.1.1 (protocol level 4) and MQTT 3.1 (level 3) control packets as typed values.
// These are plain data: the codec (codec.hpp) turns bytes into them and back; sessions decide
// what they mean. Strings hold raw bytes (std::string); text fields are UTF-8 once decoded.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fox::mqtt {

// The fixed header's packet type (MQTT 3.1.1 §2.2.1). 0 and 15 are reserved.
enum class PacketType : std::uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
};

inline constexpr std::uint8_t kProtocolLevel31 = 3;   // "MQIsdp"
inline constexpr std::uint8_t kProtocolLevel311 = 4;  // "MQTT"

// CONNACK return codes (§3.2.2.3).
inline constexpr std::uint8_t kConnackAccepted = 0;
inline constexpr std::uint8_t kConnackUnacceptableProtocolVersion = 1;
inline constexpr std::uint8_t kConnackIdentifierRejected = 2;
inline constexpr std::uint8_t kConnackServerUnavailable = 3;
inline constexpr std::uint8_t kConnackBadUsernameOrPassword = 4;
inline constexpr std::uint8_t kConnackNotAuthorized = 5;

// SUBACK return code for a refused subscription (§3.9.3); 0..2 are granted QoS levels.
inline constexpr std::uint8_t kSubackFailure = 0x80;

struct Will {
  std::string topic;
  std::string payload;  // bytes
  std::uint8_t qos = 0;
  bool retain = false;
  bool operator==(const Will&) const = default;
};

struct Connect {
  std::uint8_t protocol_level = kProtocolLevel311;
  bool clean_session = true;
  std::uint16_t keep_alive = 0;  // seconds; 0 = no keep-alive
  std::string client_id;         // may be empty: the session decides (MQTT-3.1.3-6/7/8)
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::string> password;  // bytes
  bool operator==(const Connect&) const = default;
};

struct Connack {
  bool session_present = false;
  std::uint8_t return_code = kConnackAccepted;
  bool operator==(const Connack&) const = default;
};

struct Publish {
  std::string topic;
  std::string payload;  // bytes
  std::uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;  // 0 (absent on the wire) when qos == 0
  bool operator==(const Publish&) const = default;
};

struct Puback {
  std::uint16_t packet_id = 0;
  bool operator==(const Puback&) const = default;
};
struct Pubrec {
  std::uint16_t packet_id = 0;
  bool operator==(const Pubrec&) const = default;
};
struct Pubrel {
  std::uint16_t packet_id = 0;
  bool operator==(const Pubrel&) const = default;
};
struct Pubcomp {
  std::uint16_t packet_id = 0;
  bool operator==(const Pubcomp&) const = default;
};

// One topic filter of a SUBSCRIBE with its requested QoS.
struct SubscribeTopic {
  std::string filter;
  std::uint8_t qos = 0;
  bool operator==(const SubscribeTopic&) const = default;
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  std::vector<SubscribeTopic> topics;
  bool operator==(const Subscribe&) const = default;
};

struct Suback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> return_codes;  // granted QoS 0..2 or kSubackFailure, one per filter
  bool operator==(const Suback&) const = default;
};

struct Unsubscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters;
  bool operator==(const Unsubscribe&) const = default;
};

struct Unsuback {
  std::uint16_t packet_id = 0;
  bool operator==(const Unsuback&) const = default;
};

struct Pingreq {
  bool operator==(const Pingreq&) const = default;
};
struct Pingresp {
  bool operator==(const Pingresp&) const = default;
};
struct Disconnect {
  bool operator==(const Disconnect&) const = default;
};

// The alternatives are in packet type order: index() + 1 == PacketType value.
using Packet = std::variant<Connect, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp, Subscribe,
                            Suback, Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect>;

inline PacketType packet_type(const Packet& packet) {
  return static_cast<PacketType>(packet.index() + 1);
}

// Upper-case name as the spec writes it ("SUBSCRIBE"), for log lines.
inline std::string_view packet_name(PacketType type) {
  switch (type) {
    case PacketType::kConnect: return "CONNECT";
    case PacketType::kConnack: return "CONNACK";
    case PacketType::kPublish: return "PUBLISH";
    case PacketType::kPuback: return "PUBACK";
    case PacketType::kPubrec: return "PUBREC";
    case PacketType::kPubrel: return "PUBREL";
    case PacketType::kPubcomp: return "PUBCOMP";
    case PacketType::kSubscribe: return "SUBSCRIBE";
    case PacketType::kSuback: return "SUBACK";
    case PacketType::kUnsubscribe: return "UNSUBSCRIBE";
    case PacketType::kUnsuback: return "UNSUBACK";
    case PacketType::kPingreq: return "PINGREQ";
    case PacketType::kPingresp: return "PINGRESP";
    case PacketType::kDisconnect: return "DISCONNECT";
  }
  return "RESERVED";
}

}  // namespace fox::mqtt
