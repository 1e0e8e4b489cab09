#include "cli/cluster_raft.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/log.hpp"

namespace fox::cli {

struct RaftGroup::Apply {
  struct raft_apply req{};
  RaftGroup* group = nullptr;
  std::pair<std::string, std::uint64_t> key;
};

// A raft connect request while its node link is being made; cancelled by close.
struct RaftGroup::Dial {
  raft_uv_connect* req = nullptr;
  raft_uv_connect_cb cb = nullptr;
  bool cancelled = false;
};

RaftGroup::RaftGroup(uv_loop_t* loop, const cluster::ClusterConfig& config, std::string self,
                     NodeLinks& links)
    : loop_(loop), config_(config), self_(std::move(self)), links_(links) {
  transport_.impl = this;   // raft_uv keeps its own pointer in `data`
  transport_.init = &RaftGroup::t_init;
  transport_.listen = &RaftGroup::t_listen;
  transport_.connect = &RaftGroup::t_connect;
  transport_.close = &RaftGroup::t_close;
}

RaftGroup::~RaftGroup() = default;

raft_id RaftGroup::id_of(const std::string& node) const {
  raft_id id = 0;
  for (const cluster::NodeConfig& n : config_.nodes) {
    if (!n.has(cluster::Role::kSync)) continue;
    ++id;
    if (n.name == node) return id;
  }
  return 0;
}

int RaftGroup::t_init(raft_uv_transport*, raft_id, const char*) { return 0; }

int RaftGroup::t_listen(raft_uv_transport* t, raft_uv_accept_cb cb) {
  auto* self = static_cast<RaftGroup*>(t->impl);
  self->accept_cb_ = cb;
  self->links_.on_raft_stream([self](const std::string& from, uv_stream_t* stream) {
    const raft_id id = self->id_of(from);
    if (self->closing_ || !self->accept_cb_ || id == 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(stream), [](uv_handle_t* h) { raft_free(h); });
      return;
    }
    self->accept_cb_(&self->transport_, id, from.c_str(), stream);
  });
  return 0;
}

int RaftGroup::t_connect(raft_uv_transport* t, raft_uv_connect* req, raft_id, const char* address,
                         raft_uv_connect_cb cb) {
  auto* self = static_cast<RaftGroup*>(t->impl);
  req->cb = cb;
  auto d = std::make_unique<Dial>();
  d->req = req;
  d->cb = cb;
  Dial* raw = d.get();
  self->dials_[raw] = std::move(d);
  self->links_.dial_raft(address, [self, raw](uv_stream_t* stream) {
    auto it = self->dials_.find(raw);
    if (it == self->dials_.end()) {
      if (stream) uv_close(reinterpret_cast<uv_handle_t*>(stream), [](uv_handle_t* h) { raft_free(h); });
      return;
    }
    std::unique_ptr<Dial> d = std::move(it->second);
    self->dials_.erase(it);
    if (d->cancelled) {
      if (stream) uv_close(reinterpret_cast<uv_handle_t*>(stream), [](uv_handle_t* h) { raft_free(h); });
      return;
    }
    d->cb(d->req, stream, stream ? 0 : RAFT_NOCONNECTION);
  });
  return 0;
}

void RaftGroup::t_close(raft_uv_transport* t, raft_uv_transport_close_cb cb) {
  auto* self = static_cast<RaftGroup*>(t->impl);
  self->closing_ = true;
  self->accept_cb_ = nullptr;
  self->links_.on_raft_stream(nullptr);
  // Every pending connect ends now (RAFT_CANCELED); a link made later is closed at once.
  for (auto& [raw, d] : self->dials_) {
    if (d->cancelled) continue;
    d->cancelled = true;
    d->cb(d->req, nullptr, RAFT_CANCELED);
  }
  if (cb) cb(t);
}

bool RaftGroup::start(const std::string& dir, std::string* error) {
  // The node's data directory (the ndb may have made it) and raft's inside it.
  for (std::size_t i = dir.find('/', 1);; i = dir.find('/', i + 1)) {
    const std::string part = dir.substr(0, i);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      *error = "raft: cannot create " + part + ": " + std::strerror(errno);
      return false;
    }
    if (i == std::string::npos) break;
  }
  const raft_id id = id_of(self_);
  if (id == 0) {
    *error = "raft: " + self_ + " is not a sync node";
    return false;
  }
  int rc = raft_uv_init(&io_, loop_, dir.c_str(), &transport_);
  if (rc != 0) {
    *error = "raft: " + dir + ": " + io_.errmsg;
    return false;
  }
  io_ready_ = true;
  // Snapshots are a few KB (the SyncState); fox links raft without lz4 (third_party/raft_lz4_off.c).
  rc = raft_uv_set_snapshot_compression(&io_, false);
  if (rc != 0) {
    *error = "raft: cannot turn snapshot compression off: " + std::string(io_.errmsg);
    return false;
  }
  rc = raft_init(&raft_, &io_, fsm_.fsm(), id, self_.c_str());
  if (rc != 0) {
    *error = "raft: " + std::string(raft_errmsg(&raft_));
    return false;
  }
  raft_ready_ = true;
  // One round trip plus a disk write is ~1 ms here; a Pi's SD card is slower and its cluster
  // may want more (etcd's advice on SD cards is 5 s). Snapshots are small (the SyncState).
  raft_set_election_timeout(&raft_, 1000);
  raft_set_heartbeat_timeout(&raft_, 100);
  raft_set_snapshot_threshold(&raft_, 16384);
  raft_set_snapshot_trailing(&raft_, 2048);
  struct raft_configuration conf;
  raft_configuration_init(&conf);
  raft_id n = 0;
  for (const cluster::NodeConfig& node : config_.nodes) {
    if (!node.has(cluster::Role::kSync)) continue;
    raft_configuration_add(&conf, ++n, node.name.c_str(), RAFT_VOTER);
  }
  rc = raft_bootstrap(&raft_, &conf);
  raft_configuration_close(&conf);
  if (rc == 0) {
    log::info("sync", "raft: bootstrapped a group of ", n, " sync node(s) in ", dir);
  } else if (rc != RAFT_CANTBOOTSTRAP) {
    *error = "raft: bootstrap in " + dir + ": " + raft_errmsg(&raft_);
    return false;
  }
  rc = raft_start(&raft_);
  if (rc != 0) {
    *error = "raft: start in " + dir + ": " + raft_errmsg(&raft_);
    return false;
  }
  log::info("sync", "raft: server ", id, " (", self_, ") started in ", dir);
  return true;
}

void RaftGroup::stop(std::function<void()> done) {
  if (!raft_ready_) {
    if (io_ready_) raft_uv_close(&io_);
    io_ready_ = false;
    if (done) done();
    return;
  }
  stopped_ = std::move(done);
  raft_ready_ = false;
  raft_.data = this;
  raft_close(&raft_, [](struct raft* r) {
    auto* self = static_cast<RaftGroup*>(r->data);
    raft_uv_close(&self->io_);
    self->io_ready_ = false;
    if (self->stopped_) {
      auto fn = std::move(self->stopped_);
      fn();
    }
  });
}

void RaftGroup::watch() {
  const int state = raft_ready_ ? raft_state(&raft_) : -1;
  if (state == last_state_) return;
  last_state_ = state;
  log::info("sync", "raft: ", state_name(), " in term ", raft_ready_ ? raft_.current_term : 0);
}

bool RaftGroup::leader() { return raft_ready_ && raft_state(&raft_) == RAFT_LEADER; }

std::string RaftGroup::state_name() {
  if (!raft_ready_) return "stopped";
  switch (raft_state(&raft_)) {
    case RAFT_LEADER: return "leader";
    case RAFT_CANDIDATE: return "candidate";
    case RAFT_FOLLOWER: return "follower";
    default: return "unavailable";
  }
}

void RaftGroup::propose(const std::string& owner, std::uint64_t segment, std::uint64_t count,
                        std::function<void(const cluster::AssignResult&)> done) {
  watch();
  // A range this server has applied is committed: any sync answers it, leader or not (every ndb
  // drafts the segment to every sync).
  if (std::optional<cluster::IdRange> r = fsm_.state().range_of(owner, segment)) {
    cluster::AssignResult a;
    a.status = r->count == count ? cluster::AssignStatus::duplicate : cluster::AssignStatus::conflict;
    a.range = *r;
    done(a);
    return;
  }
  if (!leader()) return;   // no answer: the entry resends, the ndb drafts again
  // The drafts of the other ndbs for a segment being proposed wait for that one proposal.
  const auto key = std::make_pair(owner, segment);
  auto [it, fresh] = proposing_.try_emplace(key);
  it->second.push_back(std::move(done));
  if (!fresh) return;
  cluster::SegmentRequest request{owner, segment, static_cast<std::uint32_t>(count)};
  raft_buffer buf = cluster::make_raft_command(std::span<const cluster::SegmentRequest>(&request, 1));
  if (!buf.base) {
    proposing_.erase(it);
    return;
  }
  auto* a = new Apply;
  a->group = this;
  a->key = key;
  a->req.data = a;
  int rc = raft_apply(&raft_, &a->req, &buf, 1, [](struct raft_apply* req, int status, void* result) {
    auto* a = static_cast<Apply*>(req->data);
    RaftGroup* self = a->group;
    auto waiting = self->proposing_.extract(a->key);
    delete a;
    if (waiting.empty() || status != 0 || !result) return;
    const cluster::SyncApplied& applied = cluster::RaftSyncFsm::outcome(result);
    if (applied.malformed || applied.results.size() != 1) return;
    const cluster::AssignResult r = applied.results[0];
    for (auto& fn : waiting.mapped()) fn(r);
  });
  if (rc != 0) {
    raft_free(buf.base);
    proposing_.erase(a->key);
    delete a;
  }
}

}  // namespace fox::cli
