// The sync group's agreement in a node: Canonical raft (raft_uv: its log, term, vote and
// snapshots under the node's data directory, on the node's libuv loop) replicating the
// SyncState of cluster/sync_fsm.hpp through RaftSyncFsm. raft's own TCP transport has no
// authentication, so its transport here is the cluster's: every raft connection is a node link
// (cluster_links.hpp) authenticated by the cluster secret, then handed to raft as a plain stream.
//
// Servers are the cluster file's sync nodes, raft ids 1..n in the file's order, each addressed by
// its node name. The first start of a node bootstraps that configuration (a later one finds it
// in its raft directory). Only the leader answers a proposal; elsewhere it gets no answer and the
// ndb drafts again when its entry resends the segment. A segment this server has applied is
// answered from its state by any sync (applied means committed); the drafts of a segment being
// proposed wait for that one proposal.
#pragma once
#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli/cluster_links.hpp"
#include "cluster/config.hpp"
#include "cluster/raft_sync_fsm.hpp"
#include "cluster/sync.hpp"

extern "C" {
#include <raft/uv.h>
}

namespace fox::cli {

class RaftGroup final : public cluster::SyncAgreement {
public:
  RaftGroup(uv_loop_t* loop, const cluster::ClusterConfig& config, std::string self,
            NodeLinks& links);
  ~RaftGroup() override;
  RaftGroup(const RaftGroup&) = delete;
  RaftGroup& operator=(const RaftGroup&) = delete;

  // raft's directory is `dir` (created if missing). False with *error when raft cannot start.
  bool start(const std::string& dir, std::string* error);
  // Closes raft; `done` once its I/O is closed (the loop must run until then).
  void stop(std::function<void()> done);

  void propose(const std::string& owner, std::uint64_t segment, std::uint64_t count,
               std::function<void(const cluster::AssignResult&)> done) override;
  std::uint64_t last_segment(const std::string& owner) const override {
    return fsm_.state().last_segment(owner);
  }
  Id head() const override { return fsm_.state().next_id() - 1; }

  bool leader();
  // raft_close() was called and its I/O has not closed yet.
  bool closing() const { return io_ready_ && !raft_ready_; }
  std::string state_name();
  std::uint64_t term() const { return raft_ready_ ? raft_.current_term : 0; }
  // Logs a change of this server's raft state (called on the node's tick).
  void watch();

private:
  struct Apply;
  struct Dial;
  static int t_init(raft_uv_transport* t, raft_id id, const char* address);
  static int t_listen(raft_uv_transport* t, raft_uv_accept_cb cb);
  static int t_connect(raft_uv_transport* t, raft_uv_connect* req, raft_id id,
                       const char* address, raft_uv_connect_cb cb);
  static void t_close(raft_uv_transport* t, raft_uv_transport_close_cb cb);
  raft_id id_of(const std::string& node) const;

  uv_loop_t* loop_;
  const cluster::ClusterConfig& config_;
  std::string self_;
  NodeLinks& links_;
  cluster::RaftSyncFsm fsm_;
  raft_uv_transport transport_{};
  raft_io io_{};
  struct raft raft_{};
  bool io_ready_ = false, raft_ready_ = false, closing_ = false;
  raft_uv_accept_cb accept_cb_ = nullptr;
  std::map<Dial*, std::unique_ptr<Dial>> dials_;
  // Segments proposed and not applied yet → who waits for the answer.
  std::map<std::pair<std::string, std::uint64_t>,
           std::vector<std::function<void(const cluster::AssignResult&)>>> proposing_;
  std::function<void()> stopped_;
  int last_state_ = -1;
};

}  // namespace fox::cli
