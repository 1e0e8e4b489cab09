// The FOX wire format (fox-wamp's "hyper" protocol, reference doc §4.1): a stream of
// concatenated MessagePack values, no length prefix, each one a map. Over WebSocket one map per
// binary frame. Pure: no I/O, never throws; fuzzable.
//
// The stream is cut into messages by a resumable scanner that reads only MessagePack headers
// (nlohmann has no streaming decoder), so a message that arrives in many pieces is scanned once,
// and a value that is not a map, a reserved byte (0xc1), nesting deeper than kMaxJsonNesting or a
// message longer than the limit is refused as soon as its header is seen — nothing is buffered or
// allocated on a declared length. Each complete message is then decoded by core's parse_json.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/json.hpp"

namespace fox::foxp {

enum class Next {
  kMessage,    // *message holds the next map
  kNeedMore,   // feed more bytes
  kError,      // *error says why; the connection must be closed (the decoder stays failed)
};

namespace detail {
struct ValueHeader;   // what a MessagePack type byte says (codec.cpp)
}

class StreamDecoder {
public:
  explicit StreamDecoder(std::size_t max_message_size);

  // Appends bytes of the stream (call next() until kNeedMore after each feed).
  void feed(std::string_view bytes);
  Next next(Json* message, std::string* error);
  // Bytes held: at most max_message_size plus the last feed.
  std::size_t buffered() const { return buffer_.size() - start_; }

private:
  Next scan(std::string* error);   // moves pos_; kMessage when a whole message ends at pos_
  bool admit(const detail::ValueHeader& header, std::string* error) const;
  bool take(const detail::ValueHeader& header, std::uint64_t length, std::string* error);
  bool fits() const;               // the message can still end within max_
  Next fail(std::string reason, std::string* error);
  void compact();                  // drops consumed bytes, amortised

  std::uint64_t max_;
  std::string buffer_;
  std::size_t start_ = 0;          // first byte of the message being scanned
  std::size_t pos_ = 0;            // next byte to scan
  std::uint64_t skip_ = 0;         // payload bytes of a value still to pass
  // Items not yet started in each open array/map (a map counts keys and values), innermost last:
  // counts, never storage, so a header announcing 2^32 items costs nothing.
  std::vector<std::uint64_t> open_;
  std::uint64_t pending_ = 0;      // sum of open_: each item needs at least one more byte
  bool in_message_ = false;        // the first header of the message has been read
  bool failed_ = false;
  std::string reason_;             // why it failed, repeated by every later next()
};

// Exactly one map in `bytes` (a WebSocket frame). False with *error otherwise.
bool decode_message(std::string_view bytes, std::size_t max_message_size, Json* out,
                    std::string* error);

// A message map as MessagePack, appended to `out`.
void encode_message(const Json& message, std::string& out);

// An id as FOX clients send it: a non-negative integer, or a float64 holding one (the reference
// client writes every integer beyond 32 bits as float64), at most 2^53.
bool read_id(const Json& value, Id* out);

}  // namespace fox::foxp
