// The bound on what one connection may have queued for sending (ARCHITECTURE.md: every queue is
// bounded, and what happens at the bound is written down). Pure accounting, no I/O: net/ counts
// every frame it queues here, protocol sessions say what kind of frame it is.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fox {

// 64-bit on every target (a 32-bit size_t would wrap at 4 x 1 GiB).
struct OutboundLimits {
  std::uint64_t messages = 10000;                  // limits.session_queue
  std::uint64_t bytes = std::uint64_t{16} << 20;   // limits.session_queue_bytes
};

enum class SendKind {
  kNormal,     // counted; still queued while the reader catches up (see OutboundBudget)
  kDroppable,  // counted; dropped when the queue is over its limits (MQTT QoS 0)
  kReplay,     // not counted: a replay burst the client asked for
};

enum class SendResult {
  kQueued,
  kDropped,    // a droppable frame met a full queue: not sent
  kOverflow,   // not queued: the reader stays too far behind (disconnect it)
};

// A queue over its limits (either one) drops droppable frames at once and keeps queueing normal
// ones for a while, so a healthy reader is not cut off by a burst; a reader that stays over the
// limits for kGraceMs, or lets the queue grow to kHardFactor times them, gets kOverflow.
class OutboundBudget {
public:
  static constexpr std::uint64_t kGraceMs = 5000;
  static constexpr std::uint64_t kHardFactor = 4;

  explicit OutboundBudget(OutboundLimits limits = {}) : limits_(limits) {}
  void set_limits(OutboundLimits limits) { limits_ = limits; }
  const OutboundLimits& limits() const { return limits_; }

  // Whether a frame of `bytes` may be queued now. A kQueued normal or droppable frame is counted
  // until release(); a replay frame is never counted (do not release it).
  SendResult admit(std::size_t bytes, SendKind kind, std::uint64_t now_ms);
  void release(std::size_t bytes);
  void clear();

  std::uint64_t messages() const { return messages_; }
  std::uint64_t bytes() const { return bytes_; }
  bool over() const { return messages_ >= limits_.messages || bytes_ >= limits_.bytes; }
  // Over half the limits: a replay waits until the reader caught up (flow control).
  bool over_half() const {
    return 2 * messages_ >= limits_.messages || 2 * bytes_ >= limits_.bytes;
  }

private:
  OutboundLimits limits_;
  std::uint64_t messages_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t over_since_ = 0;   // 0 = not over the limits
  bool over_marked_ = false;
};

}  // namespace fox
