// The parts of one realm, shared by the files that each do one of its jobs:
//   realm.cpp    sessions, subscribe/register/call commands, meta events
//   publish.cpp  the life of a publication (validate → conditions → log → retained → delivery)
//   replay.cpp   replays a subscription asked for (after, retained, snapshot), in bounded steps
// Internal to router/.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "core/ids.hpp"
#include "router/broker.hpp"
#include "router/conditions.hpp"
#include "router/dealer.hpp"
#include "router/engine.hpp"
#include "router/pattern.hpp"
#include "router/router.hpp"
#include "router/session.hpp"
#include "router/wills.hpp"

namespace fox {

// One replay in progress (replay.cpp).
// Replays one session may run at once (one per subscription); one more revokes its subscription.
inline constexpr std::size_t kMaxReplaysPerSession = 1000;

struct ReplayCursor {
  enum class Phase { kHistory, kWaitApplied, kRetained, kDone };
  Id session = 0;
  Id subscription = 0;
  ReplayRequest request;
  Phase phase = Phase::kDone;
  Id history_position = 0;           // the last history id read
  std::string retained_position;     // the last retained key read
  std::unique_ptr<PatternMatcher> matcher;
  Env::TimerId wait_timer = 0;       // kWaitApplied: the bounded wait for `after`
  Env::TimerId step_timer = 0;       // a continuation on the next loop turn
  bool waiting_durable = false;      // kRetained: for the commit of the last retained write
  std::uint64_t waited_ticket = 0;   // the write it waited for (once per write: a failed commit)
  Id live_from = 0;                  // kHistory: live events after this id are muted, so the
                                     // history must still hold them when the cursor gets there
};

// A publication appended to the log and not yet durable: delivered and acknowledged then.
struct WaitingDelivery {
  PublishOptions options;
  Id session = 0;
  Id request = 0;
  Id id = 0;              // the event id, when the engine decided it at append
  bool deliver = true;    // false: nobody subscribed to its topic at publish time
  bool acked_at_apply = false;   // a cluster's KV write: answered when applied, here only an
                                 // error (the cluster refused it)
  std::string in_flight_key{};   // a cluster: the key of a waiter proposed again (in_flight)
};

// A cluster: another entry node as this realm sees it (remote.cpp). Its proxy session is the
// callee of that node's registrations here (calls to them go there) and the caller of the calls
// that node forwards here (their answers go back there). Not in `sessions`: no meta, no id a
// client sees (ids above 2^53).
struct RemoteNode final : Peer {
  Realm::Impl* realm = nullptr;
  std::string node;
  std::uint64_t instance = 0;   // that node's incarnation: a new one starts from nothing
  SessionEntry entry;

  void send_published(Id, Id) override {}
  void send_event(const Delivery&) override {}
  void send_subscription_revoked(Id, const std::string&) override {}
  void send_registration_revoked(Id, const std::string&) override {}
  void send_invocation(const Invocation& invocation) override;
  void send_interrupt(Id invocation, const std::string& mode) override;
  void send_result(Id call_request, const Result& result) override;
  void send_error(RequestType type, Id request, const Error& error) override;
  void send(Json message);
};

// A cluster: last words (an MQTT will, a WAMP testament) registered by a committed event, as
// every node holds them (router.hpp: Realm::keep_last_words).
struct LastWords {
  std::string node;
  std::uint64_t instance = 0;
  Id owner = 0;
  std::uint64_t token = 0;   // the owner's node names it so (drop_last_words)
  Publication pub;
  Json options = Json::object();   // its publish options (retain, ...)
};

struct Realm::Impl {
  Impl(Router& router, const std::string& name);
  ~Impl();

  Router& router;
  Env& env;
  EventLog& log;
  const std::string& name;
  IdCounter subscription_ids;
  IdCounter registration_ids;
  SessionMap sessions;
  Broker broker;
  Dealer dealer;
  std::unique_ptr<RetainedState> retained;
  Waiters waiters;
  Wills wills;
  Testaments testaments;
  std::deque<std::string> dirty;     // keys changed since the last settle()
  bool settling = false;
  Id last_applied = 0;               // every retained publication up to this id is applied
  Appended last_retained_write;
  // In append order, which is the order the log reports durability in (engine.hpp).
  std::deque<WaitingDelivery> undelivered;      // its durability is what a retained replay waits for
  // A cluster (the log delivers itself): keys whose waiter this node re-proposed and whose
  // outcome it has not applied yet (one at a time per key: FIFO per entry), and the wills whose
  // firing it proposed (registration → when, to propose again if it got lost).
  std::map<std::string, std::pair<Id, Id>> in_flight;   // key → (session, request) proposed
  std::map<Id, std::uint64_t> fired;
  std::map<Id, LastWords> last_words;   // by the id of the event that registered them
  std::map<std::string, std::uint64_t> newest_instance;   // per node, of its committed KV events
  std::map<Id, Env::TimerId> kicks;   // sessions to end on the next turn (their will was fired)
  std::uint64_t last_words_token = 0;
  // A cluster (remote.cpp): the other entry nodes, and the dealer's local_version() last
  // announced to them.
  std::map<std::string, std::unique_ptr<RemoteNode>> remotes;
  std::uint64_t announced = ~std::uint64_t{0};
  Id next_proxy = kMaxId;
  std::uint64_t next_cursor = 0;
  std::map<std::uint64_t, ReplayCursor> cursors;   // in start order
  std::map<std::string, PublicationPtr> system_retained;   // publish_system's, by uri

  // A secured realm's policy (core/auth.hpp), else nullptr (everything allowed).
  const auth::RealmPolicy* policy = nullptr;
  void refresh_policy();   // from the router's policy (at creation, and when it is replaced)
  bool permitted(const SessionEntry& session, const TopicParts& topic, auth::Action action,
                 MatchPolicy match = MatchPolicy::kExact) const;

  SessionEntry* session(Id id) {
    auto it = sessions.find(id);
    return it == sessions.end() ? nullptr : it->second.get();
  }

  // realm.cpp
  void publish_meta(const char* uri, Json args);
  void subscription_removed(Id session, const Broker::Removal& removal);
  void registration_removed(Id session, const Dealer::Removal& removal);
  void revoke(Id session, Id subscription, const std::string& reason);

  // publish.cpp
  void publish(Pending&& pending);          // validated: conditions, then apply
  void apply(Pending&& pending);
  // The key's value after `live` (replace, merge, delete); its will registration is cleared.
  void write_retained(const std::string& key, const PublicationPtr& live, bool merge);
  StoredWill will_of(const Publication& live, Json value);   // registered by `live`'s publisher
  void settle();
  void deliver_when_durable(const Appended& appended, Id session, Id request,
                            PublishOptions&& options);
  void durable(const PublicationPtr& publication, bool ok);   // the oldest undelivered one
  void acknowledge(Id session, Id request, Id publication, bool ok);
  void refuse(Id session, Id request, bool acknowledge, const Error& error);
  void leave(Id session);                   // waiters dropped, wills and testaments published
  // A cluster: the KV write goes to the log; its effect comes back through apply_committed.
  void propose(Pending&& pending, Id will_fire, std::string in_flight_key = {});
  // Appends a publication with its tag as it is; `w` waits for its resolution.
  void propose_tagged(Pending&& pending, KvTag tag, std::string in_flight_key = {});
  // A last words event (keep, drop, fire: {op, t | of}) committed: false when it has no effect
  // or needs no delivery; *fire: the last words to publish now (a firing that applies).
  bool apply_last_words(const PublicationPtr& pub, const CommitOrigin& origin, const Json& op,
                        Json* fire_options);
  void propose_will(const StoredWill& will);
  bool apply_committed(const PublicationPtr& pub, const PublishOptions& audience,
                       const CommitOrigin& origin);
  void check_wills(std::uint64_t now_ms);    // proposes the wills whose owner is gone
  void fence();                              // ends the sessions that own wills here
  void kick_later(Id owner, const char* reason);   // Peer::kick on the next turn

  // remote.cpp
  RemoteNode& remote(const std::string& node, std::uint64_t instance);   // a new incarnation: anew
  void remote_lost(const std::string& node);   // its registrations go, calls to it end
  bool remote_table(RemoteNode& remote, const Json& table);   // false: malformed
  Json local_table() const;
  // The registration's callees go (the node `winner` registered it `single` first): local
  // callees are told UNREGISTERED with the reason.
  void evict(Id registration, const std::string& winner);

  // replay.cpp
  void start_replay(SessionEntry& session, const Subscription& sub, const ReplayRequest& request);
  void run_replay(std::uint64_t cursor);
  void resume_replays(Id session);
  void replays_applied();                   // last_applied moved: waiting retained replays run
  void drop_replays(Id session, Id subscription);   // subscription 0: every one of the session
};

}  // namespace fox
