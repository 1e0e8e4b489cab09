#include "cli/cluster_node.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "core/log.hpp"
#include "fox/codec.hpp"

namespace fox::cli {

using cluster::Message;

// The roles' outboxes: every message goes through ClusterNode::send.
struct ClusterNode::Outboxes final : cluster::EntryOutbox, cluster::NdbOutbox, cluster::SyncOutbox {
  ClusterNode* node;
  explicit Outboxes(ClusterNode* n) : node(n) {}
  void to_ndb(const std::string& ndb, const Message& m) override { node->send(ndb, m); }
  void to_ndbs(const std::vector<std::string>& ndbs, const Message& m) override {
    node->send_all(ndbs, m);
  }
  void to_sync(const std::string& sync, const Message& m) override { node->send(sync, m); }
  void to_entry(const std::string& entry, const Message& m) override { node->send(entry, m); }
  // The committed events of a segment: to the entry of this node and to the entries that have
  // no ndb of their own (every ndb pushes to those); an entry with an ndb on its node gets the
  // events from it (in-process), and a segment its ndb missed it fetches (the gap).
  void to_entries(const Message& m) override { node->send_all(node->push_to_, m); }
  void to_syncs(const Message& m) override { node->send_all(node->syncs_, m); }
  void to_ndbs(const Message& m) override { node->send_all(node->ndbs_, m); }
  void reply(const std::string& to, const Message& m) override { node->send(to, m); }
};

// The router's messages for other entries (RPC_*): straight onto the node links.
struct ClusterNode::Remote final : RemoteLinks {
  ClusterNode* node;
  explicit Remote(ClusterNode* n) : node(n) {}
  void send(const std::string& to, Json message) override {
    if (!node->stopped_ && node->links_) node->links_->send(to, message);
  }
};

ClusterNode::ClusterNode(uv_loop_t* loop, const cluster::ClusterConfig& config,
                         const cluster::NodeConfig& node, store::ClusterEngine* engine,
                         bool sync_full)
    : loop_(loop), config_(config), node_(node), engine_(engine), sync_full_(sync_full) {
  for (const cluster::NodeConfig& n : config_.nodes) {
    if (n.has(cluster::Role::kEntry)) entries_.push_back(n.name);
    if (n.has(cluster::Role::kNdb)) ndbs_.push_back(n.name);
    if (n.has(cluster::Role::kSync)) syncs_.push_back(n.name);
    if (n.has(cluster::Role::kEntry) && (n.name == node_.name || !n.has(cluster::Role::kNdb))) {
      push_to_.push_back(n.name);
    }
    if (n.has(cluster::Role::kEntry) && n.name != node_.name) entry_peers_.push_back(n.name);
  }
  out_ = std::make_unique<Outboxes>(this);
}

ClusterNode::~ClusterNode() {
  // The links first: their pending raft dials call back into raft_ (with nullptr).
  if (links_) links_->stop();
  // A stop forced before raft finished closing (serve's 1.5 s safety net): raft's callbacks may
  // still run while the process exits, so its state is left to the exit, not freed under it.
  if (raft_ && raft_->closing()) (void)raft_.release();
}

bool ClusterNode::start(std::string* error) {
  local_timer_ = new uv_timer_t;
  uv_timer_init(loop_, local_timer_);
  local_timer_->data = this;
  links_ = std::make_unique<NodeLinks>(
      loop_, config_, node_.name, LinkOptions{},
      [this](const std::string& from, Json&& map) {
        auto ft = map.is_object() ? map.find("ft") : map.end();
        if (ft != map.end() && *ft == "NODE_STATUS") {
          // A new incarnation of an entry (it restarted faster than entryTimeoutMs): what its
          // old one had — registrations, calls in flight — ends in every realm.
          auto& [said, when] = peer_status_[from];
          auto was = said.is_object() ? said.find("i") : said.end();
          auto now_i = map.find("i");
          if (router_ && was != said.end() && now_i != map.end() && *was != *now_i) {
            log::info("cluster", from, " restarted: its registrations and calls end here");
            router_->remote_lost(from);
          }
          said = std::move(map);
          when = uv_now(loop_);
          return;
        }
        if (ft != map.end() && ft->is_string() && ft->get_ref<const std::string&>().rfind("RPC_", 0) == 0) {
          std::string why;
          const bool entry_peer = std::find(entry_peers_.begin(), entry_peers_.end(), from) != entry_peers_.end();
          if (!router_ || !entry_peer) {
            log::debug("cluster", "an RPC message from ", from, ": no entry here for it");
          } else if (!router_->on_remote(from, map, &why)) {
            log::warn("cluster", "from ", from, ": a malformed RPC message (", why, "): dropped");
          }
          return;
        }
        Message m;
        std::string why;
        if (!cluster::decode(std::move(map), &m, &why)) {
          log::warn("cluster", "from ", from, ": a malformed message (", why, "): dropped");
          return;
        }
        receive(from, m);
      });
  const std::set<std::string> entry_set(entries_.begin(), entries_.end());
  const std::set<std::string> ndb_set(ndbs_.begin(), ndbs_.end());
  if (node_.has(cluster::Role::kNdb)) {
    ndb_storage_ = store::NdbSqlite::open(node_.data, sync_full_, error);
    if (!ndb_storage_) return false;
    ndb_ = std::make_unique<cluster::Ndb>(node_.name, *ndb_storage_, *out_);
    ndb_->accept_only(entry_set);
    if (engine_) {
      // `after` replays of what the entry's ring evicted are read from this node's ndb.
      engine_->set_history([this] { return ndb_->contiguous(); },
                           [this](Id from, Id upto, std::size_t max) {
                             return ndb_storage_->history(from, upto, max);
                           });
    }
    log::info("ndb", "history in ", node_.data, " up to id ", ndb_storage_->last_id());
  }
  if (node_.has(cluster::Role::kSync)) {
    raft_ = std::make_unique<RaftGroup>(loop_, config_, node_.name, *links_);
    if (!raft_->start(node_.data + "/raft", error)) return false;
    sync_ = std::make_unique<cluster::Sync>(node_.name, *raft_, *out_);
    sync_->accept_only(entry_set, ndb_set);
  }
  if (!links_->start(error)) return false;
  if (node_.has(cluster::Role::kEntry)) {
    cluster::EntryConfig ec;
    ec.name = node_.name;
    ec.ndbs = ndbs_;
    ec.syncs = syncs_;
    ec.sync_quorum = config_.sync_quorum;
    ec.storage_quorum = config_.storage_quorum;
    const auto wall = std::chrono::system_clock::now().time_since_epoch();
    ec.first_segment = cluster::Entry::segment_base(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(wall).count()));
    // Every committed event from id 1 is applied: the retained state is a projection of the
    // whole history (what came before this entry served is applied, not delivered).
    ec.backfill = cluster::kMaxEventId;
    engine_->set_instance(ec.first_segment);
    engine_->on_node_lost([this](const std::string& peer) { return lost(peer); });
    entry_ = std::make_unique<cluster::Entry>(ec, *out_, *engine_);
    entry_->start(uv_now(loop_));
  }
  tick_timer_ = new uv_timer_t;
  uv_timer_init(loop_, tick_timer_);
  tick_timer_->data = this;
  uv_timer_start(tick_timer_, [](uv_timer_t* t) { static_cast<ClusterNode*>(t->data)->tick(); }, 20, 20);
  return true;
}

void ClusterNode::attach_router(Router* router) {
  router_ = router;
  remote_ = std::make_unique<Remote>(this);
  router_->set_remote(remote_.get(), node_.name, engine_ ? engine_->instance() : 0);
  router_->set_cluster_status([this] { return status(); });
}

// What this node says of itself to its peers (NODE_STATUS) and in fox.cluster.nodes.
Json ClusterNode::own_status() {
  Json s = {{"ft", "NODE_STATUS"}};
  if (engine_) s["i"] = engine_->instance();
  if (entry_) {
    s["delivered"] = entry_->delivered();
    s["unresolved_segments"] = entry_->unresolved();
    s["ready"] = entry_->ready();
  }
  if (ndb_) s["stored"] = ndb_->contiguous();
  if (raft_) {
    s["raft"] = raft_->state_name();
    s["term"] = raft_->term();
  }
  return s;
}

// fox.cluster.nodes: one object per node of the cluster file, in its order: name, roles, this
// node or the link to it (up/down, lost after entryTimeoutMs), and what it last said of itself
// (at most a second old while its link is up): delivered (the last id its entry delivered),
// stored (every id up to it is in its ndb), raft (its sync's state), unresolved_segments, and
// lag (ids it is behind the furthest entry).
Json ClusterNode::status() {
  const std::uint64_t now = uv_now(loop_);
  Json nodes = Json::array();
  Id furthest = entry_ ? entry_->delivered() : 0;
  for (const auto& [peer, said] : peer_status_) {
    auto d = said.first.find("delivered");   // a peer's message: its types are checked
    if (d != said.first.end() && d->is_number_unsigned()) furthest = std::max<Id>(furthest, d->get<Id>());
  }
  for (const cluster::NodeConfig& n : config_.nodes) {
    Json roles = Json::array();
    for (auto [role, name] : {std::pair{cluster::Role::kEntry, "entry"}, {cluster::Role::kNdb, "ndb"},
                              {cluster::Role::kSync, "sync"}}) {
      if (n.has(role)) roles.push_back(name);
    }
    Json o = {{"name", n.name}, {"roles", std::move(roles)}};
    Json said;
    if (n.name == node_.name) {
      o["self"] = true;
      o["link"] = "self";
      said = own_status();
    } else {
      o["link"] = links_ && links_->up(n.name) ? "up" : "down";
      o["lost"] = lost(n.name);
      if (auto it = peer_status_.find(n.name); it != peer_status_.end()) {
        said = it->second.first;
        o["status_age_ms"] = now - it->second.second;
      }
    }
    if (said.is_object()) {
      for (const char* k : {"delivered", "stored", "raft", "term", "unresolved_segments", "ready"}) {
        if (auto v = said.find(k); v != said.end()) o[k] = *v;
      }
      if (auto d = said.find("delivered"); d != said.end() && d->is_number_unsigned()) {
        o["lag"] = furthest - std::min<Id>(furthest, d->get<Id>());
      }
    }
    nodes.push_back(std::move(o));
  }
  return nodes;
}

void ClusterNode::send(const std::string& to, const Message& message) {
  if (stopped_) return;
  if (to == node_.name) {
    local_.emplace_back(node_.name, message);   // copied, handled on a later turn
    if (local_.size() == 1) {
      uv_timer_start(local_timer_, [](uv_timer_t* t) { static_cast<ClusterNode*>(t->data)->drain_local(); }, 0, 0);
    }
    return;
  }
  links_->send(to, cluster::encode(message));
}

void ClusterNode::send_all(const std::vector<std::string>& to, const Message& message) {
  if (stopped_) return;
  std::string frame;
  for (const std::string& name : to) {
    if (name == node_.name) {
      send(name, message);
      continue;
    }
    if (frame.empty()) foxp::encode_message(cluster::encode(message), frame);
    links_->send_frame(name, frame);
  }
}

void ClusterNode::drain_local() {
  // Only what is queued now: what these messages send to this node waits for the next turn.
  std::deque<std::pair<std::string, Message>> batch;
  batch.swap(local_);
  for (auto& [from, m] : batch) {
    if (stopped_) return;
    receive(from, m);
  }
  if (!local_.empty() && !stopped_) {
    uv_timer_start(local_timer_, [](uv_timer_t* t) { static_cast<ClusterNode*>(t->data)->drain_local(); }, 0, 0);
  }
}

void ClusterNode::receive(const std::string& from, const Message& m) {
  if (stopped_) return;
  std::string error;
  bool ok = true;
  bool handled = false;
  std::visit([&](const auto& x) {
    using T = std::decay_t<decltype(x)>;
    if constexpr (std::is_same_v<T, cluster::InitEntryAccepted> ||
                  std::is_same_v<T, cluster::TrimAdvanceSegment> ||
                  std::is_same_v<T, cluster::AdvanceSegmentResolved> ||
                  std::is_same_v<T, cluster::History>) {
      if (entry_) {
        handled = true;
        ok = entry_->on_message(from, m, &error);
      }
    } else if constexpr (std::is_same_v<T, cluster::InitEntry> ||
                         std::is_same_v<T, cluster::GenerateDraft>) {
      if (sync_) {
        handled = true;
        ok = sync_->on_message(from, m, &error);
      }
    } else {
      if (ndb_) {
        handled = true;
        ok = ndb_->on_message(from, m, &error);
      }
    }
  }, m);
  if (!handled) {
    log::debug("cluster", cluster::message_name(m), " from ", from, ": no role here for it");
  } else if (!ok) {
    ++refused_;
    log::debug("cluster", cluster::message_name(m), " from ", from, " refused: ", error);
  }
}

void ClusterNode::tick() {
  if (stopped_) return;
  const std::uint64_t now = uv_now(loop_);
  if (entry_) entry_->on_tick(now);
  if (raft_) raft_->watch();
  if (links_) {
    for (const cluster::NodeConfig& n : config_.nodes) {
      if (n.name == node_.name) continue;
      auto [it, added] = last_contact_.try_emplace(n.name, now);
      if (links_->up(n.name)) it->second = now;
    }
  }
  if (router_ && entry_ && entry_->ready()) {
    // RPC: a peer entry whose link came up gets every table; one that is lost loses its
    // registrations here; what changed goes to all.
    for (const std::string& peer : entry_peers_) {
      const bool up = links_->up(peer);
      bool& was_up = link_was_up_[peer];
      if (up && !was_up) router_->remote_link_up(peer);
      was_up = up;
      bool& gone = peer_lost_[peer];
      // RPC needs only the link: a call to a node out of reach ends, quorum or not.
      const bool now_lost = no_contact(peer);
      if (now_lost && !gone) {
        log::warn("cluster", peer, ": no contact for ", config_.entry_timeout_ms,
                  " ms: its registrations and the calls to it end here");
        router_->remote_lost(peer);
      }
      gone = now_lost;
    }
    router_->announce(entry_peers_);
    // Self-fencing: cut off from the sync group for half the entry timeout, this node ends its
    // sessions that own wills before the others (after the whole timeout) fire those wills.
    if (reaches_sync_quorum()) {
      no_quorum_since_ = 0;
      fenced_ = false;
    } else {
      if (no_quorum_since_ == 0) no_quorum_since_ = now;
      if (!fenced_ && now >= no_quorum_since_ + config_.entry_timeout_ms / 2) {
        fenced_ = true;
        log::warn("cluster", node_.name, ": no sync quorum for ", config_.entry_timeout_ms / 2,
                  " ms: ending the sessions that own wills (the others will fire them)");
        router_->fence();
      }
    }
  }
  if (links_ && now >= status_sent_ + 1000) {
    status_sent_ = now;
    const Json said = own_status();
    for (const cluster::NodeConfig& n : config_.nodes) {
      if (n.name != node_.name && links_->up(n.name)) links_->send(n.name, said);
    }
  }
  if (engine_ && now >= wills_checked_ + 250) {
    wills_checked_ = now;
    engine_->tick();
  }
}

// A node is lost after entryTimeoutMs with no link up to it (each node judges for itself; what
// it then proposes — the lost node's wills — applies once, in the committed order, everywhere).
//
// Only a node that reaches a sync quorum judges (SPEC §9: the loss is the sync group's to decide):
// one cut off from the cluster would otherwise judge every other node lost, and its proposals
// (their wills fired) would commit once it is back.
bool ClusterNode::no_contact(const std::string& peer) const {
  auto it = last_contact_.find(peer);
  return it != last_contact_.end() && uv_now(loop_) >= it->second + config_.entry_timeout_ms;
}

bool ClusterNode::reaches_sync_quorum() const {
  int syncs = 0;
  for (const std::string& s : syncs_) {
    syncs += s == node_.name || (links_ && links_->up(s)) ? 1 : 0;
  }
  return syncs >= config_.sync_quorum;
}

bool ClusterNode::lost(const std::string& peer) const {
  return no_contact(peer) && reaches_sync_quorum();
}

void ClusterNode::end_of_turn() {
  const bool stored = !ndb_storage_ || ndb_storage_->flush();
  if (links_) links_->flush();   // what the turn sent, what the commit released included
  if (stored) return;
  // What the Ndb holds in memory is ahead of what SQLite has: going on would TRIM or RESOLVE
  // events that are not durable. Crash-only: the node stops here; restarted (systemd,
  // supervisord), it recovers exactly what is durable and its entries send the rest again.
  log::error("ndb", "the SQLite commit failed: stopping the node (exit 1) so that it never "
                    "claims what it did not store");
  std::_Exit(1);
}

void ClusterNode::stop(std::function<void()> done) {
  if (stopped_) {
    if (done) done();
    return;
  }
  stopped_ = true;
  for (uv_timer_t** t : {&local_timer_, &tick_timer_}) {
    if (!*t) continue;
    uv_timer_stop(*t);
    uv_close(reinterpret_cast<uv_handle_t*>(*t), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    *t = nullptr;
  }
  if (ndb_storage_) ndb_storage_->flush();
  auto finish = [this, done = std::move(done)]() {
    if (links_) links_->stop();
    if (ndb_storage_) ndb_storage_->close();
    if (done) done();
  };
  if (raft_) {
    raft_->stop(finish);
  } else {
    finish();
  }
}

}  // namespace fox::cli
