// A realm: its sessions, the subscribe/register/call commands, and the WAMP meta events about
// them. Publications are publish.cpp's, replays replay.cpp's.
#include <algorithm>
#include <string>

#include "core/topic.hpp"
#include "router/meta.hpp"
#include "router/realm_impl.hpp"
#include "router/fox_options.hpp"

namespace fox {

namespace {

constexpr const char* kInvalidUri = "wamp.error.invalid_uri";
constexpr const char* kNotAuthorized = "wamp.error.not_authorized";

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

Realm::Impl::Impl(Router& r, const std::string& realm_name)
    : router(r),
      env(r.env()),
      log(r.engine().log()),
      name(realm_name),
      broker(subscription_ids, env),
      dealer(registration_ids, env),
      retained(r.engine().retained(realm_name)),
      wills(r.engine().wills(), realm_name),
      testaments(r.engine().wills(), realm_name),
      // Every event durable before this realm was opened (by a previous process, too) is in the
      // retained state already: `retained` + `after` need not wait for those.
      last_applied(log.durable_id()) {
  refresh_policy();
}

void Realm::Impl::refresh_policy() {
  policy = router.auth_policy() ? router.auth_policy()->find(name) : nullptr;
  broker.set_policy(policy);
}

bool Realm::Impl::permitted(const SessionEntry& session, const TopicParts& topic,
                            auth::Action action, MatchPolicy match) const {
  if (!policy) return true;
  if (match == MatchPolicy::kExact) return policy->allows(session.info.authrole, topic, action);
  // A pattern is checked as the pattern it is: a prefix is its parts and then anything, an
  // empty part of a wildcard pattern any one part.
  TopicParts pattern = topic;
  if (match == MatchPolicy::kPrefix) {
    if (!pattern.empty() && pattern.back().empty()) pattern.pop_back();
    pattern.push_back(kAnyParts);
  } else {
    for (std::string& part : pattern) {
      if (part.empty()) part = kAnyPart;
    }
  }
  return policy->allows(session.info.authrole, pattern, action);
}

Realm::Impl::~Impl() {
  for (auto& [owner, t] : kicks) env.cancel_timer(t);
  for (auto& [id, c] : cursors) {
    if (c.wait_timer) env.cancel_timer(c.wait_timer);
    if (c.step_timer) env.cancel_timer(c.step_timer);
  }
}

// Meta events are publications of the router itself (publisher 0). They are not in the log (they
// burn no event id and are not replayed) and go out at once; their publication id is random, as
// WAMP's global scope has it. Without a subscriber nothing is built (and no random id drawn).
void Realm::Impl::publish_meta(const char* uri, Json args) {
  Publication pub;
  pub.uri = uri;
  pub.topic = wamp_topic_parts(pub.uri);
  if (!broker.has_subscribers(pub.topic)) return;
  pub.args = std::move(args);
  pub.meta = true;
  pub.id = env.random64() % kMaxId + 1;
  broker.publish(std::make_shared<const Publication>(std::move(pub)), PublishOptions{});
}

void Realm::publish_system(Publication pub) {
  Realm::Impl& r = *impl_;
  if (pub.uri.empty()) pub.uri = wamp_uri(pub.topic);
  pub.meta = true;
  pub.retain = true;
  pub.id = r.env.random64() % kMaxId + 1;
  auto shared = std::make_shared<const Publication>(std::move(pub));
  r.system_retained[shared->uri] = shared;
  if (r.broker.has_subscribers(shared->topic)) r.broker.publish(shared, PublishOptions{});
}

void Realm::clear_system() { impl_->system_retained.clear(); }

void Realm::Impl::subscription_removed(Id session_id, const Broker::Removal& removal) {
  publish_meta("wamp.subscription.on_unsubscribe", Json::array({session_id, removal.subscription}));
  if (removal.deleted) {
    publish_meta("wamp.subscription.on_delete", Json::array({session_id, removal.subscription}));
  }
}

void Realm::Impl::registration_removed(Id session_id, const Dealer::Removal& removal) {
  publish_meta("wamp.registration.on_unregister", Json::array({session_id, removal.registration}));
  if (removal.deleted) {
    publish_meta("wamp.registration.on_delete", Json::array({session_id, removal.registration}));
  }
}

void Realm::Impl::revoke(Id session_id, Id subscription, const std::string& reason) {
  Broker::Removal removal;
  if (!broker.revoke(session_id, subscription, reason, &removal)) return;
  drop_replays(session_id, subscription);
  subscription_removed(session_id, removal);
}

Realm::Realm(Router& router, std::string name)
    : router_(router), name_(std::move(name)), impl_(std::make_unique<Impl>(router, name_)) {
  if (impl_->log.delivers_itself()) {
    impl_->testaments.keep_as_last_words(
        [this](Id session, const Pending& t) { return keep_last_words(session, t.pub, t.options); },
        [this](Id session, std::uint64_t token) { drop_last_words(session, token); });
  }
}

Realm::~Realm() = default;

std::size_t Realm::session_count() const { return impl_->sessions.size(); }

RealmStats Realm::stats() const {
  RealmStats s;
  s.realm = name_;
  s.sessions = impl_->sessions.size();
  s.subscriptions = impl_->broker.size();
  s.registrations = impl_->dealer.size();
  s.retained = impl_->retained->size();
  for (const auto& [id, session] : impl_->sessions) ++s.sessions_by_transport[session->info.transport];
  return s;
}

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
  impl_->leave(session);
  impl_->publish_meta("wamp.session.on_leave",
                      Json::array({session, entry->info.authid, entry->info.authrole}));
}

SubscribeOutcome Realm::subscribe(Id session, const TopicParts& topic,
                                  const SubscribeOptions& options) {
  SubscribeOutcome out;
  SessionEntry* entry = impl_->session(session);
  if (!entry) {
    out.error = make_error("wamp.error.no_such_session");
    return out;
  }
  if (!valid_pattern(topic, options.match, entry->info.empty_topic_parts)) {
    out.error = make_error(kInvalidUri);
    return out;
  }
  if (!impl_->permitted(*entry, topic, auth::kSubscribe, options.match)) {
    out.error = make_error(kNotAuthorized, "role " + entry->info.authrole + " may not subscribe to " +
                                               wamp_uri(topic));
    return out;
  }
  if (!parse_replay_request(options.raw, &out.replay, &out.error)) return out;
  // The filter and snapshot options are part of the subscription's identity (broker.hpp): a
  // snapshot never touches the session's live subscription of the same topic.
  SubscriptionOptions identity;
  identity.has_filter = out.replay.has_filter;
  identity.filter = out.replay.filter;
  identity.snapshot = out.replay.snapshot;
  identity.hide_meta = options.hide_meta;
  auto outcome = impl_->broker.subscribe(*entry, topic, options.match, identity);
  out.subscription = outcome.subscription;
  if (outcome.created) {
    const Subscription* sub = impl_->broker.find(outcome.subscription);
    impl_->publish_meta("wamp.subscription.on_create",
                        Json::array({session, subscription_details(*sub)}));
  }
  if (outcome.added) {
    impl_->publish_meta("wamp.subscription.on_subscribe",
                        Json::array({session, outcome.subscription}));
  }
  return out;
}

void Realm::replay(Id session, const SubscribeOutcome& outcome) {
  if (!outcome.ok() || !outcome.replay.any()) return;
  SessionEntry* entry = impl_->session(session);
  const Subscription* sub = impl_->broker.find(outcome.subscription);
  if (!entry || !sub) return;
  if (std::find(sub->subscribers.begin(), sub->subscribers.end(), entry) == sub->subscribers.end()) {
    return;
  }
  impl_->start_replay(*entry, *sub, outcome.replay);
}

void Realm::drained(Id session) { impl_->resume_replays(session); }

bool Realm::unsubscribe(Id session, Id subscription) {
  Broker::Removal removal;
  if (!impl_->broker.unsubscribe(session, subscription, &removal)) return false;
  impl_->drop_replays(session, subscription);
  impl_->subscription_removed(session, removal);
  return true;
}

bool Realm::revoke_subscription(Id session, Id subscription, const std::string& reason) {
  Broker::Removal removal;
  if (!impl_->broker.revoke(session, subscription, reason, &removal)) return false;
  impl_->drop_replays(session, subscription);
  impl_->subscription_removed(session, removal);
  return true;
}

RegisterOutcome Realm::register_procedure(Id session, const TopicParts& procedure,
                                          const RegisterOptions& options) {
  RegisterOutcome out;
  SessionEntry* entry = impl_->session(session);
  if (!entry) {
    out.error = make_error("wamp.error.no_such_session");
    return out;
  }
  if (!valid_pattern(procedure, options.match, false) ||
      is_reserved_procedure(wamp_uri(procedure))) {
    out.error = make_error(kInvalidUri);
    return out;
  }
  if (!impl_->permitted(*entry, procedure, auth::kRegister, options.match)) {
    out.error = make_error(kNotAuthorized, "role " + entry->info.authrole + " may not register " +
                                               wamp_uri(procedure));
    return out;
  }
  bool created = false;
  out.registration =
      impl_->dealer.register_procedure(*entry, procedure, options, &created, &out.error);
  if (!out.ok()) return out;
  if (created) {
    const Registration* reg = impl_->dealer.find(out.registration);
    impl_->publish_meta("wamp.registration.on_create",
                        Json::array({session, registration_details(*reg)}));
  }
  impl_->publish_meta("wamp.registration.on_register", Json::array({session, out.registration}));
  return out;
}

void Realm::registered(Id session, Id registration) {
  // Only now that the callee knows the registration id may queued calls reach it.
  if (impl_->session(session)) impl_->dealer.dispatch_queued(registration);
}

bool Realm::unregister(Id session, Id registration) {
  Dealer::Removal removal;
  if (!impl_->dealer.unregister(session, registration, &removal)) return false;
  impl_->registration_removed(session, removal);
  return true;
}

void Realm::call(Id session, Id request, const TopicParts& procedure, Json args, Json kwargs,
                 const CallOptions& options) {
  SessionEntry* entry = impl_->session(session);
  if (!entry) return;
  const std::string uri = wamp_uri(procedure);
  if (!impl_->permitted(*entry, procedure, auth::kCall)) {
    entry->peer->send_error(RequestType::kCall, request,
                            make_error(kNotAuthorized, "role " + entry->info.authrole +
                                                           " may not call " + uri));
    return;
  }
  if (uri == "fox.cluster.nodes") {
    Json status = router_.cluster_status();
    if (!status.is_null()) {
      Result result;
      result.args = Json::array({std::move(status)});
      entry->peer->send_result(request, result);
      return;
    }
  }
  if (is_reserved_procedure(uri)) {
    if (impl_->testaments.handle_call(*entry, request, uri, args, kwargs)) return;
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
