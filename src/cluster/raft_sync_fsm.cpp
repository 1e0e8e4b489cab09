#include "cluster/raft_sync_fsm.hpp"

#include <cstring>
#include <new>

namespace fox::cluster {

RaftSyncFsm::RaftSyncFsm() {
  fsm_.version = 1;
  fsm_.data = this;
  fsm_.apply = &RaftSyncFsm::apply_cb;
  fsm_.snapshot = &RaftSyncFsm::snapshot_cb;
  fsm_.restore = &RaftSyncFsm::restore_cb;
}

// No exception may leave a callback: raft is C. Out of memory is the only one possible; raft
// then retries the apply later, which is harmless (a request applied already answers duplicate).
int RaftSyncFsm::apply_cb(raft_fsm* fsm, const raft_buffer* buf, void** result) {
  auto* self = static_cast<RaftSyncFsm*>(fsm->data);
  try {
    auto results = self->state_.apply({static_cast<const std::uint8_t*>(buf->base), buf->len});
    self->last_.malformed = !results;
    self->last_.results = results ? std::move(*results) : std::vector<AssignResult>{};
  } catch (const std::bad_alloc&) {
    return RAFT_NOMEM;
  }
  ++self->applied_;
  *result = &self->last_;
  return 0;
}

int RaftSyncFsm::snapshot_cb(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs) {
  auto* self = static_cast<RaftSyncFsm*>(fsm->data);
  std::vector<std::uint8_t> bytes;
  try {
    bytes = self->state_.snapshot();
  } catch (const std::bad_alloc&) {
    return RAFT_NOMEM;
  }
  auto* array = static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer)));
  void* base = raft_malloc(bytes.size());
  if (array == nullptr || base == nullptr) {
    raft_free(array);
    raft_free(base);
    return RAFT_NOMEM;
  }
  std::memcpy(base, bytes.data(), bytes.size());
  array[0].base = base;
  array[0].len = bytes.size();
  *bufs = array;
  *n_bufs = 1;
  ++self->snapshots_;
  return 0;
}

int RaftSyncFsm::restore_cb(raft_fsm* fsm, raft_buffer* buf) {
  auto* self = static_cast<RaftSyncFsm*>(fsm->data);
  bool ok = false;
  try {
    ok = self->state_.restore({static_cast<const std::uint8_t*>(buf->base), buf->len});
  } catch (const std::bad_alloc&) {
    return RAFT_NOMEM;
  }
  if (!ok) {
    ++self->refused_snapshots_;
    return RAFT_MALFORMED;
  }
  raft_free(buf->base);
  ++self->restores_;
  return 0;
}

raft_buffer make_raft_command(std::span<const SegmentRequest> requests) {
  raft_buffer buf{nullptr, 0};
  std::vector<std::uint8_t> bytes;
  try {
    bytes = encode_command(requests);
  } catch (const std::bad_alloc&) {
    return buf;
  }
  if (bytes.empty()) return buf;
  buf.base = raft_malloc(bytes.size());
  if (buf.base == nullptr) return buf;
  std::memcpy(buf.base, bytes.data(), bytes.size());
  buf.len = bytes.size();
  return buf;
}

}  // namespace fox::cluster
