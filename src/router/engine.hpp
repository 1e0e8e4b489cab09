// What the router needs from an engine: the log that decides event ids, the retained state of a
// realm, and (if it keeps anything across restarts) the wills. store/ has the memory and SQLite
// engines; the cluster's entry role is an engine too. No SQLite, no I/O here: interfaces.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "router/pattern.hpp"
#include "router/types.hpp"

namespace fox {

struct PublishOptions;

// One publication in the log, as append() returns it.
struct Appended {
  std::uint64_t ticket = 0;      // the engine's handle (for on_durable)
  PublicationPtr publication;    // with its id when the engine decided it at once; else null
};

// For engines that decide ids with a counter: the next id after `last` (wrapping within
// [1, 2^53]), given to the publication; `last` moves on.
inline Appended append_with_next_id(Id& last, Publication&& publication) {
  last = last >= kMaxId ? 1 : last + 1;
  publication.id = last;
  Appended out;
  out.ticket = last;
  out.publication = std::make_shared<const Publication>(std::move(publication));
  return out;
}

// A retained-state (KV) publication handed to a log that delivers itself (a cluster): its effect
// is decided when it is committed, on every node in id order (Realm::apply_committed), and these
// come back with it on the node it was published to.
struct KvTag {
  Id request = 0;          // the publisher's request, answered at apply (PUBLISHED or ERROR)
  bool acknowledge = false;
  Id will_fire = 0;        // a will being fired: the id of the event that registered it
  Json options;            // the KV options as published (retain, merge, when, watch, will)
};

// Where a committed publication comes from, as the log that delivers it tells the realm.
struct CommitOrigin {
  bool here = false;            // published by this node's current incarnation
  std::string node;             // the node it was published on
  std::uint64_t instance = 0;   // that node's incarnation (wills are owned per incarnation)
  KvTag kv;                     // as given to EventLog::audience (only meaningful when here,
                                // except will_fire)
  bool live = true;             // false: history from before this node served (applied to the
                                // retained state, not sent to subscribers)
};

// Up to so many rows are read by one scan() step: a replay over a million rows is many steps, each
// a bounded piece of one loop turn.
inline constexpr std::size_t kScanRows = 256;

template <typename Position>
struct ScanPage {
  std::vector<PublicationPtr> publications;  // the matching ones, in order
  Position next{};                           // where the next page starts (exclusive)
  bool done = false;                         // nothing after `next`
};

// The ordered log of the publications of every realm (SPEC §8). The engine decides the event id:
// increasing in append order, in [1, 2^53], never reused.
class EventLog {
public:
  using DurableFn = std::function<void(const PublicationPtr& publication, bool ok)>;
  virtual ~EventLog() = default;

  virtual Appended append(const std::string& realm, Publication&& publication) = 0;
  // fn(publication, ok) once the appended publication is durable: at once for an engine without
  // a commit (durable_at_once), after the loop turn's commit for SQLite, at its resolution for a
  // cluster; ok = false when that commit failed (the publication is lost: answer with an error,
  // never with a success). Calls come in append order.
  virtual void on_durable(const Appended& appended, DurableFn fn) = 0;
  virtual bool durable_at_once() const = 0;
  // The log itself delivers every committed publication, local or not, in id order (a cluster
  // entry: Realm::apply_committed); on_durable then only acknowledges.
  virtual bool delivers_itself() const { return false; }
  // For a log that delivers itself: who may receive the publication just appended (called right
  // after append(), before on_durable()).
  // `kv`: a retained-state write, decided at commit (see KvTag); nullptr for a plain one.
  virtual void audience(const Appended& /*appended*/, const PublishOptions& /*options*/,
                        const KvTag* /*kv*/) {}
  // For a log that delivers itself: this node and incarnation (the owner of the wills its
  // sessions register), and whether another node is lost (its wills are due).
  virtual std::string node_name() const { return {}; }
  virtual std::uint64_t instance() const { return 0; }
  virtual bool node_lost(const std::string& /*node*/) const { return false; }
  // The router that asked for on_durable callbacks is going away: the pending ones are dropped,
  // never called (an engine may outlive its router).
  virtual void forget_durable_callbacks() = 0;
  // Every id up to this one is durable (replays read no further, so a subscriber never sees an
  // event a crash could still lose).
  virtual Id durable_id() const = 0;
  // The highest id of `realm` that retention dropped from the history in this process (0: none).
  // A replay still behind it has lost rows it was counting on.
  virtual Id evicted_upto(const std::string& realm) const = 0;
  // History replay: the publications of `realm` with after < id <= upto that the pattern matches,
  // in id order, at most kScanRows rows read (next = the last id read, or `upto` when done).
  virtual ScanPage<Id> scan(const std::string& realm, Id after, Id upto,
                            PatternMatcher& pattern) = 0;
};

// The retained values of one realm: key (the topic's WAMP text, wamp_uri) → the publication that
// is its current value.
class RetainedState {
public:
  virtual ~RetainedState() = default;
  virtual PublicationPtr get(const std::string& key) = 0;
  virtual void put(const std::string& key, PublicationPtr value) = 0;
  virtual void erase(const std::string& key) = 0;
  // The values whose topic the pattern matches, in key order, starting after key `after`
  // ("" = from the first), at most kScanRows rows read (next = the last key read).
  virtual ScanPage<std::string> scan(PatternMatcher& pattern, const std::string& after) = 0;
  virtual std::size_t size() = 0;
};

// A `will` registration (publish option `will`, SPEC §5) as kept: applied when its session
// leaves, or at the next start when the process died first.
struct StoredWill {
  std::string realm;
  std::string key;          // the topic's WAMP text
  TopicParts topic;
  Json value;               // null = delete the key
  Id owner = 0;             // session id that registered it
  bool disclose = false;
  std::string authid, authrole;
  // In a cluster: the node and incarnation of the owner, and the id of the event that
  // registered the will (what a will firing names, so a late duplicate changes nothing).
  std::string node;
  std::uint64_t instance = 0;
  Id registration = 0;
};

// A WAMP testament (wamp.session.add_testament) of a joined session.
struct StoredTestament {
  std::string realm;
  Id owner = 0;             // session id that added it
  std::uint64_t seq = 0;    // order among the owner's testaments
  std::string scope;        // "destroyed" or "detached"
  std::string topic;        // WAMP text (wamp_uri)
  Json args = nullptr, kwargs = nullptr;
  Json options = Json::object();  // publish options
  std::string authid, authrole;
  bool disclose = false;
};

// Wills and testaments written through to a store, so a crash of fox does not lose them. Every
// call is one write in the current transaction.
class WillStore {
public:
  virtual ~WillStore() = default;
  virtual void put_will(const StoredWill& will) = 0;
  virtual void erase_will(const std::string& realm, const std::string& key) = 0;
  virtual std::vector<StoredWill> load_wills() = 0;
  virtual void put_testament(const StoredTestament& testament) = 0;
  // The owner's testaments of that scope ("" = every scope).
  virtual void erase_testaments(const std::string& realm, Id owner, const std::string& scope) = 0;
  virtual std::vector<StoredTestament> load_testaments() = 0;
};

class Engine {
public:
  virtual ~Engine() = default;
  virtual EventLog& log() = 0;
  virtual std::unique_ptr<RetainedState> retained(const std::string& realm) = 0;
  // nullptr: nothing is kept across restarts (memory).
  virtual WillStore* wills() = 0;
};

}  // namespace fox
