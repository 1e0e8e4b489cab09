// Identifiers: every WAMP id (session, request, subscription, registration, publication,
// invocation) and every event id is an integer in [1, 2^53] (WAMP spec, "Identifiers").
#pragma once
#include <cstdint>

namespace fox {
using Id = std::uint64_t;
inline constexpr Id kMaxId = 9007199254740992ULL;  // 2^53

inline bool valid_id(Id id) { return id >= 1 && id <= kMaxId; }

// Random-scope ids (session ids, ...): uniformly random in [1, 2^53].
// Router-scope ids (subscription, registration, invocation): this counter, wrapping within range.
class IdCounter {
public:
  Id next() {
    next_ = next_ >= kMaxId ? 1 : next_ + 1;
    return next_;
  }
  // The last id handed out; seed() makes the next one `last + 1` (ids restored from a store).
  Id last() const { return next_; }
  void seed(Id last) { next_ = last >= kMaxId ? 0 : last; }

private:
  Id next_ = 0;
};
}  // namespace fox
