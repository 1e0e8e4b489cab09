#include "router/kv.hpp"

#include <algorithm>

#include "core/topic.hpp"
#include "router/kv_value.hpp"
#include "router/storage.hpp"

namespace fox {

namespace {

constexpr const char* kInvalidArgument = "wamp.error.invalid_argument";

Error make_error(const char* uri, const std::string& message) {
  Error error;
  error.uri = uri;
  error.args = Json::array({message});
  return error;
}

// A boolean option: absent or null leaves `out` alone; any other non-boolean is an error.
bool flag(const Json& raw, const char* key, bool* out) {
  auto it = raw.find(key);
  if (it == raw.end() || it->is_null()) return true;
  if (!it->is_boolean()) return false;
  *out = it->get<bool>();
  return true;
}

bool is_mqtt(const SessionEntry& session) { return session.info.transport.rfind("mqtt", 0) == 0; }

}  // namespace

bool uses_kv(const Publication& pub, const Json& raw) {
  if (pub.retain) return true;
  if (!raw.is_object() || raw.empty()) return false;
  return raw.contains("retain") || raw.contains("when") || raw.contains("will");
}

bool parse_kv_publish(const Publication& pub, const Json& raw, KvPublish* out, Error* error) {
  *out = KvPublish{};
  out->retain = pub.retain;
  if (!raw.is_object()) return true;
  bool retain = false;
  for (auto [key, target] : {std::pair<const char*, bool*>{"retain", &retain},
                             {"merge", &out->merge}, {"watch", &out->watch}}) {
    if (!flag(raw, key, target)) {
      *error = make_error(kInvalidArgument, std::string(key) + " must be a boolean");
      return false;
    }
  }
  out->retain = out->retain || retain;
  if (auto it = raw.find("when"); it != raw.end()) {
    out->has_when = true;
    out->when = *it;
  }
  if (auto it = raw.find("will"); it != raw.end()) {
    out->has_will = true;
    out->will = *it;
  }
  return true;
}

bool parse_kv_subscribe(const Json& raw, KvSubscribe* out, Error* error) {
  *out = KvSubscribe{};
  if (!raw.is_object() || raw.empty()) return true;
  // `get_retained` is the WAMP event-retention spelling; the other two are fox-wamp's.
  for (const char* key : {"retained", "retainedState", "get_retained"}) {
    bool value = false;
    if (!flag(raw, key, &value)) {
      *error = make_error(kInvalidArgument, std::string(key) + " must be a boolean");
      return false;
    }
    out->retained = out->retained || value;
  }
  if (!flag(raw, "snapshot", &out->snapshot)) {
    *error = make_error(kInvalidArgument, "snapshot must be a boolean");
    return false;
  }
  if (auto it = raw.find("after"); it != raw.end() && !it->is_null()) {
    if (it->is_number_unsigned()) {
      out->after = it->get<std::uint64_t>();
    } else if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
      out->after = static_cast<Id>(it->get<std::int64_t>());
    } else {
      *error = make_error(kInvalidArgument, "after must be an event id (integer)");
      return false;
    }
    out->has_after = true;
  }
  if (auto it = raw.find("filter"); it != raw.end() && !it->is_null()) {
    out->has_filter = true;
    out->filter = *it;
  }
  return true;
}

Kv::Kv(KvHost& host, RouterEnv& env)
    : host_(host),
      env_(env),
      retained_(std::make_unique<MemRetainedStore>()),
      history_(std::make_unique<MemHistoryStore>(options_.history_size)) {}

Kv::~Kv() {
  for (auto& [id, waiter] : replay_waiters_) env_.cancel_timer(waiter.timer);
}

void Kv::set_options(const KvOptions& options) {
  options_ = options;
  history_->set_capacity(options.history_size);
}

void Kv::attach_storage(Storage& storage, const std::string& realm) {
  storage_ = &storage;
  realm_ = realm;
  retained_ = storage.retained_store(realm);
  history_ = storage.history_store(realm);
}

void Kv::acknowledge(Id session, Id request, Id publication) {
  host_.after_commit([this, session, request, publication](bool ok) {
    SessionEntry* entry = host_.find_session(session);
    if (!entry) return;
    if (ok) {
      entry->peer->send_published(request, publication);
    } else {
      entry->peer->send_error(RequestType::kPublish, request,
                              make_error("wamp.error.runtime_error",
                                         "storage failure: the publication was not committed"));
    }
  });
}

void Kv::apply_stale_will(const StoredWill& stored) {
  if (storage_) storage_->erase_will(stored.realm, stored.key);
  Pending pending;
  pending.session = stored.owner;
  pending.pub.topic = stored.topic;
  pending.pub.uri = stored.key;
  if (!stored.value.is_null()) pending.pub.args = Json::array({stored.value});
  pending.pub.publisher = stored.owner;
  pending.pub.publisher_authid = stored.authid;
  pending.pub.publisher_authrole = stored.authrole;
  pending.pub.disclose_publisher = stored.disclose;
  pending.pub.retain = true;
  pending.pub.qos = 1;   // a retained write: QoS 1 for MQTT subscribers (README: QoS)
  pending.kv.retain = true;
  apply(std::move(pending));
  settle();
}

std::size_t Kv::waiter_count() const {
  std::size_t count = 0;
  for (const auto& [key, queue] : waiters_) count += queue.size();
  return count;
}

// ---------------------------------------------------------------------------------------------
// Publishing

void Kv::publish(Id session, Id request, Publication pub, const PublishOptions& options) {
  Pending pending;
  Error error;
  if (!parse_kv_publish(pub, options.raw, &pending.kv, &error)) {
    // No answer without `acknowledge` (WAMP), as for every other publish error.
    if (options.acknowledge) {
      if (SessionEntry* entry = host_.find_session(session)) {
        entry->peer->send_error(RequestType::kPublish, request, error);
      }
    }
    return;
  }
  pending.session = session;
  pending.request = request;
  pending.pub = std::move(pub);
  pending.options = options;
  submit(std::move(pending));
  settle();
}

bool Kv::condition_holds(const Pending& pending) const {
  PublicationValue current;
  if (PublicationPtr value = retained_->get(pending.pub.uri)) current = publication_value(*value);
  return value_matches(pending.kv.when, current);
}

// `when` decides: apply now, wait (`watch`), or refuse. A refused publication is answered only
// when the publisher asked for `acknowledge` (WAMP: no answer at all otherwise).
void Kv::submit(Pending pending) {
  if (!pending.kv.has_when || condition_holds(pending)) {
    apply(std::move(pending));
    return;
  }
  if (pending.kv.watch) {
    // Bounded: a session may keep at most kMaxWaitersPerSession publications waiting.
    std::size_t& mine = waiting_[pending.session];
    if (mine >= kMaxWaitersPerSession) {
      if (pending.options.acknowledge) {
        if (SessionEntry* entry = host_.find_session(pending.session)) {
          entry->peer->send_error(
              RequestType::kPublish, pending.request,
              make_error(kInvalidArgument, "too many waiting publications (at most " +
                                               std::to_string(kMaxWaitersPerSession) +
                                               " per session)"));
        }
      }
      return;
    }
    ++mine;
    std::string key = pending.pub.uri;
    waiters_[key].push_back(std::move(pending));
    return;
  }
  if (!pending.options.acknowledge) return;
  if (SessionEntry* entry = host_.find_session(pending.session)) {
    entry->peer->send_error(RequestType::kPublish, pending.request,
                            make_error("wamp.error.invalid_payload", "not accepted"));
  }
}

// The publication takes effect: it gets its id now (ids increase in delivery order), the key
// changes (retain), it reaches subscribers and history, the publisher gets PUBLISHED, retained
// replays waiting for this id run. Waiters of the key are re-checked by settle().
void Kv::apply(Pending pending) {
  pending.pub.id = host_.next_publication_id();
  const Id id = pending.pub.id;
  PublicationPtr live = std::make_shared<const Publication>(std::move(pending.pub));
  if (pending.kv.retain) {
    const std::string& key = live->uri;
    PublicationPtr stored = live;
    if (is_empty_publication(*live)) {
      stored = nullptr;
    } else if (pending.kv.merge) {
      // RFC 7396 when both the old and the new value are objects; anything else replaces.
      if (PublicationPtr old = retained_->get(key)) {
        PublicationValue before = publication_value(*old);
        PublicationValue patch = publication_value(*live);
        using Kind = PublicationValue::Kind;
        if (before.kind == Kind::kJson && before.json.is_object() && patch.kind == Kind::kJson &&
            patch.json.is_object()) {
          Json merged = std::move(before.json);
          json_merge_patch(merged, patch.json);
          Publication value = *live;
          switch (patch.source) {
            case PublicationValue::Source::kPayload:
              value.payload = merged.dump(-1, ' ', false, Json::error_handler_t::replace);
              break;
            case PublicationValue::Source::kKwargs: value.kwargs = std::move(merged); break;
            default: value.args = Json::array({std::move(merged)}); break;
          }
          stored = std::make_shared<const Publication>(std::move(value));
        }
      }
    }
    if (stored) retained_->put(key, std::move(stored));
    else retained_->erase(key);
    // The last writer owns the will: any write replaces or clears the registration.
    clear_will(key);
    if (pending.kv.has_will && host_.find_session(pending.session)) {
      Will will;
      will.owner = pending.session;
      will.topic = live->topic;
      will.value = std::move(pending.kv.will);
      will.disclose = live->disclose_publisher;
      will.authid = live->publisher_authid;
      will.authrole = live->publisher_authrole;
      if (storage_) {
        StoredWill stored;
        stored.realm = realm_;
        stored.key = key;
        stored.topic = will.topic;
        stored.value = will.value;
        stored.owner = will.owner;
        stored.disclose = will.disclose;
        stored.authid = will.authid;
        stored.authrole = will.authrole;
        storage_->put_will(stored);
      }
      wills_by_session_[will.owner].push_back(key);
      wills_[key] = std::move(will);
    }
    last_retained_id_ = std::max(last_retained_id_, id);
    dirty_.push_back(key);
  }
  host_.deliver(live, pending.options);
  history_->append(live);
  if (pending.options.acknowledge) acknowledge(pending.session, pending.request, id);
  if (pending.kv.retain) release_replays();
}

void Kv::clear_will(const std::string& key) {
  auto it = wills_.find(key);
  if (it == wills_.end()) return;
  auto owned = wills_by_session_.find(it->second.owner);
  if (owned != wills_by_session_.end()) {
    auto& keys = owned->second;
    keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
    if (keys.empty()) wills_by_session_.erase(owned);
  }
  wills_.erase(it);
  if (storage_) storage_->erase_will(realm_, key);
}

// Re-checks the waiters of every changed key, FIFO: the first whose `when` holds is applied, and
// the key is checked again with the fresh value (chained hand-over). Each step removes one
// waiter, so this ends. Re-entrant calls (from apply) return at once.
void Kv::settle() {
  if (settling_) return;
  settling_ = true;
  while (!dirty_.empty()) {
    std::string key = std::move(dirty_.front());
    dirty_.pop_front();
    auto it = waiters_.find(key);
    if (it == waiters_.end()) continue;
    auto& queue = it->second;
    for (auto waiter = queue.begin(); waiter != queue.end(); ++waiter) {
      if (!condition_holds(*waiter)) continue;
      Pending pending = std::move(*waiter);
      queue.erase(waiter);
      if (queue.empty()) waiters_.erase(it);
      if (auto w = waiting_.find(pending.session); w != waiting_.end() && --w->second == 0) {
        waiting_.erase(w);
      }
      dirty_.push_front(key);
      apply(std::move(pending));
      break;
    }
  }
  settling_ = false;
}

// ---------------------------------------------------------------------------------------------
// Sessions leaving, testaments

void Kv::leave(Id session, const SessionInfo& /*info*/) {
  // 1. The session's own waiters never apply.
  waiting_.erase(session);
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    auto& queue = it->second;
    queue.erase(std::remove_if(queue.begin(), queue.end(),
                               [session](const Pending& p) { return p.session == session; }),
                queue.end());
    it = queue.empty() ? waiters_.erase(it) : std::next(it);
  }
  for (auto it = replay_waiters_.begin(); it != replay_waiters_.end();) {
    if (it->second.session != session) {
      ++it;
      continue;
    }
    env_.cancel_timer(it->second.timer);
    it = replay_waiters_.erase(it);
  }
  // 2. Its wills: each key it wrote last becomes the will value (null deletes).
  std::vector<std::string> keys;
  if (auto owned = wills_by_session_.find(session); owned != wills_by_session_.end()) {
    keys = std::move(owned->second);
    wills_by_session_.erase(owned);
  }
  for (const std::string& key : keys) {
    auto it = wills_.find(key);
    if (it == wills_.end() || it->second.owner != session) continue;
    Will will = std::move(it->second);
    wills_.erase(it);
    if (storage_) storage_->erase_will(realm_, key);
    Pending pending;
    pending.session = session;
    pending.pub.topic = std::move(will.topic);
    pending.pub.uri = key;
    if (!will.value.is_null()) pending.pub.args = Json::array({std::move(will.value)});
    pending.pub.publisher = session;
    pending.pub.publisher_authid = std::move(will.authid);
    pending.pub.publisher_authrole = std::move(will.authrole);
    pending.pub.disclose_publisher = will.disclose;
    pending.pub.retain = true;
    pending.pub.qos = 1;
    pending.kv.retain = true;
    apply(std::move(pending));
  }
  // 3. Its testaments, as ordinary publications (a testament cannot wait or leave a will:
  // its session is gone).
  if (auto it = testaments_.find(session); it != testaments_.end()) {
    std::vector<Testament> testaments = std::move(it->second);
    testaments_.erase(it);
    if (storage_) storage_->erase_testaments(realm_, session, "");
    for (auto& testament : testaments) {
      Pending pending;
      pending.session = session;
      Error ignored;
      parse_kv_publish(testament.pub, testament.options.raw, &pending.kv, &ignored);
      pending.kv.watch = false;
      pending.kv.has_will = false;
      pending.pub = std::move(testament.pub);
      pending.options = std::move(testament.options);
      submit(std::move(pending));
    }
  }
  // 4. Other sessions' waiters see the new values.
  settle();
}

bool Kv::handle_call(SessionEntry& caller, Id request, const std::string& uri, const Json& args,
                     const Json& kwargs) {
  const bool add = uri == "wamp.session.add_testament";
  if (!add && uri != "wamp.session.flush_testaments") return false;
  auto fail = [&](const char* error_uri, const std::string& message) {
    caller.peer->send_error(RequestType::kCall, request, make_error(error_uri, message));
    return true;
  };
  std::string scope = "destroyed";
  if (kwargs.is_object()) {
    if (auto it = kwargs.find("scope"); it != kwargs.end() && !it->is_null()) {
      if (!it->is_string()) return fail(kInvalidArgument, "scope must be a string");
      scope = it->get<std::string>();
    }
  }
  if (scope != "destroyed" && scope != "detached") {
    return fail(kInvalidArgument, "scope must be destroyed or detached");
  }
  if (!add) {
    if (auto it = testaments_.find(caller.id); it != testaments_.end()) {
      auto& list = it->second;
      list.erase(std::remove_if(list.begin(), list.end(),
                                [&](const Testament& t) { return t.scope == scope; }),
                 list.end());
      if (list.empty()) testaments_.erase(it);
    }
    if (storage_) storage_->erase_testaments(realm_, caller.id, scope);
    caller.peer->send_result(request, Result{});
    return true;
  }
  if (!args.is_array() || args.empty() || !args[0].is_string()) {
    return fail(kInvalidArgument, "add_testament needs [topic, args, kwargs]");
  }
  Testament testament;
  const std::string& topic = args[0].get_ref<const std::string&>();
  testament.pub.topic = wamp_pattern_parts(topic);
  if (!valid_wamp_uri(topic, /*wildcards=*/false, /*empty_parts=*/false) ||
      !valid_publish_topic(testament.pub.topic, is_mqtt(caller))) {
    return fail("wamp.error.invalid_uri", "invalid topic: " + topic);
  }
  testament.pub.uri = wamp_uri(testament.pub.topic);
  if (args.size() > 1 && !args[1].is_null()) {
    if (!args[1].is_array()) return fail(kInvalidArgument, "testament args must be a list");
    testament.pub.args = args[1];
  }
  if (args.size() > 2 && !args[2].is_null()) {
    if (!args[2].is_object()) return fail(kInvalidArgument, "testament kwargs must be a dict");
    testament.pub.kwargs = args[2];
  }
  Json options = Json::object();
  if (kwargs.is_object()) {
    if (auto it = kwargs.find("publish_options"); it != kwargs.end() && !it->is_null()) {
      if (!it->is_object()) return fail(kInvalidArgument, "publish_options must be a dict");
      options = *it;
    }
  }
  KvPublish kv;
  Error error;
  bool disclose = false, exclude_me = true;
  if (!parse_kv_publish(testament.pub, options, &kv, &error) ||
      !flag(options, "disclose_me", &disclose) || !flag(options, "exclude_me", &exclude_me)) {
    return fail(kInvalidArgument, "a publish option has the wrong type");
  }
  testament.pub.publisher = caller.id;
  testament.pub.publisher_authid = caller.info.authid;
  testament.pub.publisher_authrole = caller.info.authrole;
  testament.pub.disclose_publisher = disclose;
  testament.options.disclose_me = disclose;
  testament.options.exclude_me = exclude_me;
  // Like a WAMP publication: QoS 1 for MQTT subscribers when it retains (README: QoS).
  testament.pub.qos = kv.retain ? 1 : 0;
  testament.options.raw = std::move(options);
  testament.scope = scope;
  auto& mine = testaments_[caller.id];
  if (mine.size() >= kMaxTestamentsPerSession) {
    return fail(kInvalidArgument, "too many testaments (at most " +
                                      std::to_string(kMaxTestamentsPerSession) + " per session)");
  }
  testament.seq = ++testament_seq_;
  if (storage_) {
    // Written through: a crash of fox does not lose it (applied at the next start).
    StoredTestament row;
    row.realm = realm_;
    row.owner = caller.id;
    row.seq = testament.seq;
    row.scope = scope;
    row.topic = testament.pub.uri;
    row.args = testament.pub.args;
    row.kwargs = testament.pub.kwargs;
    row.options = testament.options.raw;
    row.authid = caller.info.authid;
    row.authrole = caller.info.authrole;
    row.disclose = disclose;
    storage_->put_testament(row);
  }
  mine.push_back(std::move(testament));
  caller.peer->send_result(request, Result{});
  return true;
}

// ---------------------------------------------------------------------------------------------
// Subscribing: replays

void Kv::subscribed(SessionEntry& session, const Subscription& sub, const KvSubscribe& options) {
  if (options.has_after) {
    replay(session, sub, history_->after(options.after, sub.topic, sub.match), false,
           options.has_filter, options.filter);
  }
  if (options.retained) {
    if (options.has_after && last_retained_id_ < options.after) {
      // The retained state does not include event `after` yet: wait for it (bounded).
      const std::uint64_t waiter_id = ++next_replay_waiter_;
      ReplayWaiter waiter;
      waiter.session = session.id;
      waiter.subscription = sub.id;
      waiter.after = options.after;
      waiter.snapshot = options.snapshot;
      waiter.has_filter = options.has_filter;
      waiter.filter = options.filter;
      waiter.timer = env_.start_timer(options_.retained_wait_ms,
                                      [this, waiter_id] { replay_expired(waiter_id); });
      replay_waiters_.emplace(waiter_id, std::move(waiter));
      return;
    }
    replay(session, sub, retained_->match(sub.topic, sub.match), true, options.has_filter,
           options.filter);
  }
  if (options.snapshot) end_snapshot(session.id, sub.id);
}

void Kv::replay(SessionEntry& session, const Subscription& sub,
                const std::vector<PublicationPtr>& pubs, bool retained, bool has_filter,
                const Json& filter) {
  for (const PublicationPtr& pub : pubs) {
    if (has_filter && !value_matches(filter, publication_value(*pub))) continue;
    // Replay events are per subscriber (details differ from the shared live Event).
    Event event;
    event.subscription = sub.id;
    event.publication = pub;
    if (sub.pattern) event.details["topic"] = pub->uri;
    if (pub->disclose_publisher && pub->publisher != 0) {
      event.details["publisher"] = pub->publisher;
      event.details["publisher_authid"] = pub->publisher_authid;
      event.details["publisher_authrole"] = pub->publisher_authrole;
    }
    if (retained) event.details["retained"] = true;
    event.retained_replay = retained;
    event.replay = true;
    session.peer->send_event(event);
  }
}

void Kv::replay_retained(Id session, Id subscription, bool has_filter, const Json& filter) {
  SessionEntry* entry = host_.find_session(session);
  const Subscription* sub = host_.find_subscription(subscription);
  if (!entry || !sub) return;
  if (std::find(sub->subscribers.begin(), sub->subscribers.end(), entry) == sub->subscribers.end()) {
    return;
  }
  replay(*entry, *sub, retained_->match(sub->topic, sub->match), true, has_filter, filter);
}

void Kv::release_replays() {
  if (replay_waiters_.empty()) return;
  std::vector<ReplayWaiter> ready;
  for (auto it = replay_waiters_.begin(); it != replay_waiters_.end();) {
    if (it->second.after > last_retained_id_) {
      ++it;
      continue;
    }
    env_.cancel_timer(it->second.timer);
    ready.push_back(std::move(it->second));
    it = replay_waiters_.erase(it);
  }
  for (const auto& waiter : ready) {
    replay_retained(waiter.session, waiter.subscription, waiter.has_filter, waiter.filter);
    if (waiter.snapshot) end_snapshot(waiter.session, waiter.subscription);
  }
}

// The id never came: no retained replay; the subscription stays live (a snapshot ends).
void Kv::replay_expired(std::uint64_t waiter_id) {
  auto it = replay_waiters_.find(waiter_id);
  if (it == replay_waiters_.end()) return;
  ReplayWaiter waiter = std::move(it->second);
  replay_waiters_.erase(it);
  if (waiter.snapshot) end_snapshot(waiter.session, waiter.subscription);
}

void Kv::end_snapshot(Id session, Id subscription) {
  host_.revoke(session, subscription, "fox.snapshot.complete");
}

void Kv::unsubscribed(Id session, Id subscription) {
  for (auto it = replay_waiters_.begin(); it != replay_waiters_.end();) {
    if (it->second.session == session && it->second.subscription == subscription) {
      env_.cancel_timer(it->second.timer);
      it = replay_waiters_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace fox
