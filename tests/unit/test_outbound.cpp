// core/outbound: the budget of one connection's outbound queue (messages and bytes).
#include <doctest/doctest.h>

#include "core/outbound.hpp"

using namespace fox;

namespace {
OutboundLimits limits(std::uint64_t messages, std::uint64_t bytes) {
  OutboundLimits l;
  l.messages = messages;
  l.bytes = bytes;
  return l;
}
}  // namespace

TEST_CASE("under its limits everything is queued and counted until released") {
  OutboundBudget b(limits(10, 1000));
  CHECK(b.admit(100, SendKind::kNormal, 0) == SendResult::kQueued);
  CHECK(b.admit(100, SendKind::kDroppable, 0) == SendResult::kQueued);
  CHECK(b.messages() == 2);
  CHECK(b.bytes() == 200);
  b.release(100);
  b.release(100);
  CHECK(b.messages() == 0);
  CHECK(b.bytes() == 0);
}

TEST_CASE("over the message or the byte limit a droppable frame is dropped, a normal one queued") {
  OutboundBudget by_count(limits(2, 1 << 20));
  by_count.admit(1, SendKind::kNormal, 0);
  by_count.admit(1, SendKind::kNormal, 0);
  CHECK(by_count.over());
  CHECK(by_count.admit(1, SendKind::kDroppable, 0) == SendResult::kDropped);
  CHECK(by_count.admit(1, SendKind::kNormal, 0) == SendResult::kQueued);
  OutboundBudget by_bytes(limits(1000, 100));
  by_bytes.admit(150, SendKind::kNormal, 0);
  CHECK(by_bytes.admit(1, SendKind::kDroppable, 0) == SendResult::kDropped);
}

TEST_CASE("a reader that stays over the limits for the grace period overflows") {
  OutboundBudget b(limits(2, 1 << 20));
  b.admit(1, SendKind::kNormal, 1000);
  b.admit(1, SendKind::kNormal, 1000);   // over from t = 1000
  CHECK(b.admit(1, SendKind::kNormal, 1000 + OutboundBudget::kGraceMs - 1) == SendResult::kQueued);
  CHECK(b.admit(1, SendKind::kNormal, 1000 + OutboundBudget::kGraceMs) == SendResult::kOverflow);
}

TEST_CASE("a reader that catches up within the grace period starts a new one") {
  OutboundBudget b(limits(2, 1 << 20));
  b.admit(1, SendKind::kNormal, 0);
  b.admit(1, SendKind::kNormal, 0);
  b.release(1);
  b.release(1);                           // under again
  b.admit(1, SendKind::kNormal, 9000);
  b.admit(1, SendKind::kNormal, 9000);    // over again from t = 9000
  CHECK(b.admit(1, SendKind::kNormal, 9001) == SendResult::kQueued);
}

TEST_CASE("the queue never grows past the hard factor of its limits") {
  OutboundBudget b(limits(2, 1 << 20));
  for (std::uint64_t i = 0; i < 2 * OutboundBudget::kHardFactor; ++i) {
    CHECK(b.admit(1, SendKind::kNormal, 0) == SendResult::kQueued);
  }
  CHECK(b.admit(1, SendKind::kNormal, 0) == SendResult::kOverflow);
  OutboundBudget bytes(limits(100, 100));
  CHECK(bytes.admit(100 * OutboundBudget::kHardFactor + 1, SendKind::kNormal, 0) ==
        SendResult::kOverflow);
}

TEST_CASE("replay frames are never counted or refused") {
  OutboundBudget b(limits(1, 10));
  for (int i = 0; i < 100; ++i) CHECK(b.admit(1000, SendKind::kReplay, 0) == SendResult::kQueued);
  CHECK(b.messages() == 0);
  CHECK_FALSE(b.over());
}

TEST_CASE("limits near 2^64 never wrap into a tiny hard bound") {
  OutboundBudget b(limits(std::uint64_t{1} << 62, std::uint64_t{1} << 62));
  CHECK(b.admit(100, SendKind::kNormal, 0) == SendResult::kQueued);
  OutboundBudget gib(limits(10000, std::uint64_t{1} << 30));   // 4 x 1 GiB does not fit in 32 bits
  CHECK(gib.admit(100, SendKind::kNormal, 0) == SendResult::kQueued);
}
