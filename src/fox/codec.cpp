#include "fox/codec.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

namespace fox::foxp {

// What a value's type byte says (MessagePack spec, "Formats"). Every value is a header (the type
// byte, `field` bytes of big-endian length, `extra` bytes: ext's type) then `length` bytes of
// payload (kBytes: strings, binaries, exts and the fixed bytes of numbers) or `length` items
// (containers; a map's length counts its pairs). With no field the length is `fixed`.
namespace detail {
struct ValueHeader {
  enum class Kind : std::uint8_t { kBytes, kArray, kMap, kReserved };
  Kind kind;
  std::uint8_t field;
  std::uint8_t extra;
  std::uint32_t fixed;

  std::size_t size() const { return 1u + field + extra; }
};
}  // namespace detail

namespace {

using Header = detail::ValueHeader;
using Kind = Header::Kind;

// After a big message the buffer's capacity is given back, so thousands of idle connections do
// not each keep the largest message they ever saw.
constexpr std::size_t kKeptCapacity = 64 * 1024;

// Beyond any buffer; keeps the size arithmetic (bytes + skip + pending counts) from overflowing.
constexpr std::uint64_t kLargestLimit = std::uint64_t{1} << 48;

constexpr Header payload(std::uint32_t size) { return {Kind::kBytes, 0, 0, size}; }
constexpr Header sized(Kind kind, std::uint8_t field, std::uint8_t extra = 0) {
  return {kind, field, extra, 0};
}

Header header_of(std::uint8_t b) {
  if (b <= 0x7f || b >= 0xe0) return payload(0);   // positive and negative fixint
  if (b <= 0x8f) return {Kind::kMap, 0, 0, b & 0x0fu};
  if (b <= 0x9f) return {Kind::kArray, 0, 0, b & 0x0fu};
  if (b <= 0xbf) return payload(b & 0x1fu);        // fixstr
  switch (b) {
    case 0xc0: case 0xc2: case 0xc3: return payload(0);   // nil, false, true
    case 0xc4: return sized(Kind::kBytes, 1);             // bin 8/16/32
    case 0xc5: return sized(Kind::kBytes, 2);
    case 0xc6: return sized(Kind::kBytes, 4);
    case 0xc7: return sized(Kind::kBytes, 1, 1);          // ext 8/16/32
    case 0xc8: return sized(Kind::kBytes, 2, 1);
    case 0xc9: return sized(Kind::kBytes, 4, 1);
    case 0xca: return payload(4);                         // float 32/64
    case 0xcb: return payload(8);
    case 0xcc: case 0xd0: return payload(1);              // (u)int 8/16/32/64
    case 0xcd: case 0xd1: return payload(2);
    case 0xce: case 0xd2: return payload(4);
    case 0xcf: case 0xd3: return payload(8);
    case 0xd4: return payload(2);                         // fixext 1/2/4/8/16, with the type
    case 0xd5: return payload(3);
    case 0xd6: return payload(5);
    case 0xd7: return payload(9);
    case 0xd8: return payload(17);
    case 0xd9: return sized(Kind::kBytes, 1);             // str 8/16/32
    case 0xda: return sized(Kind::kBytes, 2);
    case 0xdb: return sized(Kind::kBytes, 4);
    case 0xdc: return sized(Kind::kArray, 2);
    case 0xdd: return sized(Kind::kArray, 4);
    case 0xde: return sized(Kind::kMap, 2);
    case 0xdf: return sized(Kind::kMap, 4);
    default: return {Kind::kReserved, 0, 0, 0};           // 0xc1, never used
  }
}

// The length or count of the header at the start of `rest`; nullopt while its bytes (at most 6)
// have not all arrived.
std::optional<std::uint64_t> length_of(const Header& header, std::string_view rest) {
  if (rest.size() < header.size()) return std::nullopt;
  std::uint64_t length = header.fixed;
  for (std::size_t i = 1; i <= header.field; ++i) {
    length = length << 8 | static_cast<std::uint8_t>(rest[i]);
  }
  return length;
}

bool refuse(std::string* error, std::string reason) {
  *error = std::move(reason);
  return false;
}

std::string over_limit(std::uint64_t max) {
  return "a message over " + std::to_string(max) + " bytes";
}

std::string parse_failure(JsonParse result) {
  switch (result) {
    case JsonParse::kTooDeep: return "nesting deeper than " + std::to_string(kMaxJsonNesting);
    case JsonParse::kBadLength: return "a container longer than its message";
    default:
      // The scanner has checked every header, so what is left is what nlohmann refuses.
      return "invalid MessagePack (a map key that is not a string)";
  }
}

}  // namespace

StreamDecoder::StreamDecoder(std::size_t max_message_size)
    : max_(std::min<std::uint64_t>(max_message_size, kLargestLimit)) {}

void StreamDecoder::feed(std::string_view bytes) {
  if (failed_) return;   // the connection is closing: nothing more is kept
  compact();
  buffer_.append(bytes);
}

Next StreamDecoder::next(Json* message, std::string* error) {
  if (failed_) {
    *error = reason_;
    return Next::kError;
  }
  std::string reason;
  const Next scanned = scan(&reason);
  if (scanned == Next::kError) return fail(std::move(reason), error);
  if (scanned == Next::kNeedMore) return Next::kNeedMore;

  const std::string_view bytes(buffer_.data() + start_, pos_ - start_);
  const JsonParse parsed = parse_json(JsonFormat::kMsgpack, bytes, message);
  if (parsed != JsonParse::kOk) return fail(parse_failure(parsed), error);
  start_ = pos_;
  in_message_ = false;
  compact();
  return Next::kMessage;
}

Next StreamDecoder::scan(std::string* error) {
  for (;;) {
    // A payload is passed over in whatever pieces it arrives: each byte once.
    const std::uint64_t here = std::min<std::uint64_t>(skip_, buffer_.size() - pos_);
    pos_ += static_cast<std::size_t>(here);
    skip_ -= here;
    if (skip_ > 0) return Next::kNeedMore;
    if (in_message_ && open_.empty()) return Next::kMessage;
    if (pos_ == buffer_.size()) return Next::kNeedMore;
    const Header header = header_of(static_cast<std::uint8_t>(buffer_[pos_]));
    if (!admit(header, error)) return Next::kError;
    // An incomplete header is read again when more arrives: at most 6 bytes, not the message.
    const std::optional<std::uint64_t> length =
        length_of(header, std::string_view(buffer_).substr(pos_));
    if (!length) return Next::kNeedMore;
    if (!take(header, *length, error)) return Next::kError;
  }
}

// Everything the type byte alone decides, so that a bad value is refused at its first byte.
bool StreamDecoder::admit(const Header& header, std::string* error) const {
  if (header.kind == Kind::kReserved) return refuse(error, "reserved byte 0xc1");
  if (!in_message_ && header.kind != Kind::kMap) return refuse(error, "a message is not a map");
  // This value is one of pending_ (in a message); the others need a byte each after its header.
  const std::uint64_t after = in_message_ ? pending_ - 1 : 0;
  if (pos_ - start_ + header.size() + after > max_) return refuse(error, over_limit(max_));
  if (header.kind != Kind::kBytes && open_.size() >= static_cast<std::size_t>(kMaxJsonNesting)) {
    // As deep as parse_json allows: every container counts, the empty ones too.
    return refuse(error, "nesting deeper than " + std::to_string(kMaxJsonNesting));
  }
  return true;
}

bool StreamDecoder::take(const Header& header, std::uint64_t length, std::string* error) {
  if (in_message_) {
    --open_.back();   // this value is the next item of the innermost container
    --pending_;
  }
  in_message_ = true;
  pos_ += header.size();
  if (header.kind == Kind::kBytes) {
    skip_ = length;
  } else {
    const std::uint64_t items = header.kind == Kind::kMap ? length * 2 : length;
    if (items > 0) {
      open_.push_back(items);
      pending_ += items;
    }
  }
  while (!open_.empty() && open_.back() == 0) open_.pop_back();
  if (!fits()) return refuse(error, over_limit(max_));
  return true;
}

bool StreamDecoder::fits() const {
  const std::uint64_t used = pos_ - start_;
  if (used > max_) return false;
  const std::uint64_t room = max_ - used;
  return skip_ <= room && pending_ <= room - skip_;
}

Next StreamDecoder::fail(std::string reason, std::string* error) {
  failed_ = true;
  reason_ = std::move(reason);
  *error = reason_;
  std::string().swap(buffer_);
  start_ = pos_ = 0;
  open_.clear();
  return Next::kError;
}

void StreamDecoder::compact() {
  if (start_ == buffer_.size()) {
    if (buffer_.capacity() > kKeptCapacity) {
      std::string().swap(buffer_);
    } else {
      buffer_.clear();
    }
    pos_ -= start_;
    start_ = 0;
  } else if (start_ > buffer_.size() / 2) {
    // Moves fewer bytes than were consumed since the last move: linear in the stream overall.
    buffer_.erase(0, start_);
    pos_ -= start_;
    start_ = 0;
  }
}

bool decode_message(std::string_view bytes, std::size_t max_message_size, Json* out,
                    std::string* error) {
  if (bytes.size() > max_message_size) {
    *error = over_limit(max_message_size);
    return false;
  }
  // The stream's checks and reasons, on a copy of the frame (cheap next to building the DOM).
  StreamDecoder decoder(max_message_size);
  decoder.feed(bytes);
  switch (decoder.next(out, error)) {
    case Next::kMessage:
      if (decoder.buffered() == 0) return true;
      *error = "bytes after the message";
      return false;
    case Next::kNeedMore:
      *error = bytes.empty() ? "an empty message" : "a message cut short";
      return false;
    case Next::kError: return false;
  }
  return false;
}

void encode_message(const Json& message, std::string& out) {
  const std::size_t before = out.size();
  try {
    Json::to_msgpack(message, out);
  } catch (...) {
    // The MessagePack writer throws nothing of its own; only allocation can fail. Nothing
    // half-written is left for the peer.
    out.resize(before);
  }
}

bool read_id(const Json& value, Id* out) {
  if (value.is_number_unsigned()) {
    const auto id = value.get<std::uint64_t>();
    if (id > kMaxId) return false;
    *out = id;
    return true;
  }
  if (value.is_number_integer()) {
    const auto id = value.get<std::int64_t>();
    if (id < 0 || static_cast<std::uint64_t>(id) > kMaxId) return false;
    *out = static_cast<Id>(id);
    return true;
  }
  if (value.is_number_float()) {
    const double id = value.get<double>();
    // NaN fails the range test; 2^53 and every integer below it are exact in a double.
    if (!(id >= 0 && id <= static_cast<double>(kMaxId)) || std::floor(id) != id) return false;
    *out = static_cast<Id>(id);
    return true;
  }
  return false;
}

}  // namespace fox::foxp
