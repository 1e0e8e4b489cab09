#include "store/cluster_engine.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "core/topic.hpp"

namespace fox::store {
namespace {

Json ids_json(const std::vector<Id>& ids) {
  Json out = Json::array();
  for (Id id : ids) out.push_back(id);
  return out;
}

Json names_json(const std::vector<std::string>& names) {
  Json out = Json::array();
  for (const std::string& n : names) out.push_back(n);
  return out;
}

void read_ids(const Json& aud, const char* key, std::vector<Id>* out) {
  auto it = aud.find(key);
  if (it == aud.end() || !it->is_array()) return;
  for (const Json& v : *it) {
    if (v.is_number_unsigned()) out->push_back(v.get<Id>());
  }
}

bool read_names(const Json& aud, const char* key, std::vector<std::string>* out) {
  auto it = aud.find(key);
  if (it == aud.end() || !it->is_array()) return false;
  for (const Json& v : *it) {
    if (v.is_string()) out->push_back(v.get<std::string>());
  }
  return true;
}

bool flag(const Json& opt, const char* key) {
  auto it = opt.find(key);
  return it != opt.end() && it->is_boolean() && it->get<bool>();
}

std::string text(const Json& opt, const char* key) {
  auto it = opt.find(key);
  return it != opt.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

// data: {args?, kwargs?, payload? (bytes)}; opt: {n: origin node, q: qos, r: retain, d: disclose,
// ai: authid, ar: authrole, o: the publisher's options as sent, aud: who may receive it,
// kv: a retained-state write (see below)}.
cluster::ClusterEvent to_cluster_event(const std::string& node, const Publication& pub,
                                       const PublishOptions* audience, const KvTag* kv,
                                       std::uint64_t instance) {
  cluster::ClusterEvent e;
  e.uri = pub.topic;
  e.data = Json::object();
  if (!pub.args.is_null()) e.data["args"] = pub.args;
  if (!pub.kwargs.is_null()) e.data["kwargs"] = pub.kwargs;
  if (pub.payload) e.data["payload"] = Json::binary({pub.payload->begin(), pub.payload->end()});
  Json opt = {{"n", node}};
  if (pub.qos > 0) opt["q"] = static_cast<unsigned>(pub.qos);
  if (pub.retain) opt["r"] = true;
  if (pub.disclose_publisher) opt["d"] = true;
  if (!pub.publisher_authid.empty()) opt["ai"] = pub.publisher_authid;
  if (!pub.publisher_authrole.empty()) opt["ar"] = pub.publisher_authrole;
  if (pub.options.is_object() && !pub.options.empty()) opt["o"] = pub.options;
  if (audience) {
    Json aud = Json::object();
    if (!audience->exclude_me) aud["xm"] = false;
    if (!audience->exclude.empty()) aud["x"] = ids_json(audience->exclude);
    if (audience->has_eligible) aud["e"] = ids_json(audience->eligible);
    if (!audience->exclude_authid.empty()) aud["xa"] = names_json(audience->exclude_authid);
    if (audience->has_eligible_authid) aud["ea"] = names_json(audience->eligible_authid);
    if (!audience->exclude_authrole.empty()) aud["xr"] = names_json(audience->exclude_authrole);
    if (audience->has_eligible_authrole) aud["er"] = names_json(audience->eligible_authrole);
    if (!aud.empty()) opt["aud"] = std::move(aud);
  }
  if (kv) {
    // kv: {i: the node's incarnation, rq: request, ak: acknowledge, wf: will fired}
    Json tag = {{"i", instance}};
    if (kv->request) tag["rq"] = kv->request;
    if (kv->acknowledge) tag["ak"] = true;
    if (kv->will_fire) tag["wf"] = kv->will_fire;
    if (kv->options.is_object() && !kv->options.empty()) tag["o"] = kv->options;
    opt["kv"] = std::move(tag);
  }
  e.opt = std::move(opt);
  e.sid = pub.publisher;
  return e;
}

PublicationPtr from_cluster_event(const cluster::ClusterEvent& e) {
  Publication pub;
  pub.topic = e.uri;
  pub.uri = wamp_uri(pub.topic);
  if (e.data.is_object()) {
    if (auto it = e.data.find("args"); it != e.data.end() && it->is_array()) pub.args = *it;
    if (auto it = e.data.find("kwargs"); it != e.data.end() && it->is_object()) pub.kwargs = *it;
    if (auto it = e.data.find("payload"); it != e.data.end() && it->is_binary()) {
      const auto& b = it->get_binary();
      pub.payload = std::string(b.begin(), b.end());
    }
  }
  pub.id = e.id;
  pub.publisher = e.sid;
  if (e.opt.is_object()) {
    // Any non-negative integer: an event that never crossed a link keeps the type it was made
    // with (a cached segment at the ndb of the same node).
    if (auto it = e.opt.find("q"); it != e.opt.end() && it->is_number_integer() &&
        it->get<std::int64_t>() > 0) {
      pub.qos = static_cast<int>(std::min<std::int64_t>(it->get<std::int64_t>(), 2));
    }
    pub.retain = flag(e.opt, "r");
    pub.disclose_publisher = flag(e.opt, "d");
    pub.publisher_authid = text(e.opt, "ai");
    pub.publisher_authrole = text(e.opt, "ar");
    if (auto it = e.opt.find("o"); it != e.opt.end() && it->is_object()) pub.options = *it;
  }
  return std::make_shared<const Publication>(std::move(pub));
}

PublishOptions audience_on(const std::string& node, const cluster::ClusterEvent& e) {
  PublishOptions o;
  const bool here = e.opt.is_object() && text(e.opt, "n") == node;
  o.exclude_me = false;   // a publisher id names a session only on the node it published to
  auto it = e.opt.is_object() ? e.opt.find("aud") : e.opt.end();
  const Json empty = Json::object();
  const Json& aud = it != e.opt.end() && it->is_object() ? *it : empty;
  if (here) {
    o.exclude_me = !(aud.contains("xm") && aud["xm"].is_boolean() && !aud["xm"].get<bool>());
    read_ids(aud, "x", &o.exclude);
    if (aud.contains("e")) {
      o.has_eligible = true;
      read_ids(aud, "e", &o.eligible);
    }
  } else if (aud.contains("e")) {
    // Only sessions of the publisher's node were named: nobody here is eligible.
    o.has_eligible = true;
  }
  read_names(aud, "xa", &o.exclude_authid);
  o.has_eligible_authid = read_names(aud, "ea", &o.eligible_authid);
  read_names(aud, "xr", &o.exclude_authrole);
  o.has_eligible_authrole = read_names(aud, "er", &o.eligible_authrole);
  return o;
}

ClusterEngine::ClusterEngine(std::string node, std::size_t history_per_realm)
    : node_(std::move(node)), memory_(history_per_realm) {}

Appended ClusterEngine::append(const std::string& realm, Publication&& publication) {
  Pending p;
  p.ticket = next_ticket_++;
  p.realm = realm;
  p.publication = std::make_shared<const Publication>(std::move(publication));
  Appended out;
  out.ticket = p.ticket;
  pending_.push_back(std::move(p));
  return out;   // no id yet: the cluster decides it
}

ClusterEngine::Pending* ClusterEngine::find(std::uint64_t ticket) {
  if (pending_.empty() || ticket < pending_.front().ticket) return nullptr;
  const std::uint64_t index = ticket - pending_.front().ticket;
  return index < pending_.size() ? &pending_[index] : nullptr;
}

void ClusterEngine::audience(const Appended& appended, const PublishOptions& options,
                             const KvTag* kv) {
  Pending* p = find(appended.ticket);
  if (!p || p->done) return;
  cluster::ClusterEvent event = to_cluster_event(node_, *p->publication, &options, kv, instance_);
  event.realm = std::move(p->realm);
  // The entry holds the event until it is resolved; here only the ticket waits (the router
  // needs nothing but the id back: the cluster delivers the event itself).
  p->publication.reset();
  p->realm.clear();
  if (!entry_ || !entry_->publish(std::move(event), p->ticket)) {
    // Not serving yet, or too many publications wait for their ids: refused, never queued
    // without bound. The publisher gets an error (WAMP acknowledge) or no PUBACK.
    ++refused_;
    p->done = true;
    p->ok = false;
  }
}

void ClusterEngine::on_durable(const Appended& appended, DurableFn fn) {
  Pending* p = find(appended.ticket);
  if (!p) return;
  p->fn = std::move(fn);
  release();
}

void ClusterEngine::forget_durable_callbacks() {
  for (Pending& p : pending_) p.fn = nullptr;
}

void ClusterEngine::acknowledged(std::uint64_t ticket, Id id) {
  Pending* p = find(ticket);
  if (!p || p->done) return;
  p->done = true;
  p->ok = true;
  p->id = id;
  release();
}

void ClusterEngine::release() {
  if (releasing_) return;   // a callback that publishes appends behind; the loop below gets it
  releasing_ = true;
  while (!pending_.empty() && pending_.front().done && pending_.front().fn) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    PublicationPtr pub;
    if (p.ok) {
      Publication with_id;   // the router reads only the id (delivers_itself)
      with_id.id = p.id;
      pub = std::make_shared<const Publication>(std::move(with_id));
    }
    p.fn(pub, p.ok);
  }
  releasing_ = false;
}

void ClusterEngine::ready() {
  accepted_ = true;
  maybe_serve();
}

void ClusterEngine::maybe_serve() {
  if (!accepted_ || serving_ || !entry_ || entry_->delivered() < entry_->head()) return;
  serving_ = true;
  if (entry_->head() > 0) {
    log::info("cluster", node_, ": applied the history up to id ", entry_->head(), ": serving");
  }
  if (on_ready_) on_ready_();
}

void ClusterEngine::deliver(const cluster::ClusterEvent& event, bool live) {
  apply(event, live);
  maybe_serve();   // the entry counts the event delivered already
}

void ClusterEngine::apply(const cluster::ClusterEvent& event, bool live) {
  ++delivered_;
  PublicationPtr pub = from_cluster_event(event);
  if (!router_) {
    memory_.record(event.realm, pub);
    return;
  }
  Error error;
  Realm* realm = router_->realm(event.realm, &error);
  if (!realm) {
    log::debug("cluster", "event ", event.id, " of realm ", event.realm, " not served here: ",
               error.uri);
    return;
  }
  CommitOrigin origin;
  origin.live = live;
  origin.node = text(event.opt, "n");
  origin.here = origin.node == node_;
  if (auto it = event.opt.find("kv"); it != event.opt.end() && it->is_object()) {
    const Json& tag = *it;
    auto number = [&](const char* key) -> std::uint64_t {
      auto v = tag.find(key);
      return v != tag.end() && v->is_number_unsigned() ? v->get<std::uint64_t>() : 0;
    };
    origin.instance = number("i");
    origin.here = origin.here && origin.instance == instance_;
    origin.kv.request = number("rq");
    origin.kv.acknowledge = flag(tag, "ak");
    origin.kv.will_fire = number("wf");
    if (auto o = tag.find("o"); o != tag.end() && o->is_object()) origin.kv.options = *o;
  }
  // Applied (or not: a `when` that failed, a stale will firing) on every entry alike; only what
  // had its effect is history for `after` replays.
  if (realm->apply_committed(pub, audience_on(node_, event), origin)) {
    memory_.record(event.realm, pub);
  } else if (history_read_) {
    if (not_applied_.size() >= kMaxNotApplied) {
      const std::size_t half = not_applied_.size() / 2;
      not_applied_floor_ = not_applied_[half - 1];
      not_applied_.erase(not_applied_.begin(), not_applied_.begin() + static_cast<std::ptrdiff_t>(half));
    }
    if (not_applied_.empty() || not_applied_.back() < event.id) not_applied_.push_back(event.id);
  }
}

// What a replay cannot have: the ring's evicted ids, unless the ndb holds every one of them;
// then only those up to what the not-applied list forgot (never more than the ring evicted).
Id ClusterEngine::evicted_upto(const std::string& realm) const {
  const Id ring = memory_.evicted_upto(realm);
  if (ring == 0 || !history_read_ || history_contiguous_() < ring) return ring;
  return std::min(ring, not_applied_floor_);
}

ScanPage<Id> ClusterEngine::scan(const std::string& realm, Id after, Id upto,
                                 PatternMatcher& pattern) {
  const Id ring = memory_.evicted_upto(realm);
  if (after >= ring || !history_read_) return memory_.scan(realm, after, upto, pattern);
  // Before the ring: from the ndb, every realm's events in id order, a page at a time.
  const Id end = std::min(upto, ring);
  ScanPage<Id> page;
  std::vector<cluster::ClusterEvent> events = history_read_(after + 1, end, kScanRows);
  for (const cluster::ClusterEvent& e : events) {
    if (e.realm != realm || std::binary_search(not_applied_.begin(), not_applied_.end(), e.id)) continue;
    PublicationPtr pub = from_cluster_event(e);
    if (pattern.matches(pub->topic)) page.publications.push_back(std::move(pub));
  }
  page.next = events.size() == kScanRows ? events.back().id : end;
  page.done = page.next >= upto;
  return page;
}

}  // namespace fox::store
