// WAMP RawSocket framing (WAMP spec, "RawSocket Transport"): the 4-byte handshake and the
// 4-byte frame header (5 reserved bits, 3 bits type, 24-bit big-endian length). Pure, no I/O.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace fox::wamp::rawsocket {

inline constexpr unsigned char kMagic = 0x7F;
enum class FrameType : std::uint8_t { kMessage = 0, kPing = 1, kPong = 2 };
// Handshake error codes (sent as the high nibble of the second reply byte).
enum class HandshakeError : std::uint8_t {
  kSerializerUnsupported = 1, kMaxLengthUnacceptable = 2, kReservedBits = 3, kMaxConnections = 4,
};

struct Handshake {
  bool ok = false;
  bool fail_silently = false;   // not a RawSocket client at all (bad magic): just close
  int serializer = 0;           // 1 json, 2 msgpack, 3 cbor
  std::uint32_t client_max = 0; // the longest message the client accepts
  unsigned char reply[4] = {kMagic, 0, 0, 0};
  std::string error;            // for the log line
};

// The largest length exponent (2^(9+e) bytes) not above `max_bytes` (at least 512 bytes).
int length_exponent(std::uint64_t max_bytes);
// Checks the client's 4 handshake bytes and builds the reply. `supported(serializer)` says which
// serializer numbers the router speaks.
Handshake accept(const unsigned char request[4], std::uint64_t server_max_bytes,
                 bool (*supported)(int serializer));

std::string frame_header(FrameType type, std::uint32_t length);

// Splits a byte stream into frames. Bounded: a frame longer than `max_len` is an error reported
// as soon as its header arrived, before its body is buffered.
class FrameDecoder {
public:
  explicit FrameDecoder(std::uint32_t max_len) : max_len_(max_len) {}
  enum class Status { kNeedMore, kFrame, kError };
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // On kFrame, `type` and `payload` (valid until the next call) describe it.
  Status next(FrameType* type, std::string_view* payload, std::string* error);

private:
  std::uint32_t max_len_;
  std::string buf_;
  std::size_t pos_ = 0;
};

}  // namespace fox::wamp::rawsocket
