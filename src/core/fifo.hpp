// A first-in first-out queue on one std::vector: nothing allocated until the first push (a
// libstdc++ std::deque allocates ~600 bytes when it is constructed, which every idle
// connection paid per queue), no allocation per push once its capacity is there, and the
// capacity given back when a burst has drained.
#pragma once
#include <cstddef>
#include <utility>
#include <vector>

namespace fox {

template <class T>
class Fifo {
public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  void push_back(T value) { items_.push_back(std::move(value)); }
  void pop_front() {
    items_[head_] = T();   // what the element holds goes now
    if (++head_ == items_.size()) {
      clear_keeping(kKeep);
    } else if (head_ >= 64 && 2 * head_ >= items_.size()) {
      // The taken half is dropped (amortised: each element moves at most once per halving).
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() { clear_keeping(0); }

private:
  static constexpr std::size_t kKeep = 16;   // the capacity an emptied queue keeps
  void clear_keeping(std::size_t keep) {
    head_ = 0;
    if (items_.capacity() > keep) {
      std::vector<T>().swap(items_);
    } else {
      items_.clear();
    }
  }
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace fox
