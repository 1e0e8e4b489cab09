// Binds SyncState (sync_fsm.hpp) to Canonical raft's `struct raft_fsm` (version 1): raft calls
// apply for every committed command, snapshot when its log is long, restore when it loads or
// receives a snapshot. Buffer ownership follows raft.h 0.15:
// - apply: raft owns the command's buffer. `*result` points into this object (the outcome of
//   the last apply, valid until the next one): raft hands it to the raft_apply callback of the
//   leader that proposed the command, and drops it everywhere else, so nothing is allocated.
// - snapshot: the buffer array and the buffer are raft_malloc()ed here; raft raft_free()s both
//   (version 1, no snapshot_finalize).
// - restore: on success this object raft_free()s the buffer; on failure raft frees it.
// A malformed command is applied as a no-op on every node (outcome `malformed`), not refused:
// raft stops applying at an entry whose apply fails, and retries it forever. A malformed
// snapshot is refused (RAFT_MALFORMED).
#pragma once

extern "C" {
#include <raft.h>
}

#include <span>
#include <vector>

#include "cluster/sync_fsm.hpp"

namespace fox::cluster {

// What a committed command did; `result` of the raft_apply callback points to one.
struct SyncApplied {
  bool malformed = false;
  std::vector<AssignResult> results;  // one per request of the command, in order
};

class RaftSyncFsm {
 public:
  RaftSyncFsm();
  RaftSyncFsm(const RaftSyncFsm&) = delete;
  RaftSyncFsm& operator=(const RaftSyncFsm&) = delete;

  // For raft_init(); this object must outlive the raft instance.
  raft_fsm* fsm() { return &fsm_; }
  const SyncState& state() const { return state_; }
  // Commands applied (malformed ones included), snapshots taken, restored and refused.
  std::uint64_t applied() const { return applied_; }
  std::uint64_t snapshots() const { return snapshots_; }
  std::uint64_t restores() const { return restores_; }
  std::uint64_t refused_snapshots() const { return refused_snapshots_; }

  // The outcome a raft_apply callback got as `result`.
  static const SyncApplied& outcome(const void* result) {
    return *static_cast<const SyncApplied*>(result);
  }

 private:
  static int apply_cb(raft_fsm* fsm, const raft_buffer* buf, void** result);
  static int snapshot_cb(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs);
  static int restore_cb(raft_fsm* fsm, raft_buffer* buf);

  raft_fsm fsm_{};
  SyncState state_;
  SyncApplied last_;
  std::uint64_t applied_ = 0;
  std::uint64_t snapshots_ = 0;
  std::uint64_t restores_ = 0;
  std::uint64_t refused_snapshots_ = 0;
};

// A command for raft_apply(): `encode_command` copied into raft_malloc() memory. When
// raft_apply() returns 0 raft owns `base`; otherwise the caller raft_free()s it. base is null
// (len 0) when the requests cannot be encoded or memory is short.
raft_buffer make_raft_command(std::span<const SegmentRequest> requests);

}  // namespace fox::cluster
