#include "router/broker.hpp"

#include <algorithm>

#include "core/topic.hpp"
#include "router/kv_value.hpp"

namespace fox {

namespace {

// Exclusion/eligibility lists arrive unsorted; sorted once per publication so that each
// subscriber check is a binary search, not a scan.
template <typename T>
std::vector<T> sorted(const std::vector<T>& items) {
  std::vector<T> out(items);
  std::sort(out.begin(), out.end());
  return out;
}

template <typename T>
bool contains(const std::vector<T>& sorted_items, const T& item) {
  return std::binary_search(sorted_items.begin(), sorted_items.end(), item);
}

// The publisher's black/white lists, prepared once per publication.
struct Audience {
  Id publisher = 0;
  bool exclude_me = true;
  std::vector<Id> exclude, eligible;
  std::vector<std::string> exclude_authid, eligible_authid, exclude_authrole, eligible_authrole;
  bool has_eligible = false, has_eligible_authid = false, has_eligible_authrole = false;
  bool trivial = true;  // nothing but exclude_me: the common fast path

  Audience(Id publisher_id, const PublishOptions& options)
      : publisher(publisher_id),
        exclude_me(options.exclude_me),
        has_eligible(options.has_eligible),
        has_eligible_authid(options.has_eligible_authid),
        has_eligible_authrole(options.has_eligible_authrole) {
    trivial = options.exclude.empty() && options.exclude_authid.empty() &&
              options.exclude_authrole.empty() && !has_eligible && !has_eligible_authid &&
              !has_eligible_authrole;
    if (trivial) return;
    exclude = sorted(options.exclude);
    eligible = sorted(options.eligible);
    exclude_authid = sorted(options.exclude_authid);
    eligible_authid = sorted(options.eligible_authid);
    exclude_authrole = sorted(options.exclude_authrole);
    eligible_authrole = sorted(options.eligible_authrole);
  }

  bool admits(const SessionEntry& session) const {
    if (exclude_me && publisher != 0 && session.id == publisher) return false;
    if (trivial) return true;
    if (contains(exclude, session.id)) return false;
    if (contains(exclude_authid, session.info.authid)) return false;
    if (contains(exclude_authrole, session.info.authrole)) return false;
    if (has_eligible && !contains(eligible, session.id)) return false;
    if (has_eligible_authid && !contains(eligible_authid, session.info.authid)) return false;
    if (has_eligible_authrole && !contains(eligible_authrole, session.info.authrole)) return false;
    return true;
  }
};

}  // namespace

namespace {

// The filter as part of a subscription's identity: the MessagePack bytes of the filter with its
// object members sorted, so {"a":1,"b":2} and {"b":2,"a":1} are the same filter (Json keeps
// member order) and filters that differ in any byte are different ones (JSON text would replace
// invalid UTF-8). Only at subscribe time.
std::string filter_text(const SubscriptionOptions& options) {
  if (!options.has_filter) return std::string();
  std::string out;
  Json::to_msgpack(json_sorted(options.filter), out);
  return out;
}

}  // namespace

Broker::Broker(IdCounter& subscription_ids, Env& env) : ids_(subscription_ids), env_(env) {}
Broker::~Broker() = default;

Broker::Key Broker::key_of(const Subscription& sub) {
  return Key(sub.uri, sub.match, filter_text(sub.options), sub.options.snapshot,
             sub.options.hide_meta);
}

Broker::SubscribeOutcome Broker::subscribe(SessionEntry& session, const TopicParts& topic,
                                           MatchPolicy match, const SubscriptionOptions& options) {
  SubscribeOutcome outcome;
  std::string uri = wamp_uri(topic);
  auto& slot = by_key_[Key(uri, match, filter_text(options), options.snapshot, options.hide_meta)];
  if (!slot) {
    slot = std::make_unique<Subscription>();
    slot->id = ids_.next();
    slot->topic = topic;
    slot->uri = std::move(uri);
    slot->match = match;
    slot->options = options;
    slot->pattern = match != MatchPolicy::kExact || has_wildcard_part(topic);
    slot->wildcard_first = !topic.empty() && (is_wildcard_part(topic[0]) ||
                                              (match == MatchPolicy::kWildcard && topic[0].empty()));
    slot->created_ms = env_.now_ms();
    trie_.insert(slot->topic, match, slot.get());
    by_id_[slot->id] = slot.get();
    outcome.created = true;
  }
  Subscription& sub = *slot;
  outcome.subscription = sub.id;
  auto& subscribers = sub.subscribers;
  if (std::find(subscribers.begin(), subscribers.end(), &session) != subscribers.end()) {
    return outcome;  // subscribing twice gives the same subscription, once
  }
  subscribers.push_back(&session);
  by_session_[session.id].push_back(&sub);
  outcome.added = true;
  return outcome;
}

Broker::Removal Broker::remove_subscriber(Subscription& sub, Id session) {
  Removal removal{sub.id, false};
  if (!sub.muted.empty()) sub.muted.erase(session);
  auto& subscribers = sub.subscribers;
  subscribers.erase(std::remove_if(subscribers.begin(), subscribers.end(),
                                   [session](const SessionEntry* s) { return s->id == session; }),
                    subscribers.end());
  if (!subscribers.empty()) return removal;
  removal.deleted = true;
  trie_.erase(sub.topic, sub.match, &sub);
  by_id_.erase(sub.id);
  by_key_.erase(key_of(sub));  // destroys `sub`
  return removal;
}

bool Broker::unsubscribe(Id session, Id subscription, Removal* removal) {
  auto sub_it = by_id_.find(subscription);
  if (sub_it == by_id_.end()) return false;
  auto session_it = by_session_.find(session);
  if (session_it == by_session_.end()) return false;
  auto& mine = session_it->second;
  auto mine_it = std::find(mine.begin(), mine.end(), sub_it->second);
  if (mine_it == mine.end()) return false;
  mine.erase(mine_it);
  if (mine.empty()) by_session_.erase(session_it);
  Removal result = remove_subscriber(*sub_it->second, session);
  if (removal) *removal = result;
  return true;
}

bool Broker::revoke(Id session, Id subscription, const std::string& reason, Removal* removal) {
  auto sub_it = by_id_.find(subscription);
  if (sub_it == by_id_.end()) return false;
  Peer* peer = nullptr;
  for (SessionEntry* subscriber : sub_it->second->subscribers) {
    if (subscriber->id == session) peer = subscriber->peer;
  }
  if (!peer || !unsubscribe(session, subscription, removal)) return false;
  peer->send_subscription_revoked(subscription, reason);
  return true;
}

std::vector<Broker::Removal> Broker::remove_session(Id session) {
  std::vector<Removal> removals;
  auto it = by_session_.find(session);
  if (it == by_session_.end()) return removals;
  std::vector<Subscription*> mine = std::move(it->second);
  by_session_.erase(it);
  removals.reserve(mine.size());
  for (Subscription* sub : mine) removals.push_back(remove_subscriber(*sub, session));
  return removals;
}

std::size_t Broker::publish(const PublicationPtr& publication, const PublishOptions& options) {
  // A Peer that publishes from inside send_event must not clobber the outer match list.
  std::vector<TrieEntry*> local;
  std::vector<TrieEntry*>& matches = publishing_ ? local : scratch_;
  const bool outer = !publishing_;
  publishing_ = true;
  matches.clear();
  trie_.match(publication->topic, matches);

  const Audience audience(publication->publisher, options);
  Json base_details = Json::object();
  if (publication->disclose_publisher && publication->publisher != 0) {
    base_details["publisher"] = publication->publisher;
    base_details["publisher_authid"] = publication->publisher_authid;
    base_details["publisher_authrole"] = publication->publisher_authrole;
  }

  // The publication's value, parsed at most once and only if some subscription has a filter.
  bool value_ready = false;
  PublicationValue value;
  const bool meta = publication->meta;

  std::size_t sent = 0;
  for (TrieEntry* entry : matches) {
    const auto& sub = *static_cast<Subscription*>(entry);
    if (sub.options.snapshot) continue;  // replay only
    if (meta && sub.options.hide_meta && sub.wildcard_first) continue;   // MQTT: like `$` topics
    if (sub.options.has_filter) {
      if (!value_ready) {
        value = publication_value(*publication);
        value_ready = true;
      }
      if (!value_matches(sub.options.filter, value)) continue;
    }
    // One Delivery per subscription, shared by all its subscribers: encoded once per serializer.
    Delivery event;
    event.subscription = sub.id;
    event.publication = publication;
    event.details = base_details;
    if (sub.pattern) event.details["topic"] = publication->uri;
    for (SessionEntry* subscriber : sub.subscribers) {
      if (!audience.admits(*subscriber)) continue;
      if (sub.pattern && policy_ && policy_->restricts(subscriber->info.authrole) &&
          !policy_->allows_cached(subscriber->info.authrole, publication->topic, publication->uri,
                                  auth::kSubscribe)) {
        continue;
      }
      if (!sub.muted.empty() && sub.muted.count(subscriber->id) != 0) continue;
      subscriber->peer->send_event(event);
      ++sent;
    }
  }
  matches.clear();
  if (outer) publishing_ = false;
  return sent;
}

void Broker::mute(Id subscription, Id session, bool muted) {
  auto it = by_id_.find(subscription);
  if (it == by_id_.end()) return;
  if (muted) {
    it->second->muted.insert(session);
  } else {
    it->second->muted.erase(session);
  }
}

const Subscription* Broker::find(Id subscription) const {
  auto it = by_id_.find(subscription);
  return it == by_id_.end() ? nullptr : it->second;
}

const Subscription* Broker::find(const std::string& uri, MatchPolicy match) const {
  // The plain one sorts first among the subscriptions of (uri, match): its filter text is "".
  auto it = by_key_.lower_bound(Key(uri, match, std::string(), false, false));
  if (it == by_key_.end() || std::get<0>(it->first) != uri || std::get<1>(it->first) != match) {
    return nullptr;
  }
  return it->second.get();
}

std::vector<const Subscription*> Broker::match(const TopicParts& topic) {
  std::vector<TrieEntry*> found;
  trie_.match(topic, found);
  std::vector<const Subscription*> out;
  out.reserve(found.size());
  for (TrieEntry* entry : found) out.push_back(static_cast<const Subscription*>(entry));
  return out;
}

bool Broker::has_subscribers(const TopicParts& topic) {
  std::vector<TrieEntry*> local;
  std::vector<TrieEntry*>& found = publishing_ ? local : scratch_;
  found.clear();
  trie_.match(topic, found);
  return !found.empty();
}

std::vector<const Subscription*> Broker::all() const {
  std::vector<const Subscription*> out;
  out.reserve(by_key_.size());
  for (const auto& [key, sub] : by_key_) out.push_back(sub.get());
  return out;
}

}  // namespace fox
