// A realm: its sessions, broker and dealer, and the WAMP meta events about them.
// Commands arrive from protocol sessions; answers leave through each session's Peer.
#include <algorithm>
#include <string>

#include "core/topic.hpp"
#include "router/broker.hpp"
#include "router/dealer.hpp"
#include "router/kv.hpp"
#include "router/meta.hpp"
#include "router/router.hpp"
#include "router/session.hpp"
#include "router/storage.hpp"

namespace fox {

namespace {

constexpr const char* kInvalidUri = "wamp.error.invalid_uri";
constexpr const char* kInvalidArgument = "wamp.error.invalid_argument";

Error make_error(const char* uri, const std::string& message = {}) {
  Error error;
  error.uri = uri;
  if (!message.empty()) error.args = Json::array({message});
  return error;
}

// MQTT allows empty topic levels ("a//b"); WAMP URIs do not.
bool is_mqtt(const SessionEntry& session) { return session.info.transport.rfind("mqtt", 0) == 0; }

// A pattern a session may subscribe to or register: WAMP forbids empty parts except where the
// match policy gives them a meaning (wildcard: any part; prefix: a trailing "a.b." is a prefix).
bool valid_pattern(const TopicParts& parts, MatchPolicy match, bool allow_empty_parts) {
  if (parts.empty()) return false;
  if (allow_empty_parts || match == MatchPolicy::kWildcard) return true;
  std::size_t checked = match == MatchPolicy::kPrefix ? parts.size() - 1 : parts.size();
  for (std::size_t i = 0; i < checked; ++i) {
    if (parts[i].empty()) return false;
  }
  return true;
}

}  // namespace

struct Realm::Impl : KvHost {
  Router& router;
  RouterEnv& env;
  IdCounter subscription_ids;
  IdCounter registration_ids;
  SessionMap sessions;
  Broker broker;
  Dealer dealer;
  Kv kv;

  Impl(Router& r)
      : router(r),
        env(r.env()),
        broker(subscription_ids, env),
        dealer(registration_ids, env),
        kv(*this, env) {}

  // KvHost
  Id next_publication_id() override { return router.next_publication_id(); }
  void after_commit(std::function<void(bool ok)> fn) override { router.after_commit(std::move(fn)); }
  SessionEntry* find_session(Id id) override { return session(id); }
  void deliver(const PublicationPtr& publication, const PublishOptions& options) override {
    broker.publish(publication, options);
  }
  const Subscription* find_subscription(Id id) override { return broker.find(id); }
  void revoke(Id session, Id subscription, const std::string& reason) override {
    Broker::Removal removal;
    if (!broker.revoke(session, subscription, reason, &removal)) return;
    kv.unsubscribed(session, subscription);
    subscription_removed(session, removal);
  }

  SessionEntry* session(Id id) {
    auto it = sessions.find(id);
    return it == sessions.end() ? nullptr : it->second.get();
  }

  // Meta events are ordinary publications of the router itself (publisher 0).
  void publish_meta(const char* uri, Json args) {
    Publication pub;
    pub.uri = uri;
    pub.topic = wamp_topic_parts(pub.uri);
    pub.args = std::move(args);
    pub.meta = true;
    pub.id = router.next_publication_id();
    broker.publish(std::make_shared<const Publication>(std::move(pub)), PublishOptions{});
  }

  void subscription_removed(Id session, const Broker::Removal& removal) {
    publish_meta("wamp.subscription.on_unsubscribe", Json::array({session, removal.subscription}));
    if (removal.deleted) {
      publish_meta("wamp.subscription.on_delete", Json::array({session, removal.subscription}));
    }
  }

  void registration_removed(Id session, const Dealer::Removal& removal) {
    publish_meta("wamp.registration.on_unregister", Json::array({session, removal.registration}));
    if (removal.deleted) {
      publish_meta("wamp.registration.on_delete", Json::array({session, removal.registration}));
    }
  }
};

Realm::Realm(Router& router, std::string name)
    : router_(router), name_(std::move(name)), impl_(std::make_unique<Impl>(router)) {
  if (Storage* storage = router.storage()) {
    impl_->kv.attach_storage(*storage, name_);
    // Every event id handed out before this realm was opened (by a previous process, too) is
    // already committed: `retained` + `after` need not wait for those.
    impl_->kv.seed_applied(router.last_publication_id());
  }
}

Realm::~Realm() = default;

std::size_t Realm::session_count() const { return impl_->sessions.size(); }

void Realm::set_kv_options(const KvOptions& options) { impl_->kv.set_options(options); }

void Realm::apply_stale_will(const StoredWill& will) { impl_->kv.apply_stale_will(will); }

Id Realm::join(Peer& peer, SessionInfo info) {
  Id id = 0;
  // Random ids (WAMP "global scope"); a collision is astronomically rare, but retried.
  do {
    id = router_.env().random64() % kMaxId + 1;
  } while (impl_->sessions.count(id) != 0);
  auto entry = std::make_unique<SessionEntry>();
  entry->id = id;
  entry->peer = &peer;
  entry->info = std::move(info);
  entry->joined_ms = router_.env().now_ms();
  Json details = session_details(*entry);
  impl_->sessions.emplace(id, std::move(entry));
  impl_->publish_meta("wamp.session.on_join", Json::array({std::move(details)}));
  return id;
}

void Realm::leave(Id session) {
  auto it = impl_->sessions.find(session);
  if (it == impl_->sessions.end()) return;
  // Keep the entry alive while subscriptions and registrations still point at it.
  std::unique_ptr<SessionEntry> entry = std::move(it->second);
  impl_->sessions.erase(it);
  auto registrations = impl_->dealer.remove_session(session);
  auto subscriptions = impl_->broker.remove_session(session);
  for (const auto& removal : subscriptions) impl_->subscription_removed(session, removal);
  for (const auto& removal : registrations) impl_->registration_removed(session, removal);
  // Its waiters dropped, its wills and testaments published, other waiters re-checked.
  impl_->kv.leave(session, entry->info);
  impl_->publish_meta("wamp.session.on_leave",
                      Json::array({session, entry->info.authid, entry->info.authrole}));
}

void Realm::subscribe(Id session, Id request, const TopicParts& topic,
                      const SubscribeOptions& options) {
  SessionEntry* entry = impl_->session(session);
  if (!entry) return;
  if (!valid_pattern(topic, options.match, is_mqtt(*entry))) {
    entry->peer->send_error(RequestType::kSubscribe, request, make_error(kInvalidUri));
    return;
  }
  KvSubscribe kv;
  Error error;
  if (!parse_kv_subscribe(options.raw, &kv, &error)) {
    entry->peer->send_error(RequestType::kSubscribe, request, error);
    return;
  }
  // The filter and snapshot options are part of the subscription's identity (broker.hpp): a
  // snapshot never touches the session's live subscription of the same topic.
  SubscriptionOptions identity;
  identity.has_filter = kv.has_filter;
  identity.filter = kv.filter;
  identity.snapshot = kv.snapshot;
  identity.hide_meta = options.hide_meta;
  auto outcome = impl_->broker.subscribe(*entry, topic, options.match, identity);
  entry->peer->send_subscribed(request, outcome.subscription);
  if (outcome.created) {
    const Subscription* sub = impl_->broker.find(outcome.subscription);
    impl_->publish_meta("wamp.subscription.on_create",
                        Json::array({session, subscription_details(*sub)}));
  }
  if (outcome.added) {
    impl_->publish_meta("wamp.subscription.on_subscribe",
                        Json::array({session, outcome.subscription}));
  }
  if (kv.replays()) {
    if (const Subscription* sub = impl_->broker.find(outcome.subscription)) {
      impl_->kv.subscribed(*entry, *sub, kv);
    }
  }
}

void Realm::unsubscribe(Id session, Id request, Id subscription) {
  SessionEntry* entry = impl_->session(session);
  if (!entry) return;
  Broker::Removal removal;
  if (!impl_->broker.unsubscribe(session, subscription, &removal)) {
    entry->peer->send_error(RequestType::kUnsubscribe, request,
                            make_error("wamp.error.no_such_subscription"));
    return;
  }
  entry->peer->send_unsubscribed(request);
  impl_->kv.unsubscribed(session, subscription);
  impl_->subscription_removed(session, removal);
}

bool Realm::revoke_subscription(Id session, Id subscription, const std::string& reason) {
  Broker::Removal removal;
  if (!impl_->broker.revoke(session, subscription, reason, &removal)) return false;
  impl_->kv.unsubscribed(session, subscription);
  impl_->subscription_removed(session, removal);
  return true;
}

void Realm::publish(Id session, Id request, Publication pub, const PublishOptions& options) {
  SessionEntry* entry = impl_->session(session);
  if (!entry) return;
  if (pub.uri.empty()) pub.uri = wamp_uri(pub.topic);
  // As the WAMP spec says, a publication without `acknowledge` gets no answer, not even ERROR.
  if (!valid_publish_topic(pub.topic, is_mqtt(*entry))) {
    if (options.acknowledge) {
      entry->peer->send_error(RequestType::kPublish, request,
                              make_error(kInvalidUri, "a publication topic has no wildcard or empty part"));
    }
    return;
  }
  pub.publisher = session;
  pub.publisher_authid = entry->info.authid;
  pub.publisher_authrole = entry->info.authrole;
  pub.disclose_publisher = options.disclose_me;
  // retain/when/will (or the MQTT retain flag): the KV path decides when (and whether) the
  // publication applies; it gets its id then.
  if (uses_kv(pub, options.raw)) {
    impl_->kv.publish(session, request, std::move(pub), options);
    return;
  }
  pub.id = router_.next_publication_id();
  const Id id = pub.id;
  auto publication = std::make_shared<const Publication>(std::move(pub));
  impl_->broker.publish(publication, options);
  impl_->kv.record(publication);
  if (options.acknowledge) impl_->kv.acknowledge(session, request, id);
}

void Realm::publish_orphan(Publication pub, const PublishOptions& options) {
  if (pub.uri.empty()) pub.uri = wamp_uri(pub.topic);
  if (!valid_publish_topic(pub.topic, /*allow_empty_parts=*/true)) return;
  if (uses_kv(pub, options.raw)) {
    impl_->kv.publish(0, 0, std::move(pub), options);
    return;
  }
  pub.id = router_.next_publication_id();
  auto publication = std::make_shared<const Publication>(std::move(pub));
  impl_->broker.publish(publication, options);
  impl_->kv.record(publication);
}

void Realm::register_procedure(Id session, Id request, const TopicParts& procedure,
                               const RegisterOptions& options) {
  SessionEntry* entry = impl_->session(session);
  if (!entry) return;
  if (!valid_pattern(procedure, options.match, false) ||
      is_reserved_procedure(wamp_uri(procedure))) {
    entry->peer->send_error(RequestType::kRegister, request, make_error(kInvalidUri));
    return;
  }
  bool created = false;
  Error error;
  Id registration = impl_->dealer.register_procedure(*entry, procedure, options, &created, &error);
  if (registration == 0) {
    entry->peer->send_error(RequestType::kRegister, request, error);
    return;
  }
  entry->peer->send_registered(request, registration);
  if (created) {
    const Registration* reg = impl_->dealer.find(registration);
    impl_->publish_meta("wamp.registration.on_create",
                        Json::array({session, registration_details(*reg)}));
  }
  impl_->publish_meta("wamp.registration.on_register", Json::array({session, registration}));
  // Only now that the callee knows the registration id may queued calls reach it.
  impl_->dealer.dispatch_queued(registration);
}

void Realm::unregister(Id session, Id request, Id registration) {
  SessionEntry* entry = impl_->session(session);
  if (!entry) return;
  Dealer::Removal removal;
  if (!impl_->dealer.unregister(session, registration, &removal)) {
    entry->peer->send_error(RequestType::kUnregister, request,
                            make_error("wamp.error.no_such_registration"));
    return;
  }
  entry->peer->send_unregistered(request);
  impl_->registration_removed(session, removal);
}

void Realm::call(Id session, Id request, const TopicParts& procedure, Json args, Json kwargs,
                 const CallOptions& options) {
  SessionEntry* entry = impl_->session(session);
  if (!entry) return;
  const std::string uri = wamp_uri(procedure);
  if (is_reserved_procedure(uri)) {
    if (impl_->kv.handle_call(*entry, request, uri, args, kwargs)) return;
    MetaContext context{impl_->sessions, impl_->broker, impl_->dealer};
    if (handle_meta_call(context, *entry->peer, request, uri, args, kwargs)) return;
  }
  impl_->dealer.call(*entry, request, procedure, std::move(args), std::move(kwargs), options);
}

void Realm::cancel(Id session, Id call_request, CancelMode mode) {
  impl_->dealer.cancel(session, call_request, mode);
}

void Realm::yield(Id session, Id invocation, Result result) {
  impl_->dealer.yield(session, invocation, std::move(result));
}

void Realm::invocation_error(Id session, Id invocation, Error error) {
  impl_->dealer.invocation_error(session, invocation, std::move(error));
}

}  // namespace fox
