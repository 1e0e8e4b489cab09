#include "core/outbound.hpp"

#include <cstdint>

namespace fox {

SendResult OutboundBudget::admit(std::size_t bytes, SendKind kind, std::uint64_t now_ms) {
  if (kind == SendKind::kReplay) return SendResult::kQueued;
  if (over()) {
    if (kind == SendKind::kDroppable) return SendResult::kDropped;
    if (over_marked_ && now_ms >= over_since_ && now_ms - over_since_ >= kGraceMs) {
      return SendResult::kOverflow;
    }
  }
  // Saturating: limits near 2^64 mean "no hard bound", never a wrapped small one.
  auto hard = [](std::uint64_t limit) {
    return limit > UINT64_MAX / kHardFactor ? UINT64_MAX : limit * kHardFactor;
  };
  if (messages_ + 1 > hard(limits_.messages) || bytes_ + bytes > hard(limits_.bytes)) {
    return SendResult::kOverflow;
  }
  ++messages_;
  bytes_ += bytes;
  if (over() && !over_marked_) {
    over_marked_ = true;
    over_since_ = now_ms;
  }
  return SendResult::kQueued;
}

void OutboundBudget::release(std::size_t bytes) {
  if (messages_ > 0) --messages_;
  bytes_ = bytes_ >= bytes ? bytes_ - bytes : 0;
  if (!over()) over_marked_ = false;
}

void OutboundBudget::clear() {
  messages_ = 0;
  bytes_ = 0;
  over_marked_ = false;
}

}  // namespace fox
