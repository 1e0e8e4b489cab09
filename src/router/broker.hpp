// Publish/subscribe of one realm. One subscription per (topic pattern, match policy), shared by
// all its subscribers (WAMP: the same subscription id for everyone). Reverse map session →
// subscriptions makes leave() proportional to the session's own subscriptions.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/router.hpp"
#include "router/session.hpp"
#include "router/trie.hpp"
#include "router/types.hpp"

namespace fox {

// What one subscriber asked for on top of the shared subscription (fox `filter`, and `mute`
// while a snapshot subscription waits for its replay). Only subscribers that asked have one.
struct SubscriberOptions {
  Id session = 0;
  bool has_filter = false;
  Json filter;               // compared like `when` (kv_value.hpp) against each event's value
  bool mute = false;         // no live events (snapshot subscription)
};

struct Subscription : TrieEntry {
  Id id = 0;
  TopicParts topic;
  std::string uri;                 // dotted form of `topic`
  MatchPolicy match = MatchPolicy::kExact;
  bool pattern = false;            // matches other topics than its own: EVENT gets details.topic
  std::uint64_t created_ms = 0;
  std::vector<SessionEntry*> subscribers;  // in subscription order
  // By subscriber session; empty on the fast path (a map: thousands of filtered subscribers of
  // one topic must not make each publication quadratic).
  std::unordered_map<Id, SubscriberOptions> subscriber_options;
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

  Broker(IdCounter& subscription_ids, RouterEnv& env);
  ~Broker();

  SubscribeOutcome subscribe(SessionEntry& session, const TopicParts& topic, MatchPolicy match);
  // False when the session is not a subscriber of that subscription.
  bool unsubscribe(Id session, Id subscription, Removal* removal);
  // Every subscription of a session, removed (leave); what was removed, for meta events.
  std::vector<Removal> remove_session(Id session);

  // Sends one Event per matching subscription to every eligible subscriber of it.
  // Returns the number of send_event calls.
  std::size_t publish(const PublicationPtr& publication, const PublishOptions& options);

  // The router ends one subscriber's subscription on its own (snapshot done, revocation): the
  // subscriber is told through Peer::send_subscription_revoked. False when not subscribed.
  bool revoke(Id session, Id subscription, const std::string& reason, Removal* removal);

  // Per-subscriber options (filter, mute); `options.session` names the subscriber. Replaces any
  // earlier options of that subscriber. clear_subscriber_options() removes them.
  void set_subscriber_options(Id subscription, SubscriberOptions options);
  void clear_subscriber_options(Id subscription, Id session);
  static const SubscriberOptions* subscriber_options(const Subscription& sub, Id session);

  // Lookups for the meta API and for revocation.
  const Subscription* find(Id subscription) const;
  const Subscription* find(const std::string& uri, MatchPolicy match) const;
  std::vector<const Subscription*> match(const TopicParts& topic);
  std::vector<const Subscription*> all() const;
  std::size_t size() const { return by_id_.size(); }

private:
  using Key = std::pair<std::string, MatchPolicy>;
  Removal remove_subscriber(Subscription& sub, Id session);

  IdCounter& ids_;
  RouterEnv& env_;
  Trie trie_;
  std::map<Key, std::unique_ptr<Subscription>> by_key_;
  std::unordered_map<Id, Subscription*> by_id_;
  std::unordered_map<Id, std::vector<Subscription*>> by_session_;
  std::vector<TrieEntry*> scratch_;  // reused by publish(): no allocation per publication
  bool publishing_ = false;          // scratch_ in use (a Peer published from inside send_event)
};

}  // namespace fox
