// Publish/subscribe of one realm. One subscription per (topic pattern, match policy, options),
// shared by all its subscribers (WAMP: the same subscription id for everyone). Reverse map session →
// subscriptions makes leave() proportional to the session's own subscriptions.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/auth.hpp"
#include "router/router.hpp"
#include "router/session.hpp"
#include "router/trie.hpp"
#include "router/types.hpp"

namespace fox {

// What makes two subscriptions of the same topic pattern different (fox `filter`, `snapshot`,
// and the MQTT rule for meta topics). A subscription is identified by (pattern, match policy,
// these options): sessions that ask for the same get the same subscription id, one that asks
// for another filter gets a subscription of its own.
struct SubscriptionOptions {
  bool has_filter = false;
  Json filter;               // compared like `when` (kv_value.hpp) against each event's value
  bool snapshot = false;     // replay only: no live events; revoked once the replay is done
  bool hide_meta = false;    // a first-level wildcard does not match wamp.* meta topics (MQTT)
};

struct Subscription : TrieEntry {
  Id id = 0;
  TopicParts topic;                // the pattern (wildcards as markers, core/topic.hpp)
  std::string uri;                 // its WAMP text (wamp_uri)
  MatchPolicy match = MatchPolicy::kExact;
  SubscriptionOptions options;
  bool pattern = false;            // matches other topics than its own: EVENT gets details.topic
  bool wildcard_first = false;     // the first part is a wildcard (for hide_meta)
  std::uint64_t created_ms = 0;
  std::vector<SessionEntry*> subscribers;  // in subscription order
  // Subscribers that get no live events for now (their `after` replay is catching up); empty on
  // the fast path.
  std::unordered_set<Id> muted;
};

class Broker {
public:
  struct SubscribeOutcome {
    Id subscription = 0;
    bool created = false;   // a new subscription (meta: on_create)
    bool added = false;     // the session was not subscribed yet (meta: on_subscribe)
  };
  struct Removal {
    Id subscription = 0;
    bool deleted = false;   // the last subscriber left (meta: on_delete)
  };

  Broker(IdCounter& subscription_ids, Env& env);
  ~Broker();

  SubscribeOutcome subscribe(SessionEntry& session, const TopicParts& topic, MatchPolicy match,
                             const SubscriptionOptions& options = {});
  // False when the session is not a subscriber of that subscription.
  bool unsubscribe(Id session, Id subscription, Removal* removal);
  // Every subscription of a session, removed (leave); what was removed, for meta events.
  std::vector<Removal> remove_session(Id session);

  // Sends one Delivery per matching subscription to every eligible subscriber of it.
  // Returns the number of send_event calls.
  std::size_t publish(const PublicationPtr& publication, const PublishOptions& options);

  // The router ends one subscriber's subscription on its own (snapshot done, revocation): the
  // subscriber is told through Peer::send_subscription_revoked. False when not subscribed.
  bool revoke(Id session, Id subscription, const std::string& reason, Removal* removal);

  // A subscriber that gets no live events of this subscription (its replay catches up) or gets
  // them again.
  void mute(Id subscription, Id session, bool muted);

  // Lookups for the meta API and for revocation.
  const Subscription* find(Id subscription) const;
  // The plain subscription (no filter, no snapshot) of that pattern text and policy, else any of
  // that pattern and policy; nullptr when there is none.
  const Subscription* find(const std::string& uri, MatchPolicy match) const;
  std::vector<const Subscription*> match(const TopicParts& topic);
  // Some subscription matches the topic (meta events are built only then).
  bool has_subscribers(const TopicParts& topic);
  std::vector<const Subscription*> all() const;
  std::size_t size() const { return by_id_.size(); }
  // A secured realm (core/auth.hpp): a pattern subscription gets only the events its role may
  // subscribe to, topic by topic (an exact one was checked when it subscribed).
  void set_policy(const auth::RealmPolicy* policy) { policy_ = policy; }
  const auth::RealmPolicy* policy() const { return policy_; }

private:
  const auth::RealmPolicy* policy_ = nullptr;
  // (pattern text, policy, filter as JSON text, snapshot, hide_meta): pattern text first, so the
  // subscriptions of one pattern are neighbours in the map.
  using Key = std::tuple<std::string, MatchPolicy, std::string, bool, bool>;
  static Key key_of(const Subscription& sub);
  Removal remove_subscriber(Subscription& sub, Id session);

  IdCounter& ids_;
  Env& env_;
  Trie trie_;
  std::map<Key, std::unique_ptr<Subscription>> by_key_;
  std::unordered_map<Id, Subscription*> by_id_;
  std::unordered_map<Id, std::vector<Subscription*>> by_session_;
  std::vector<TrieEntry*> scratch_;  // reused by publish(): no allocation per publication
  bool publishing_ = false;          // scratch_ in use (a Peer published from inside send_event)
};

}  // namespace fox
