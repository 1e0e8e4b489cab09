#include "wamp/rawsocket.hpp"

namespace fox::wamp::rawsocket {

int length_exponent(std::uint64_t max_bytes) {
  int e = 0;
  while (e < 15 && (std::uint64_t{1} << (9 + e + 1)) <= max_bytes) ++e;
  return e;
}

Handshake accept(const unsigned char request[4], std::uint64_t server_max_bytes,
                 bool (*supported)(int serializer)) {
  Handshake h;
  if (request[0] != kMagic) {
    h.fail_silently = true;
    h.error = "not a WAMP RawSocket client (first byte is not 0x7F)";
    return h;
  }
  auto fail = [&](HandshakeError code, std::string why) {
    h.reply[1] = static_cast<unsigned char>(static_cast<int>(code) << 4);
    h.error = std::move(why);
    return h;
  };
  if (request[2] != 0 || request[3] != 0) {
    return fail(HandshakeError::kReservedBits, "reserved handshake bytes are not zero");
  }
  int serializer = request[1] & 0x0F;
  int exponent = request[1] >> 4;
  if (!supported(serializer)) {
    return fail(HandshakeError::kSerializerUnsupported,
                "serializer " + std::to_string(serializer) + " is not supported");
  }
  h.ok = true;
  h.serializer = serializer;
  h.client_max = std::uint32_t{1} << (9 + exponent);
  h.reply[1] = static_cast<unsigned char>((length_exponent(server_max_bytes) << 4) | serializer);
  return h;
}

std::string frame_header(FrameType type, std::uint32_t length) {
  std::string h(4, '\0');
  h[0] = static_cast<char>(type);
  h[1] = static_cast<char>((length >> 16) & 0xFF);
  h[2] = static_cast<char>((length >> 8) & 0xFF);
  h[3] = static_cast<char>(length & 0xFF);
  return h;
}

FrameDecoder::Status FrameDecoder::next(FrameType* type, std::string_view* payload,
                                        std::string* error) {
  // Drop consumed bytes lazily: compact only when the consumed part dominates the buffer, so a
  // burst of small frames costs O(n) in total.
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ > buf_.size() / 2)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  if (buf_.size() - pos_ < 4) return Status::kNeedMore;
  const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
  if ((p[0] & 0xF8) != 0) {
    *error = "reserved bits set in a frame header";
    return Status::kError;
  }
  int t = p[0] & 0x07;
  if (t > 2) {
    *error = "unknown frame type " + std::to_string(t);
    return Status::kError;
  }
  std::uint32_t len = (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
  if (len > max_len_) {
    *error = "frame of " + std::to_string(len) + " bytes is over the negotiated maximum of " +
             std::to_string(max_len_);
    return Status::kError;
  }
  if (buf_.size() - pos_ < 4 + std::size_t{len}) return Status::kNeedMore;
  *type = static_cast<FrameType>(t);
  *payload = std::string_view(buf_.data() + pos_ + 4, len);
  pos_ += 4 + std::size_t{len};
  return Status::kFrame;
}

}  // namespace fox::wamp::rawsocket
