// Retained state of one realm (SPEC §5): the fox-wamp publish options retain / merge / when /
// watch / will, the WAMP testament meta procedures, the history ring, and the subscribe-side
// replays (retained, after, snapshot). Storage goes through RetainedStore / HistoryStore
// (kv_store.hpp); delivery, ids and revocation through KvHost (the realm).
//
// A publication that uses none of these options never comes here except for
// record() (history append): the hot path stays a trie walk plus one ring store.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/broker.hpp"
#include "router/kv_store.hpp"
#include "router/router.hpp"
#include "router/session.hpp"

namespace fox {

// What the KV logic needs from its realm.
class KvHost {
public:
  virtual ~KvHost() = default;
  virtual Id next_publication_id() = 0;
  // Runs fn(ok) after the writes made so far committed (at once without a store).
  virtual void after_commit(std::function<void(bool ok)> fn) = 0;
  virtual SessionEntry* find_session(Id session) = 0;
  // Live delivery to subscribers (broker) of an applied publication.
  virtual void deliver(const PublicationPtr& publication, const PublishOptions& options) = 0;
  virtual const Subscription* find_subscription(Id subscription) = 0;
  // The router ends a subscriber's subscription (snapshot complete).
  virtual void revoke(Id session, Id subscription, const std::string& reason) = 0;
};

// The fox subscribe options, parsed and type-checked.
struct KvSubscribe {
  bool retained = false;    // `retained` or `retainedState`
  bool snapshot = false;
  bool has_after = false;
  Id after = 0;
  bool has_filter = false;
  Json filter;
  bool replays() const { return retained || snapshot || has_after; }
};

// The fox publish options, parsed and type-checked.
struct KvPublish {
  bool retain = false;
  bool merge = false;
  bool watch = false;
  bool has_when = false;
  Json when;
  bool has_will = false;
  Json will;
};

// True when a publication needs the KV path (MQTT retain flag, or `retain`/`when`/`will`).
// No allocation, no parsing: a few lookups in the options object.
bool uses_kv(const Publication& pub, const Json& raw_options);
// False with `error` (wamp.error.invalid_argument) when an option has the wrong type.
bool parse_kv_publish(const Publication& pub, const Json& raw_options, KvPublish* out, Error* error);
bool parse_kv_subscribe(const Json& raw_options, KvSubscribe* out, Error* error);

class Storage;
struct StoredWill;

class Kv {
public:
  Kv(KvHost& host, RouterEnv& env);
  ~Kv();
  Kv(const Kv&) = delete;
  Kv& operator=(const Kv&) = delete;

  void set_options(const KvOptions& options);
  // Persistent engine: retained state and history in `storage`, wills written through.
  void attach_storage(Storage& storage, const std::string& realm);
  // Ids up to `id` count as applied for `retained` + `after` (seeded from the store at start).
  void seed_applied(Id id) { last_retained_id_ = std::max(last_retained_id_, id); }
  // A will left by a session of a previous process: the key becomes the will value.
  void apply_stale_will(const StoredWill& will);
  // PUBLISHED once the publication is committed; ERROR wamp.error.runtime_error when the
  // commit failed.
  void acknowledge(Id session, Id request, Id publication);

  // A publication that needs the KV path; id, publisher fields already filled except the id.
  void publish(Id session, Id request, Publication pub, const PublishOptions& options);
  // A plain publication was delivered (history).
  void record(const PublicationPtr& publication) { history_->append(publication); }

  // After SUBSCRIBED (and the meta events): replays, snapshot end.
  void subscribed(SessionEntry& session, const Subscription& subscription, const KvSubscribe& options);
  // The subscriber left the subscription (unsubscribe, revoke): pending replays are dropped.
  void unsubscribed(Id session, Id subscription);
  // A session left: its waiters are dropped, then its wills and testaments applied, then other
  // waiters re-checked.
  void leave(Id session, const SessionInfo& info);

  // wamp.session.add_testament / flush_testaments. False when `uri` is neither.
  bool handle_call(SessionEntry& caller, Id request, const std::string& uri, const Json& args,
                   const Json& kwargs);

  // For tests and metrics.
  PublicationPtr retained(const std::string& key) const { return retained_->get(key); }
  std::size_t waiter_count() const;
  std::size_t history_size() const { return history_->size(); }

private:
  struct Pending {
    Id session = 0;
    Id request = 0;
    Publication pub;
    PublishOptions options;
    KvPublish kv;
  };
  struct Will {
    Id owner = 0;
    TopicParts topic;
    Json value;
    bool disclose = false;
    std::string authid, authrole;
  };
  struct Testament {
    Publication pub;
    PublishOptions options;
    std::string scope;  // "destroyed" or "detached": both published when the session leaves
    std::uint64_t seq = 0;   // its row in the store
  };
  struct ReplayWaiter {
    Id session = 0;
    Id subscription = 0;
    Id after = 0;
    bool snapshot = false;
    bool has_filter = false;
    Json filter;
    RouterEnv::TimerId timer = 0;
  };

  void submit(Pending pending);
  bool condition_holds(const Pending& pending) const;
  void apply(Pending pending);
  void settle();
  void release_replays();
  void replay_expired(std::uint64_t waiter);
  void replay(SessionEntry& session, const Subscription& sub, const std::vector<PublicationPtr>& pubs,
              bool retained, bool has_filter, const Json& filter);
  void replay_retained(Id session, Id subscription, bool has_filter, const Json& filter);
  void end_snapshot(Id session, Id subscription);
  void clear_will(const std::string& key);

  KvHost& host_;
  RouterEnv& env_;
  Storage* storage_ = nullptr;
  std::string realm_;
  KvOptions options_;
  std::unique_ptr<RetainedStore> retained_;
  std::unique_ptr<HistoryStore> history_;
  Id last_retained_id_ = 0;  // highest id of an applied retained publication

  std::unordered_map<std::string, std::deque<Pending>> waiters_;  // key → FIFO (watch)
  std::unordered_map<Id, std::size_t> waiting_;                   // session → waiters it has
  static constexpr std::size_t kMaxWaitersPerSession = 1000;
  static constexpr std::size_t kMaxTestamentsPerSession = 100;
  std::deque<std::string> dirty_;   // keys changed since the last settle()
  bool settling_ = false;

  std::unordered_map<std::string, Will> wills_;                    // key → registration
  std::unordered_map<Id, std::vector<std::string>> wills_by_session_;
  std::unordered_map<Id, std::vector<Testament>> testaments_;
  std::uint64_t testament_seq_ = 0;

  std::uint64_t next_replay_waiter_ = 0;
  std::map<std::uint64_t, ReplayWaiter> replay_waiters_;  // in registration order
};

}  // namespace fox
