// The life of a publication (src/router/README.md has the walk-through):
//
//   Realm::publish        validate the topic and the fox options; fill the publisher. Without
//                         fox options: straight to the append and delivery
//   Impl::publish         conditions: `when` holds → apply; `watch` → wait (FIFO per key);
//                         else refuse (ERROR only with `acknowledge`, as WAMP wants)
//   Impl::apply           the engine's log appends it and decides its id; its retained effect
//                         (replace, merge, delete) and will registration apply at once, so the
//                         next publication sees them
//   deliver_when_durable  once the log says it is durable: delivered to the subscribers and
//                         acknowledged (PUBLISHED, MQTT PUBACK/PUBREC through the publisher's Peer)
//   Impl::settle          waiters of the keys that changed are checked again (FIFO, chained)
//
// A publication without fox options costs a topic check, one log append and one broker walk.
#include "core/log.hpp"
#include "core/topic.hpp"
#include "router/kv_value.hpp"
#include "router/realm_impl.hpp"

namespace fox {

namespace {

Error runtime_error() {
  Error error;
  error.uri = "wamp.error.runtime_error";
  error.args = Json::array({"storage failure: the publication was not committed"});
  return error;
}

// The value the key keeps after `live` applied: the publication itself, the merge of it onto the
// old value (RFC 7396, both objects), or nothing (an empty publication deletes the key).
PublicationPtr retained_value(RetainedState& retained, const PublicationPtr& live, bool merge) {
  if (is_empty_publication(*live)) return nullptr;
  if (!merge) return live;
  PublicationPtr old = retained.get(live->uri);
  if (!old) return live;
  PublicationValue before = publication_value(*old);
  PublicationValue patch = publication_value(*live);
  using Kind = PublicationValue::Kind;
  if (before.kind != Kind::kJson || !before.json.is_object() || patch.kind != Kind::kJson ||
      !patch.json.is_object()) {
    return live;   // anything but two objects: the new value replaces the old one
  }
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
  return std::make_shared<const Publication>(std::move(value));
}

}  // namespace

void Realm::publish(Id session, Id request, Publication pub, PublishOptions options) {
  SessionEntry* entry = impl_->session(session);
  if (!entry) return;
  if (pub.uri.empty()) pub.uri = wamp_uri(pub.topic);
  if (!valid_publish_topic(pub.topic, entry->info.empty_topic_parts)) {
    impl_->refuse(session, request, options.acknowledge,
                  make_error("wamp.error.invalid_uri",
                             "a publication topic has no wildcard or empty part"));
    return;
  }
  if (!impl_->permitted(*entry, pub.topic, auth::kPublish)) {
    log::info("router", "realm ", name_, ": session ", session, " (", entry->info.authid, ", role ",
              entry->info.authrole, ") may not publish to ", pub.uri, ": not routed");
    impl_->refuse(session, request, options.acknowledge,
                  make_error("wamp.error.not_authorized", "role " + entry->info.authrole +
                                                              " may not publish to " + pub.uri));
    return;
  }
  pub.publisher = session;
  pub.publisher_authid = entry->info.authid;
  pub.publisher_authrole = entry->info.authrole;
  pub.disclose_publisher = options.disclose_me;
  if (!uses_kv(pub, options.raw)) {
    // The common case: no condition, no retained state, nothing to wait for.
    Appended appended = impl_->log.append(impl_->name, std::move(pub));
    impl_->deliver_when_durable(appended, session, request, std::move(options));
    return;
  }
  Pending p;
  p.session = session;
  p.request = request;
  Error error;
  if (!parse_kv_publish(pub, options.raw, &p.kv, &error)) {
    impl_->refuse(session, request, options.acknowledge, error);
    return;
  }
  p.pub = std::move(pub);
  p.options = std::move(options);
  impl_->publish(std::move(p));
}

void Realm::publish_orphan(Publication pub, const PublishOptions& options) {
  if (pub.uri.empty()) pub.uri = wamp_uri(pub.topic);
  if (!valid_publish_topic(pub.topic, /*allow_empty_parts=*/true)) return;
  Pending p;
  p.options = options;
  Error ignored;
  if (uses_kv(pub, options.raw) && !parse_kv_publish(pub, options.raw, &p.kv, &ignored)) return;
  p.kv.watch = false;   // nobody is left to wait
  p.kv.has_will = false;
  p.pub = std::move(pub);
  impl_->publish(std::move(p));
}

void Realm::Impl::refuse(Id session_id, Id request, bool acknowledge, const Error& error) {
  // As the WAMP spec says, a publication without `acknowledge` gets no answer, not even ERROR.
  if (!acknowledge) return;
  if (SessionEntry* entry = session(session_id)) {
    entry->peer->send_error(RequestType::kPublish, request, error);
  }
}

void Realm::Impl::publish(Pending&& p) {
  // A cluster decides `when` at commit. A `watch` whose condition fails here waits here first
  // (this node's state is a prefix of the committed order: it is proposed once the key changes).
  if (log.delivers_itself() && !(p.kv.watch && !condition_holds(p, *retained))) {
    propose(std::move(p), 0);
    return;
  }
  if (!p.kv.has_when || condition_holds(p, *retained)) {
    apply(std::move(p));
    settle();
    return;
  }
  if (!p.kv.watch) {
    refuse(p.session, p.request, p.options.acknowledge,
           make_error("wamp.error.invalid_payload", "not accepted"));
    return;
  }
  const Id session_id = p.session, request = p.request;
  const bool ack = p.options.acknowledge;
  if (waiters.add(std::move(p))) return;
  if (SessionEntry* entry = ack ? session(session_id) : nullptr) {
    entry->peer->send_error(
        RequestType::kPublish, request,
        make_error("wamp.error.invalid_argument",
                   "too many waiting publications (at most " +
                       std::to_string(Waiters::kMaxPerSession) + " per session)"));
  }
}

void Realm::Impl::write_retained(const std::string& key, const PublicationPtr& live, bool merge) {
  if (PublicationPtr value = retained_value(*retained, live, merge)) {
    retained->put(key, std::move(value));
  } else {
    retained->erase(key);
  }
  // The last writer owns the will: any write replaces or clears the registration.
  wills.clear(key);
}

StoredWill Realm::Impl::will_of(const Publication& live, Json value) {
  StoredWill will;
  will.key = live.uri;
  will.topic = live.topic;
  will.value = std::move(value);
  will.owner = live.publisher;
  will.disclose = live.disclose_publisher;
  will.authid = live.publisher_authid;
  will.authrole = live.publisher_authrole;
  return will;
}

void Realm::Impl::apply(Pending&& p) {
  const bool retain = p.kv.retain;
  std::string key = retain ? p.pub.uri : std::string();
  Appended appended = log.append(name, std::move(p.pub));
  const PublicationPtr live = appended.publication;
  if (retain && live) {
    write_retained(key, live, p.kv.merge);
    if (p.kv.has_will && session(p.session)) wills.set(will_of(*live, std::move(p.kv.will)));
    last_applied = std::max(last_applied, live->id);
    last_retained_write = appended;
    dirty.push_back(std::move(key));
  }
  deliver_when_durable(appended, p.session, p.request, std::move(p.options));
  if (retain && live) replays_applied();
}

// Delivered and acknowledged once the log says the publication is durable: at once for the
// memory engine, after the turn's commit for SQLite. No subscriber ever sees an event a crash
// then loses.
void Realm::Impl::deliver_when_durable(const Appended& appended, Id session_id, Id request,
                                       PublishOptions&& options) {
  if (log.durable_at_once() && appended.publication) {
    broker.publish(appended.publication, options);
    if (options.acknowledge) acknowledge(session_id, request, appended.publication->id, true);
    return;
  }
  // The options wait in a FIFO of the realm; the callback is small enough to need no allocation.
  // A publication nobody subscribes to is not kept until the commit (only its id is), so a burst
  // to an idle topic does not hold every publication of the turn.
  const PublicationPtr& pub = appended.publication;
  if (log.delivers_itself()) log.audience(appended, options, nullptr);
  const bool deliver = !log.delivers_itself() && (!pub || broker.has_subscribers(pub->topic));
  undelivered.push_back({std::move(options), session_id, request, pub ? pub->id : 0, deliver});
  if (deliver) {
    log.on_durable(appended, [this](const PublicationPtr& p, bool ok) { durable(p, ok); });
  } else {
    Appended ticket_only;
    ticket_only.ticket = appended.ticket;
    log.on_durable(ticket_only, [this](const PublicationPtr& p, bool ok) { durable(p, ok); });
  }
}

void Realm::Impl::durable(const PublicationPtr& publication, bool ok) {
  if (undelivered.empty()) return;
  WaitingDelivery& w = undelivered.front();
  if (ok && publication && w.deliver) broker.publish(publication, w.options);
  const Id id = publication ? publication->id : w.id;
  if (w.options.acknowledge && (!w.acked_at_apply || !ok)) {
    acknowledge(w.session, w.request, id, ok && id != 0);
  }
  std::string released;
  if (!ok && !w.in_flight_key.empty()) {
    // A waiter proposed again that the cluster refused: its key's next waiter may go.
    auto it = in_flight.find(w.in_flight_key);
    if (it != in_flight.end() && it->second == std::make_pair(w.session, w.request)) {
      in_flight.erase(it);
      released = std::move(w.in_flight_key);
    }
  }
  undelivered.pop_front();
  if (!released.empty()) {
    dirty.push_back(std::move(released));
    settle();
  }
}

void Realm::Impl::acknowledge(Id session_id, Id request, Id publication, bool ok) {
  SessionEntry* entry = session(session_id);
  if (!entry) return;
  if (ok) {
    entry->peer->send_published(request, publication);
  } else {
    entry->peer->send_error(RequestType::kPublish, request, runtime_error());
  }
}

// Re-checks the waiters of every changed key, FIFO: the first whose `when` holds is applied, and
// the key is checked again with the fresh value (chained hand-over). Each step removes one
// waiter, so this ends. Re-entrant calls (from apply) return at once.
void Realm::Impl::settle() {
  if (settling) return;
  settling = true;
  while (!dirty.empty()) {
    std::string key = std::move(dirty.front());
    dirty.pop_front();
    if (log.delivers_itself()) {
      // A cluster: the first ready waiter is proposed again; its outcome comes back through
      // apply_committed, and only then is the key's next waiter looked at.
      if (in_flight.count(key)) continue;
      if (std::optional<Pending> ready = waiters.take_ready(key, *retained)) {
        in_flight.emplace(key, std::make_pair(ready->session, ready->request));
        propose(std::move(*ready), 0, key);
      }
      continue;
    }
    if (std::optional<Pending> ready = waiters.take_ready(key, *retained)) {
      dirty.push_front(key);
      apply(std::move(*ready));
    }
  }
  settling = false;
}

// A session left: its waiters never apply; its wills (each key it wrote last becomes the will
// value) and testaments are published; other sessions' waiters see the new values.
void Realm::Impl::leave(Id session_id) {
  waiters.drop_session(session_id);
  drop_replays(session_id, 0);
  // Every will and testament first, then the waiters they release (settle() returns at once
  // while `settling`), as one step.
  const bool was_settling = settling;
  settling = true;
  if (log.delivers_itself()) {
    // A cluster: the wills are proposed; each applies at commit if still registered then.
    for (const StoredWill& will : wills.owned(log.node_name(), log.instance(), session_id)) {
      propose_will(will);
    }
  }
  if (!log.delivers_itself()) {
    for (const StoredWill& will : wills.take(session_id)) apply(will_publication(will));
  }
  for (Pending& testament : testaments.take(session_id)) publish(std::move(testament));
  settling = was_settling;
  settle();
}

// ---- a cluster: retained state as a projection of the committed history ---------------------

void Realm::Impl::propose(Pending&& p, Id will_fire, std::string in_flight_key) {
  KvTag tag;
  tag.request = p.request;
  tag.acknowledge = p.options.acknowledge;
  tag.will_fire = will_fire;
  tag.options = Json::object();
  if (p.options.raw.is_object()) {
    // `watch` and `will` only as parsed: a will or testament published for a gone session has
    // them turned off (publish_orphan) though its raw options still say them.
    for (const char* k : {"retain", "merge", "when", "watch", "will"}) {
      if ((k == std::string_view("watch") && !p.kv.watch) ||
          (k == std::string_view("will") && !p.kv.has_will)) {
        continue;
      }
      if (auto it = p.options.raw.find(k); it != p.options.raw.end()) tag.options[k] = *it;
    }
  }
  propose_tagged(std::move(p), std::move(tag), std::move(in_flight_key));
}

void Realm::Impl::propose_tagged(Pending&& p, KvTag tag, std::string in_flight_key) {
  Appended appended = log.append(name, std::move(p.pub));
  log.audience(appended, p.options, &tag);
  WaitingDelivery w{std::move(p.options), p.session, p.request, 0, false};
  w.acked_at_apply = true;
  w.in_flight_key = std::move(in_flight_key);
  undelivered.push_back(std::move(w));
  Appended ticket_only;
  ticket_only.ticket = appended.ticket;
  log.on_durable(ticket_only, [this](const PublicationPtr& pub, bool ok) { durable(pub, ok); });
}

void Realm::Impl::propose_will(const StoredWill& will) {
  Pending p = will_publication(will);
  p.session = 0;   // nobody to answer: the owner is gone
  fired[will.registration] = env.now_ms();
  propose(std::move(p), will.registration);
}

bool Realm::apply_committed(const PublicationPtr& pub, const PublishOptions& audience,
                            const CommitOrigin& origin) {
  return impl_->apply_committed(pub, audience, origin);
}

bool Realm::Impl::apply_committed(const PublicationPtr& pub, const PublishOptions& audience,
                                  const CommitOrigin& origin) {
  if (!origin.node.empty() && origin.kv.options.is_object() && !origin.kv.options.empty()) {
    // A node's older incarnation whose last segments got their ids after its newer one had
    // committed something: it crashed before they were acknowledged, so its late retained
    // writes (a lock's release after its will fired for the new life) have no effect.
    std::uint64_t& newest = newest_instance[origin.node];
    if (origin.instance < newest) return false;
    newest = origin.instance;
  }
  if (auto lw = origin.kv.options.find("lw"); lw != origin.kv.options.end()) {
    Json options;
    if (!apply_last_words(pub, origin, *lw, &options)) return false;
    // Fired: published as it was kept (its own options, nobody to answer; never last words again).
    CommitOrigin as_published = origin;
    as_published.here = false;
    as_published.kv = KvTag{};
    as_published.kv.options = options.is_object() ? std::move(options) : Json::object();
    as_published.kv.options.erase("lw");
    return apply_committed(pub, audience, as_published);
  }
  if (!uses_kv(*pub, origin.kv.options)) {
    if (origin.live) broker.publish(pub, audience);
    return true;
  }
  Pending p;
  Error error;
  if (!parse_kv_publish(*pub, origin.kv.options, &p.kv, &error)) return false;   // checked before
  const std::string key = pub->uri;
  p.session = origin.here ? pub->publisher : 0;
  p.request = origin.kv.request;
  p.options = audience;
  p.options.acknowledge = origin.kv.acknowledge;
  p.options.raw = origin.kv.options;   // a waiter proposed again carries them again
  if (origin.here) {
    // The outcome of this node's re-proposed waiter: the key's next waiter may go now, whatever
    // the outcome (dirty: checked by the settle() on every way out below).
    auto it = in_flight.find(key);
    if (it != in_flight.end() && it->second == std::make_pair(pub->publisher, origin.kv.request)) {
      in_flight.erase(it);
      dirty.push_back(key);
    }
  }
  if (origin.kv.will_fire != 0) {
    fired.erase(origin.kv.will_fire);
    // Replaced by a later write, or fired already by another node: no effect.
    if (!wills.registered(key, origin.kv.will_fire)) {
      settle();
      return false;
    }
    // Its owner is a session of this very node that is still here (the others judged this node
    // lost while it was cut off): the cluster considers it gone, so it is ended — else it would
    // go on believing it holds what the will gave away.
    const StoredWill* w = wills.find(key);
    if (w && w->node == log.node_name() && w->instance == log.instance() && session(w->owner)) {
      kick_later(w->owner, "fox.close.will_fired");
    }
  }
  p.pub = *pub;
  if (p.kv.has_when && !condition_holds(p, *retained)) {
    if (p.session && session(p.session)) {
      if (p.kv.watch) {
        p.pub.id = 0;
        Pending again = std::move(p);
        if (!waiters.add(std::move(again), /*front=*/true)) {
          refuse(pub->publisher, origin.kv.request, origin.kv.acknowledge,
                 make_error("wamp.error.invalid_argument", "too many waiting publications"));
        }
        dirty.push_back(key);   // another waiter of the key may be ready
      } else {
        refuse(p.session, p.request, p.options.acknowledge,
               make_error("wamp.error.invalid_payload", "not accepted"));
      }
    }
    settle();
    return false;
  }
  if (p.kv.retain) {
    write_retained(key, pub, p.kv.merge);
    if (p.kv.has_will) {
      StoredWill will = will_of(*pub, std::move(p.kv.will));
      will.node = origin.node;
      will.instance = origin.instance;
      will.registration = pub->id;
      wills.set(std::move(will));
    }
    last_applied = std::max(last_applied, pub->id);
    dirty.push_back(key);
  }
  if (origin.live) broker.publish(pub, audience);
  if (p.session && p.options.acknowledge) acknowledge(p.session, p.request, pub->id, true);
  settle();
  if (p.kv.retain) replays_applied();
  return true;
}

// ---- a cluster: last words (MQTT wills, WAMP testaments) ---------------------------------------

std::uint64_t Realm::keep_last_words(Id session, const Publication& pub,
                                     const PublishOptions& options) {
  Impl& impl = *impl_;
  SessionEntry* entry = impl.session(session);
  if (!impl.log.delivers_itself() || !entry) return 0;
  TopicParts topic = pub.topic;
  // What its role may not publish, the other nodes do not publish for it either.
  if (!impl.permitted(*entry, topic, auth::kPublish)) return 0;
  const std::uint64_t token = ++impl.last_words_token;
  Pending p;
  p.session = 0;   // nobody is answered
  p.pub = pub;
  if (p.pub.uri.empty()) p.pub.uri = wamp_uri(p.pub.topic);
  p.pub.publisher = session;
  p.pub.publisher_authid = entry->info.authid;
  p.pub.publisher_authrole = entry->info.authrole;
  p.pub.disclose_publisher = options.disclose_me;
  // It is published when its session is gone: it cannot wait or leave a will; only its retained
  // effect is kept (anything else a client wrote there — `lw` above all — is not).
  Json raw = Json::object();
  if (options.raw.is_object()) {
    for (const char* k : {"retain", "merge", "when"}) {
      if (auto it = options.raw.find(k); it != options.raw.end()) raw[k] = *it;
    }
  }
  KvTag tag;
  tag.options = Json{{"lw", Json{{"op", "keep"}, {"t", token}, {"o", std::move(raw)}}}};
  log::debug("cluster", "realm ", impl.name, ": keeping the last words of session ", session,
             " (", p.pub.uri, ")");
  impl.propose_tagged(std::move(p), std::move(tag));
  return token;
}

void Realm::drop_last_words(Id session, std::uint64_t token) {
  Impl& impl = *impl_;
  if (!impl.log.delivers_itself() || token == 0) return;
  Pending p;
  p.pub.topic = {"fox", "last_words"};
  p.pub.uri = wamp_uri(p.pub.topic);
  p.pub.publisher = session;
  KvTag tag;
  tag.options = Json{{"lw", Json{{"op", "drop"}, {"t", token}}}};
  impl.propose_tagged(std::move(p), std::move(tag));
}

bool Realm::Impl::apply_last_words(const PublicationPtr& pub, const CommitOrigin& origin,
                                   const Json& op, Json* fire_options) {
  // Every field is checked before it is read: a malformed event (another node's) changes nothing.
  if (!op.is_object()) return false;
  auto field = [&](const char* k) { auto it = op.find(k); return it == op.end() ? nullptr : &*it; };
  const Json* op_name = field("op");
  const Json* t = field("t");
  const Json* of_field = field("of");
  auto number = [](const Json* v) -> std::uint64_t {   // any non-negative integer
    return v && v->is_number_integer() && v->get<std::int64_t>() >= 0 ? v->get<std::uint64_t>() : 0;
  };
  const std::string what = op_name && op_name->is_string() ? op_name->get<std::string>() : "";
  const std::uint64_t token = number(t);
  if (what == "keep") {
    LastWords w;
    w.node = origin.node;
    w.instance = origin.instance;
    w.owner = pub->publisher;
    w.token = token;
    w.pub = *pub;
    w.pub.id = 0;
    if (auto o = op.find("o"); o != op.end() && o->is_object()) w.options = *o;
    log::debug("cluster", "realm ", name, ": last words of session ", pub->publisher, " on ",
               origin.node, " kept (event ", pub->id, ")");
    last_words[pub->id] = std::move(w);
    return false;
  }
  if (what == "drop") {
    std::erase_if(last_words, [&](const auto& e) {
      const LastWords& w = e.second;
      return w.node == origin.node && w.instance == origin.instance && w.owner == pub->publisher &&
             w.token == token;
    });
    return false;
  }
  if (what == "fire") {
    const Id of = number(of_field);
    fired.erase(of);
    auto it = last_words.find(of);
    if (it == last_words.end()) return false;   // dropped, or fired by another node first
    *fire_options = std::move(it->second.options);
    last_words.erase(it);
    return true;
  }
  return false;
}

void Router::check_wills(std::uint64_t now_ms) {
  for (auto& [name, realm] : realms_) realm->check_wills(now_ms);
}

void Router::fence() {
  for (auto& [name, realm] : realms_) realm->impl().fence();
}

void Realm::Impl::fence() {
  const std::string me = log.node_name();
  const std::uint64_t instance = log.instance();
  // Those that own a will here, wait on a key, or have a retained write in flight (an
  // acquisition that may commit while this node cannot hear it, its will fired right after).
  std::set<Id> owners;
  wills.for_each([&](const StoredWill& w) {
    if (w.node == me && w.instance == instance && session(w.owner)) owners.insert(w.owner);
  });
  waiters.for_each_session([&](Id s) {
    if (session(s)) owners.insert(s);
  });
  for (const WaitingDelivery& w : undelivered) {
    if (w.acked_at_apply && w.session != 0 && session(w.session)) owners.insert(w.session);
  }
  for (Id owner : owners) kick_later(owner, "fox.close.cut_off");
}

void Realm::Impl::kick_later(Id owner, const char* reason) {
  if (kicks.count(owner)) return;
  log::warn("cluster", "realm ", name, ": ending session ", owner, " (", reason, ")");
  kicks[owner] = env.start_timer(0, [this, owner, reason] {
    kicks.erase(owner);
    if (SessionEntry* s = session(owner)) s->peer->kick(reason);
  });
}

void Realm::check_wills(std::uint64_t now_ms) { impl_->check_wills(now_ms); }

// A will is due when its owner is gone: a session of this incarnation that left (its write was
// still in flight when it did), a previous incarnation of this node, or a node the cluster lost.
// Every node proposes what it sees due; the first firing committed applies, later ones find the
// registration gone. A firing not applied within kRefireMs is proposed again.
void Realm::Impl::check_wills(std::uint64_t now_ms) {
  constexpr std::uint64_t kRefireMs = 5000;
  const std::string me = log.node_name();
  const std::uint64_t instance = log.instance();
  std::vector<StoredWill> due;
  std::set<Id> registered;
  wills.for_each([&](const StoredWill& w) {
    registered.insert(w.registration);
    bool gone = false;
    if (w.node == me) {
      gone = w.instance != instance || !session(w.owner);
    } else {
      gone = log.node_lost(w.node);
    }
    if (!gone) return;
    auto f = fired.find(w.registration);
    if (f != fired.end() && now_ms < f->second + kRefireMs) return;
    due.push_back(w);
  });
  // Last words of a lost node, or of a previous incarnation of this one (this incarnation's
  // sessions publish their own).
  std::vector<Id> due_words;
  for (const auto& [id, w] : last_words) {
    registered.insert(id);
    const bool gone = w.node == me ? w.instance != instance : log.node_lost(w.node);
    if (!gone) continue;
    auto f = fired.find(id);
    if (f != fired.end() && now_ms < f->second + kRefireMs) continue;
    due_words.push_back(id);
  }
  // Firings whose will was replaced before they applied are forgotten.
  std::erase_if(fired, [&](const auto& f) { return !registered.count(f.first); });
  for (const StoredWill& w : due) propose_will(w);
  for (Id id : due_words) {
    const LastWords& w = last_words.at(id);
    log::info("cluster", "realm ", name, ": publishing the last words of session ", w.owner, " of ",
              w.node, w.node == me ? " (a previous incarnation)" : " (lost)", " to ", w.pub.uri);
    Pending p;
    p.pub = w.pub;
    KvTag tag;
    tag.options = Json{{"lw", Json{{"op", "fire"}, {"of", id}}}};
    fired[id] = now_ms;
    propose_tagged(std::move(p), std::move(tag));
  }
}

void Realm::apply_stale_will(const StoredWill& will) {
  if (WillStore* store = router_.engine().wills()) store->erase_will(will.realm, will.key);
  impl_->apply(will_publication(will));
  impl_->settle();
}

}  // namespace fox
