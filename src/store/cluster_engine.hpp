// The engine of a cluster entry node (SPEC §9): the router's log is the cluster. A publication
// goes to the entry role (cluster/entry.hpp) as a ClusterEvent; its publisher is acknowledged
// when the segment it is in has its permanent ids (ADVANCE_SEGMENT_RESOLVED), and every
// committed event of the cluster — from this entry or any other — is delivered to the local
// subscribers by the entry, in permanent-id order (delivers_itself), so every node delivers the
// same sequence. What was delivered is kept for `after` replays in a bounded ring per realm (a
// MemoryEngine fed with ids decided by the cluster); after a restart the entry catches up from
// the ndbs.
//
// Not yet (issue 13, "the cluster as one broker"): retained state, `when`/`watch` and `will`.
// The router applies them at append time from the publication the log returns, and this log
// returns none (its ids come later), so in cluster mode a `retain: true` publication is
// delivered but not kept, and a `when` sees no value: issue 13 makes retained state a projection
// of the committed history, applied in id order on every entry.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "cluster/entry.hpp"
#include "router/engine.hpp"
#include "router/router.hpp"
#include "store/memory_engine.hpp"

namespace fox::store {

// A publication as the cluster carries it, and back (also used by the tests).
cluster::ClusterEvent to_cluster_event(const std::string& node, const Publication& pub,
                                       const PublishOptions* audience);
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
  // Called once, when the entry may serve (a sync quorum accepted it).
  void on_ready(std::function<void()> fn) { on_ready_ = std::move(fn); }

  // Engine
  EventLog& log() override { return *this; }
  std::unique_ptr<RetainedState> retained(const std::string& realm) override {
    return memory_.retained(realm);
  }
  WillStore* wills() override { return nullptr; }

  // EventLog
  Appended append(const std::string& realm, Publication&& publication) override;
  void audience(const Appended& appended, const PublishOptions& options) override;
  void on_durable(const Appended& appended, DurableFn fn) override;
  bool durable_at_once() const override { return false; }
  bool delivers_itself() const override { return true; }
  void forget_durable_callbacks() override;
  Id durable_id() const override { return memory_.durable_id(); }
  Id evicted_upto(const std::string& realm) const override { return memory_.evicted_upto(realm); }
  ScanPage<Id> scan(const std::string& realm, Id after, Id upto, PatternMatcher& pattern) override {
    return memory_.scan(realm, after, upto, pattern);
  }

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

  std::string node_;
  MemoryEngine memory_;
  cluster::Entry* entry_ = nullptr;
  Router* router_ = nullptr;
  std::function<void()> on_ready_;
  std::deque<Pending> pending_;   // append order; tickets consecutive
  std::uint64_t next_ticket_ = 1;
  std::uint64_t refused_ = 0, delivered_ = 0;
  bool releasing_ = false;
};

}  // namespace fox::store
