// The engine of a cluster entry node (SPEC §9): the router's log is the cluster. A publication
// goes to the entry role (cluster/entry.hpp) as a ClusterEvent; its publisher is acknowledged
// when the segment it is in has its permanent ids (ADVANCE_SEGMENT_RESOLVED), and every
// committed event of the cluster — from this entry or any other — is delivered to the local
// subscribers by the entry, in permanent-id order (delivers_itself), so every node delivers the
// same sequence. What was delivered is kept for `after` replays in a bounded ring per realm (a
// MemoryEngine fed with ids decided by the cluster); what the ring no longer holds is read from
// the ndb on this node, when it runs one (set_history), less the committed events that had no
// effect here (a `when` that failed ...). After a restart the entry catches up from the ndbs.
//
// Retained state (`retain`, `merge`, `when`, `will`) is a projection of the committed history:
// every committed event goes through Realm::apply_committed in id order on every entry (history
// from before this entry served included), so every entry holds the same retained values, a
// `when` is decided at its place in the order, and the publisher's entry answers it then.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "cluster/entry.hpp"
#include "router/engine.hpp"
#include "router/router.hpp"
#include "store/memory_engine.hpp"

namespace fox::store {

// A publication as the cluster carries it, and back (also used by the tests).
cluster::ClusterEvent to_cluster_event(const std::string& node, const Publication& pub,
                                       const PublishOptions* audience,
                                       const KvTag* kv = nullptr, std::uint64_t instance = 0);
PublicationPtr from_cluster_event(const cluster::ClusterEvent& event);
// Who may receive it on `node`: the publisher's session lists apply only on the node it
// published to (session ids are per node), its authid/authrole lists everywhere.
PublishOptions audience_on(const std::string& node, const cluster::ClusterEvent& event);

class ClusterEngine final : public Engine, public EventLog, public cluster::EntrySink {
public:
  ClusterEngine(std::string node, std::size_t history_per_realm);

  // The entry role publications go to, and the router committed events are delivered to.
  void attach(cluster::Entry* entry, Router* router) {
    entry_ = entry;
    router_ = router;
  }
  // Called once, when the entry may serve: a sync quorum accepted it and it applied the history
  // up to the head that quorum knew (a restarted entry's retained state is whole before a
  // client can read it).
  void on_ready(std::function<void()> fn) { on_ready_ = std::move(fn); }
  // The permanent history of this node's ndb: `contiguous` (every id up to it is there) and
  // `read` (events with ids in from..upto, increasing, at most max). `after` replays read what
  // the ring evicted from it. Without it (an entry with no ndb of its own), a replay the ring
  // cannot serve is revoked (fox.history.overrun).
  using HistoryRead = std::function<std::vector<cluster::ClusterEvent>(Id from, Id upto, std::size_t max)>;
  void set_history(std::function<Id()> contiguous, HistoryRead read) {
    history_contiguous_ = std::move(contiguous);
    history_read_ = std::move(read);
  }
  // At most this many ids of committed events that had no effect here are remembered (8 bytes
  // each); past it the oldest half goes and the ndb serves replays only after them.
  static constexpr std::size_t kMaxNotApplied = 1u << 18;

  // Engine
  EventLog& log() override { return *this; }
  std::unique_ptr<RetainedState> retained(const std::string& realm) override {
    return memory_.retained(realm);
  }
  WillStore* wills() override { return nullptr; }

  // EventLog
  Appended append(const std::string& realm, Publication&& publication) override;
  void audience(const Appended& appended, const PublishOptions& options,
                const KvTag* kv) override;
  std::string node_name() const override { return node_; }
  std::uint64_t instance() const override { return instance_; }
  bool node_lost(const std::string& node) const override { return node_lost_ && node_lost_(node); }
  // This incarnation (wills its sessions register are owned by it), and who decides that a
  // node is lost (the node's links: no contact for the cluster's entryTimeoutMs).
  void set_instance(std::uint64_t instance) { instance_ = instance; }
  void on_node_lost(std::function<bool(const std::string&)> fn) { node_lost_ = std::move(fn); }
  // A few times a second: wills that are due (Router::check_wills).
  void tick() {
    if (router_ && entry_ && entry_->ready()) router_->check_wills(router_->env().now_ms());
  }
  void on_durable(const Appended& appended, DurableFn fn) override;
  bool durable_at_once() const override { return false; }
  bool delivers_itself() const override { return true; }
  void forget_durable_callbacks() override;
  Id durable_id() const override { return memory_.durable_id(); }
  Id evicted_upto(const std::string& realm) const override;
  ScanPage<Id> scan(const std::string& realm, Id after, Id upto, PatternMatcher& pattern) override;

  // EntrySink
  void ready() override;
  void acknowledged(std::uint64_t ticket, Id id) override;
  void deliver(const cluster::ClusterEvent& event, bool live) override;

  std::uint64_t refused() const { return refused_; }
  std::uint64_t delivered() const { return delivered_; }

private:
  struct Pending {
    std::uint64_t ticket = 0;
    std::string realm;
    PublicationPtr publication;   // without its id; dropped once handed to the entry
    Id id = 0;
    bool done = false, ok = false;
    DurableFn fn;
  };
  Pending* find(std::uint64_t ticket);
  void release();   // the callbacks of the oldest done publications, in append order
  void maybe_serve();   // on_ready once accepted and caught up
  void apply(const cluster::ClusterEvent& event, bool live);   // one committed event
  bool accepted_ = false, serving_ = false;

  std::string node_;
  MemoryEngine memory_;
  cluster::Entry* entry_ = nullptr;
  Router* router_ = nullptr;
  std::function<void()> on_ready_;
  std::function<bool(const std::string&)> node_lost_;
  std::uint64_t instance_ = 0;
  std::deque<Pending> pending_;   // append order; tickets consecutive
  std::uint64_t next_ticket_ = 1;
  std::uint64_t refused_ = 0, delivered_ = 0;
  bool releasing_ = false;
  std::function<Id()> history_contiguous_;
  HistoryRead history_read_;
  std::vector<Id> not_applied_;   // increasing: committed events that had no effect here
  Id not_applied_floor_ = 0;      // the list forgot the ids up to it
};

}  // namespace fox::store
