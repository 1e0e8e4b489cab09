// One node of a masterfree cluster (SPEC §9) in a `fox serve --cluster` process: its roles
// (cluster/entry, ndb, sync — message-driven state machines) wired to the node links, to each
// other (in-process queue: messages copied, handled on a later loop turn, never re-entrantly),
// to raft (the sync group, cluster_raft.hpp), to SQLite (the ndb's storage, store/ndb_sqlite)
// and to the router (store/cluster_engine: an entry's publications and deliveries).
#pragma once
#include <uv.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cli/cluster_links.hpp"
#include "cli/cluster_raft.hpp"
#include "cluster/config.hpp"
#include "cluster/entry.hpp"
#include "cluster/ndb.hpp"
#include "cluster/sync.hpp"
#include "store/cluster_engine.hpp"
#include "store/ndb_sqlite.hpp"

namespace fox::cli {

class ClusterNode {
public:
  // `engine`: the router's engine when the node is an entry (else nullptr).
  ClusterNode(uv_loop_t* loop, const cluster::ClusterConfig& config, const cluster::NodeConfig& node,
              store::ClusterEngine* engine, bool sync_full);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  bool start(std::string* error);
  // The end of every loop turn: the ndb's group commit (then the TRIMs and RESOLVEDs that waited
  // for it).
  void end_of_turn();
  // Closes links and raft; `done` once raft's I/O is closed.
  void stop(std::function<void()> done);

  cluster::Entry* entry() { return entry_.get(); }
  // An entry's router: RPC across the entries (Router::set_remote) goes over the node links.
  void attach_router(Router* router);
  // fox.cluster.nodes (also /metrics and fox.stats): one object per node of the cluster file.
  Json status();

private:
  std::map<std::string, std::uint64_t> last_contact_;   // peer → when a link to it was last up
  std::map<std::string, bool> link_was_up_, peer_lost_;
  // fox.cluster.nodes: what each peer last said of itself (NODE_STATUS, every second), and when.
  std::map<std::string, std::pair<Json, std::uint64_t>> peer_status_;
  std::uint64_t status_sent_ = 0;
  Json own_status();
  struct Remote;
  std::unique_ptr<Remote> remote_;
  Router* router_ = nullptr;
  std::vector<std::string> entry_peers_;   // the other entry nodes
  std::uint64_t wills_checked_ = 0;
  struct Outboxes;
  void send(const std::string& to, const cluster::Message& message);
  // To each of them; the message is encoded once for all the remote ones.
  void send_all(const std::vector<std::string>& to, const cluster::Message& message);
  void receive(const std::string& from, const cluster::Message& message);
  void drain_local();
  void tick();
  bool lost(const std::string& peer) const;         // wills: no contact, and a sync quorum here
  bool no_contact(const std::string& peer) const;   // RPC: no link for entryTimeoutMs
  bool reaches_sync_quorum() const;
  std::uint64_t no_quorum_since_ = 0;   // when this node last lost its sync quorum (0: has it)
  bool fenced_ = false;

  uv_loop_t* loop_;
  const cluster::ClusterConfig& config_;
  cluster::NodeConfig node_;
  store::ClusterEngine* engine_;
  bool sync_full_;
  std::vector<std::string> entries_, ndbs_, syncs_;
  std::vector<std::string> push_to_;   // the entries this node's ndb pushes HISTORY to
  std::unique_ptr<NodeLinks> links_;
  std::unique_ptr<Outboxes> out_;
  std::unique_ptr<store::NdbSqlite> ndb_storage_;
  std::unique_ptr<cluster::Ndb> ndb_;
  std::unique_ptr<RaftGroup> raft_;
  std::unique_ptr<cluster::Sync> sync_;
  std::unique_ptr<cluster::Entry> entry_;
  std::deque<std::pair<std::string, cluster::Message>> local_;   // from this node to itself
  uv_timer_t* local_timer_ = nullptr;
  uv_timer_t* tick_timer_ = nullptr;
  bool stopped_ = false;
  std::uint64_t refused_ = 0;
};

}  // namespace fox::cli
