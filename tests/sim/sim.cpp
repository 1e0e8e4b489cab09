// The cluster simulation (tests/sim/README.md): whole clusters in one process, the real entry,
// ndb and sync role code, virtual time, a seeded network that delays, drops, duplicates,
// reorders and partitions, ndb and sync crashes and restarts (memory lost, durable storage kept).
// Invariants are checked after every run; a failing seed prints itself and reproduces from its
// number.
//
//   fox_sim [--seeds N | --seed S] [--first F] [--verbose]
//
// The sync group's agreement is Canonical raft itself (Debian's libraft 0.15): its in-memory
// fixture (raft_fixture: the real raft core over an in-memory raft_io, its own virtual clock,
// stepped here to the simulation's) with one RaftSyncFsm per sync node, as a node runs it.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

extern "C" {
#include <raft/fixture.h>
}

#include "cluster/entry.hpp"
#include "cluster/raft_sync_fsm.hpp"
#include "cluster/messages.hpp"
#include "cluster/ndb.hpp"
#include "cluster/sync.hpp"
#include "cluster/sync_fsm.hpp"

using namespace fox;
using namespace fox::cluster;

namespace {

struct Options {
  std::uint64_t end_of_load_ms = 2000;   // publications stop
  std::uint64_t heal_ms = 2500;          // every fault healed
  std::uint64_t end_ms = 8000;           // quiet until then, then the invariants
  double drop = 0.05, duplicate = 0.03;
  bool verbose = false;
};

class Sim;

// Storage of one ndb. What the process wrote is visible at once (`mem`); a sync() makes durable
// exactly what was written before it was asked for (`disk`), a crash forgets the rest.
struct SimStorage final : NdbStorage {
  using Key = std::tuple<std::string, std::uint64_t, std::uint64_t>;
  struct State {
    std::map<Key, ClusterEvent> kept;
    std::map<Id, ClusterEvent> history;
    std::map<std::pair<std::string, std::uint64_t>, CommittedSegment> committed;
    std::map<std::pair<std::string, std::uint64_t>, ClosedSegment> closed;
  };
  struct Op {
    enum Kind { kKeep, kCommit, kHistory, kMark, kForget, kClose } kind = kKeep;
    Key key;
    ClusterEvent event;
    Id first = 0;
    std::uint64_t count = 0;
    std::string digest;
  };
  State mem, disk;
  std::vector<Op> queued;              // written, not durable, in order
  std::uint64_t queued_base = 0;       // the index of queued[0] among every op ever written
  std::function<void(std::uint64_t upto, std::function<void()>)> schedule_sync;

  static void drop_kept(State& st, const std::string& owner, std::uint64_t segment) {
    for (auto it = st.kept.begin(); it != st.kept.end();) {
      if (std::get<0>(it->first) == owner && std::get<1>(it->first) == segment) it = st.kept.erase(it);
      else ++it;
    }
  }
  static void apply(State& st, const Op& op) {
    const auto& [owner, segment, offset] = op.key;
    if (op.kind == Op::kKeep) {
      st.kept[op.key] = op.event;
      return;
    }
    if (op.kind == Op::kHistory) {
      st.history.emplace(op.event.id, op.event);
      return;
    }
    if (op.kind == Op::kClose) {
      st.closed[{owner, segment}] = ClosedSegment{owner, segment, op.count, op.digest};
      return;
    }
    st.closed.erase({owner, segment});   // committed or forgotten: the close is done with
    if (op.kind == Op::kForget) {
      drop_kept(st, owner, segment);
      return;
    }
    if (op.kind == Op::kMark) {
      drop_kept(st, owner, segment);
      st.committed[{owner, segment}] = CommittedSegment{owner, segment, op.first, op.count};
      return;
    }
    std::uint64_t count = 0;
    for (auto it = st.kept.begin(); it != st.kept.end();) {
      const auto& [o, sg, off] = it->first;
      if (o == owner && sg == segment) {
        ClusterEvent c = it->second;
        c.id = op.first + off - 1;
        st.history.emplace(c.id, c);   // INSERT OR IGNORE, as SQLite
        ++count;
        it = st.kept.erase(it);
      } else {
        ++it;
      }
    }
    st.committed[{owner, segment}] = CommittedSegment{owner, segment, op.first, count};
  }
  void write(Op op) {
    apply(mem, op);
    queued.push_back(std::move(op));
  }
  void keep(const std::string& owner, std::uint64_t segment, std::uint64_t offset,
            const ClusterEvent& event) override {
    write(Op{Op::kKeep, {owner, segment, offset}, event, 0, 0, {}});
  }
  void commit(const std::string& owner, std::uint64_t segment, Id first) override {
    write(Op{Op::kCommit, {owner, segment, 0}, {}, first, 0, {}});
  }
  void put_history(const std::vector<ClusterEvent>& events) override {
    for (const ClusterEvent& e : events) write(Op{Op::kHistory, {}, e, 0, 0, {}});
  }
  void mark_committed(const std::string& owner, std::uint64_t segment, Id first,
                      std::uint64_t count) override {
    write(Op{Op::kMark, {owner, segment, 0}, {}, first, count, {}});
  }
  void forget(const std::string& owner, std::uint64_t segment) override {
    write(Op{Op::kForget, {owner, segment, 0}, {}, 0, 0, {}});
  }
  void record_close(const std::string& owner, std::uint64_t segment, std::uint64_t count,
                    const std::string& digest) override {
    write(Op{Op::kClose, {owner, segment, 0}, {}, 0, count, digest});
  }
  std::vector<ClosedSegment> closed_segments() const override {
    std::vector<ClosedSegment> out;
    for (const auto& [k, c] : disk.closed) out.push_back(c);
    return out;
  }
  Id contiguous(Id from) const override {
    Id c = from - 1;
    while (mem.history.count(c + 1)) ++c;
    return c;
  }
  void sync(std::function<void()> done) override {
    schedule_sync(queued_base + queued.size(), std::move(done));
  }
  // The disk write of everything up to op `upto` (exclusive).
  void make_durable(std::uint64_t upto) {
    while (queued_base < upto && !queued.empty()) {
      apply(disk, queued.front());
      queued.erase(queued.begin());
      ++queued_base;
    }
  }
  void crash() {
    queued_base += queued.size();
    queued.clear();
    mem = disk;
  }
  std::vector<ClusterEvent> history(Id from, Id upto, std::size_t max) const override {
    std::vector<ClusterEvent> out;
    for (auto it = mem.history.lower_bound(from); it != mem.history.end() && it->first <= upto && out.size() < max; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  std::vector<KeptSegment> kept_segments() const override {
    std::vector<KeptSegment> out;
    for (const auto& [key, e] : disk.kept) {
      const auto& [owner, segment, offset] = key;
      if (out.empty() || out.back().owner != owner || out.back().segment != segment) {
        out.push_back({owner, segment, {}});
      }
      if (offset == out.back().events.size() + 1) out.back().events.push_back(e);
    }
    return out;
  }
  std::vector<CommittedSegment> committed_segments() const override {
    std::vector<CommittedSegment> out;
    for (const auto& [key, c] : disk.committed) out.push_back(c);
    return out;
  }
};

// The sync group: raft's fixture with one server per sync node (index = position in the file),
// stepped until its clock reaches the simulation's before every event. A crash of a sync node
// kills its server (raft_fixture_kill: its log stays, as on disk), a restart revives it, a cut
// disconnects it from the others.
struct RaftGroup {
  static constexpr unsigned kServers = 3;
  RaftSyncFsm fsms[kServers];
  raft_fixture f{};
  bool started = false;
  std::map<std::pair<std::string, std::uint64_t>, std::vector<std::function<void(const AssignResult&)>>> proposing;

  RaftGroup() {
    if (raft_fixture_initialize(&f) != 0) std::abort();
    for (auto& fsm : fsms) {
      if (raft_fixture_grow(&f, fsm.fsm()) != 0) std::abort();
    }
    raft_configuration conf;
    raft_fixture_configuration(&f, kServers, &conf);
    raft_fixture_bootstrap(&f, &conf);
    raft_configuration_close(&conf);
    if (raft_fixture_start(&f) != 0) std::abort();
    started = true;
  }
  ~RaftGroup() {
    if (started) raft_fixture_close(&f);
  }
  void advance(std::uint64_t now) {
    while (f.time < now) raft_fixture_step(&f);
  }
  void connect(unsigned i, bool up) {
    for (unsigned j = 0; j < kServers; ++j) {
      if (j == i) continue;
      if (up) {
        raft_fixture_reconnect(&f, i, j);
        raft_fixture_reconnect(&f, j, i);
      } else {
        raft_fixture_disconnect(&f, i, j);
        raft_fixture_disconnect(&f, j, i);
      }
    }
  }
  bool shut_down() {
    for (unsigned i = 0; i < kServers; ++i) {
      if (raft_state(raft_fixture_get(&f, i)) == RAFT_UNAVAILABLE) return true;
    }
    return false;
  }
};

// One sync node's view of the group, as cli/cluster_raft.cpp's: a range its server applied is
// answered from its state; otherwise only the leader proposes (raft_apply), and answers when
// the command is applied.
struct RaftAgreement final : SyncAgreement {
  Sim* sim;
  RaftGroup* group;
  unsigned server = 0;
  void propose(const std::string& owner, std::uint64_t segment, std::uint64_t count,
               std::function<void(const AssignResult&)> done) override;
  std::uint64_t last_segment(const std::string& owner) const override {
    return group->fsms[server].state().last_segment(owner);
  }
  Id head() const override { return group->fsms[server].state().next_id() - 1; }
};

struct Proposal {
  struct raft_apply req{};
  Sim* sim = nullptr;
  std::string owner;
  std::uint64_t segment = 0;
  RaftGroup* group = nullptr;
};

struct Failure {
  std::string what;
};

class Sim {
public:
  Sim(std::uint64_t seed, Options o) : rng_(seed), seed_(seed), o_(o) {}

  void at(std::uint64_t t, std::function<void()> fn) { queue_.push(Item{t, ++seq_, std::move(fn)}); }
  std::uint64_t now() const { return now_; }
  std::uint64_t rand(std::uint64_t n) { return n ? rng_() % n : 0; }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  bool up(const std::string& node) const { return !down_.count(node); }
  std::vector<std::string> peers_of(const std::string& ndb) const;
  EntryConfig entry_config(const std::string& name) const;

  // A message on the network: maybe dropped, duplicated, delayed (so reordered); copied through
  // its FOX map, as a node link would.
  // A message on the network: maybe dropped, duplicated, delayed (so reordered); as bytes, the
  // MessagePack of its FOX map, as a node link carries it. A message in flight when its sender
  // or receiver crashes is lost with the connection.
  void send(const std::string& from, const std::string& to, const Message& m) {
    if (!up(from)) return;
    const int copies = chance(o_.drop) ? 0 : chance(o_.duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      std::vector<std::uint8_t> wire = Json::to_msgpack(encode(m));
      const std::uint64_t lives = crashes_[from] + crashes_[to];
      at(now_ + 1 + rand(20), [this, from, to, wire, lives] {
        if (!up(to) || cut(from, to) || crashes_[from] + crashes_[to] != lives) return;
        Message copy;
        std::string error;
        if (!decode(Json::from_msgpack(wire), &copy, &error)) fail("a message does not decode: " + error);
        deliver(from, to, copy);
      });
    }
  }

  void fail(const std::string& what) {
    if (failure_.empty()) failure_ = what;
  }

  bool run(std::string* why);
  RaftGroup group;
  std::size_t proposals_failed = 0;

private:
  struct Item {
    std::uint64_t t, seq;
    std::function<void()> fn;
    bool operator>(const Item& o) const { return std::tie(t, seq) > std::tie(o.t, o.seq); }
  };
  struct EntryNode;
  struct NdbNode;
  struct SyncNode;

  bool cut(const std::string& a, const std::string& b) const {
    return isolated_.count(a) || isolated_.count(b);
  }
  void deliver(const std::string& from, const std::string& to, const Message& m);
  void build();
  void crash(const std::string& node);
  void restart(const std::string& node);
  void schedule_faults();
  void schedule_load();
  void tick();
  void check(std::string* why);

  std::mt19937_64 rng_;
  std::uint64_t seed_;
  Options o_;
  std::uint64_t now_ = 0, seq_ = 0;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue_;
  std::set<std::string> down_, isolated_;
  std::map<std::string, std::uint64_t> crashes_;
  std::map<std::string, std::unique_ptr<EntryNode>> entries_;
  std::map<std::string, std::unique_ptr<NdbNode>> ndbs_;
  std::map<std::string, std::unique_ptr<SyncNode>> syncs_;
  std::vector<std::string> entry_names_, ndb_names_, sync_names_;
  std::string failure_;
  std::uint64_t next_ticket_ = 0;
  std::map<std::uint64_t, ClusterEvent> published_;   // ticket → event
  std::map<std::uint64_t, Id> acked_;                 // ticket → id
  std::map<std::uint64_t, std::string> entry_of_;     // ticket → the entry it was published to
  std::map<std::uint64_t, ClusterEvent> lost_;        // unacknowledged when its entry crashed
  int faults_ = 0;

public:
  int faults() const { return faults_; }
  std::size_t acked() const { return acked_.size(); }

  friend struct RaftAgreement;
  unsigned server_of(const std::string& sync) const {
    for (unsigned i = 0; i < sync_names_.size(); ++i) {
      if (sync_names_[i] == sync) return i;
    }
    return 0;
  }
};

struct Sim::EntryNode final : EntryOutbox, EntrySink {
  Sim* sim;
  std::string name;
  std::unique_ptr<Entry> entry;
  std::vector<ClusterEvent> delivered;
  std::map<std::uint64_t, std::string> ticket_of_entry;
  void to_ndb(const std::string& ndb, const Message& m) override { sim->send(name, ndb, m); }
  void to_sync(const std::string& sync, const Message& m) override { sim->send(name, sync, m); }
  void ready() override {}
  void acknowledged(std::uint64_t ticket, Id id) override {
    auto [it, fresh] = sim->acked_.emplace(ticket, id);
    if (!fresh) sim->fail("ticket " + std::to_string(ticket) + " acknowledged twice");
  }
  bool restarted = false;   // a later incarnation: delivers from the sync group's head on
  void deliver(const ClusterEvent& e, bool /*live*/) override {
    if (restarted && delivered.empty()) {
      delivered.push_back(e);
      return;
    }
    const Id expect = delivered.empty() ? 1 : delivered.back().id + 1;
    if (e.id != expect) {
      sim->fail(name + " delivered id " + std::to_string(e.id) + " after " + std::to_string(expect - 1));
    }
    delivered.push_back(e);
  }
};

struct Sim::NdbNode final : NdbOutbox {
  Sim* sim;
  std::string name;
  SimStorage storage;
  std::unique_ptr<Ndb> ndb;
  std::uint64_t incarnation = 0;
  void to_entry(const std::string& entry, const Message& m) override {
    // A TRIM may claim only what is on disk: a crash right now must not take it back.
    if (const auto* t = std::get_if<TrimAdvanceSegment>(&m)) {
      std::uint64_t on_disk = 0;
      auto c = storage.disk.committed.find({t->owner, t->segment});
      if (c != storage.disk.committed.end()) on_disk = c->second.count;
      while (storage.disk.kept.count({t->owner, t->segment, on_disk + 1})) ++on_disk;
      if (t->count > on_disk) {
        sim->fail(name + " TRIMs " + t->owner + "/" + std::to_string(t->segment) + " count " +
                  std::to_string(t->count) + " with " + std::to_string(on_disk) + " on disk");
      }
    }
    sim->send(name, entry, m);
  }
  void to_entries(const Message& m) override {
    for (const std::string& e : sim->entry_names_) sim->send(name, e, m);
  }
  void to_syncs(const Message& m) override {
    for (const std::string& s : sim->sync_names_) sim->send(name, s, m);
  }
  void reply(const std::string& node, const Message& m) override { sim->send(name, node, m); }
};

struct Sim::SyncNode final : SyncOutbox {
  Sim* sim;
  std::string name;
  RaftAgreement agreement;
  std::unique_ptr<Sync> sync;
  void to_ndbs(const Message& m) override {
    for (const std::string& n : sim->ndb_names_) sim->send(name, n, m);
  }
  void reply(const std::string& node, const Message& m) override { sim->send(name, node, m); }
};

void RaftAgreement::propose(const std::string& owner, std::uint64_t segment, std::uint64_t count,
                            std::function<void(const AssignResult&)> done) {
  if (!raft_fixture_alive(&group->f, server)) return;
  if (std::optional<IdRange> r = group->fsms[server].state().range_of(owner, segment)) {
    AssignResult a;
    a.status = r->count == count ? AssignStatus::duplicate : AssignStatus::conflict;
    a.range = *r;
    if (a.status == AssignStatus::conflict) {
      sim->fail("sync: conflicting counts for " + owner + "/" + std::to_string(segment));
    }
    done(a);
    return;
  }
  raft* r = raft_fixture_get(&group->f, server);
  if (raft_state(r) != RAFT_LEADER) return;   // no answer: the entry resends, the ndb drafts again
  // One proposal per segment at a time (as cli/cluster_raft.cpp): the other drafts wait for it.
  auto [it, fresh] = group->proposing.try_emplace(std::make_pair(owner, segment));
  it->second.push_back(std::move(done));
  if (!fresh) return;
  SegmentRequest request{owner, segment, static_cast<std::uint32_t>(count)};
  raft_buffer buf = make_raft_command(std::span<const SegmentRequest>(&request, 1));
  auto* p = new Proposal;
  p->sim = sim;
  p->owner = owner;
  p->segment = segment;
  p->group = group;
  p->req.data = p;
  int rv = raft_apply(r, &p->req, &buf, 1, [](struct raft_apply* req, int status, void* result) {
    auto* p = static_cast<Proposal*>(req->data);
    auto waiting = p->group->proposing.extract(std::make_pair(p->owner, p->segment));
    if (status != 0 || !result) {
      ++p->sim->proposals_failed;   // raft may still commit it: the FSM answers a duplicate
    } else {
      const SyncApplied& applied = RaftSyncFsm::outcome(result);
      if (!applied.malformed && applied.results.size() == 1) {
        if (applied.results[0].status == AssignStatus::conflict) {
          p->sim->fail("sync: conflicting counts for " + p->owner + "/" + std::to_string(p->segment));
        }
        if (!waiting.empty()) {
          for (auto& fn : waiting.mapped()) fn(applied.results[0]);
        }
      }
    }
    delete p;
  });
  if (rv != 0) {
    raft_free(buf.base);
    group->proposing.erase(std::make_pair(owner, segment));
    delete p;
  }
}

void Sim::build() {
  const int n = 3;
  for (int i = 1; i <= n; ++i) {
    entry_names_.push_back("E" + std::to_string(i));
    ndb_names_.push_back("D" + std::to_string(i));
    sync_names_.push_back("S" + std::to_string(i));
  }
  for (const std::string& s : sync_names_) {
    auto node = std::make_unique<SyncNode>();
    node->sim = this;
    node->name = s;
    node->agreement.sim = this;
    node->agreement.group = &group;
    node->agreement.server = server_of(s);
    node->sync = std::make_unique<Sync>(s, node->agreement, *node);
    node->sync->accept_only({entry_names_.begin(), entry_names_.end()}, {ndb_names_.begin(), ndb_names_.end()});
    syncs_[s] = std::move(node);
  }
  for (const std::string& d : ndb_names_) {
    auto node = std::make_unique<NdbNode>();
    node->sim = this;
    node->name = d;
    NdbNode* raw = node.get();
    node->storage.schedule_sync = [this, raw](std::uint64_t upto, std::function<void()> done) {
      const std::uint64_t inc = raw->incarnation;
      at(now_ + 1 + rand(5), [raw, inc, upto, done] {
        if (raw->incarnation != inc || !raw->ndb) return;   // crashed before the write
        raw->storage.make_durable(upto);
        done();
      });
    };
    node->ndb = std::make_unique<Ndb>(d, node->storage, *node);
    node->ndb->accept_only({entry_names_.begin(), entry_names_.end()});
    node->ndb->set_peers(peers_of(d));
    ndbs_[d] = std::move(node);
  }
  for (const std::string& e : entry_names_) {
    auto node = std::make_unique<EntryNode>();
    node->sim = this;
    node->name = e;
    node->entry = std::make_unique<Entry>(entry_config(e), *node, *node);
    entries_[e] = std::move(node);
  }
}

EntryConfig Sim::entry_config(const std::string& name) const {
  EntryConfig c;
  c.name = name;
  c.ndbs = ndb_names_;
  c.syncs = sync_names_;
  c.sync_quorum = 2;
  c.storage_quorum = 2;
  c.retransmit_ms = 100;
  c.max_segment_events = 50;
  return c;
}

void Sim::deliver(const std::string& from, const std::string& to, const Message& m) {
  std::string error;
  bool ok = true;
  if (auto e = entries_.find(to); e != entries_.end()) ok = !e->second->entry || e->second->entry->on_message(from, m, &error);
  else if (auto d = ndbs_.find(to); d != ndbs_.end()) ok = !d->second->ndb || d->second->ndb->on_message(from, m, &error);
  else if (auto s = syncs_.find(to); s != syncs_.end()) ok = !s->second->sync || s->second->sync->on_message(from, m, &error);
  if (!ok && o_.verbose) std::fprintf(stderr, "  %llu %s → %s refused: %s\n", (unsigned long long)now_, from.c_str(), to.c_str(), error.c_str());
}

void Sim::crash(const std::string& node) {
  ++faults_;
  ++crashes_[node];
  down_.insert(node);
  if (auto d = ndbs_.find(node); d != ndbs_.end()) {
    ++d->second->incarnation;
    d->second->storage.crash();
    d->second->ndb.reset();
  }
  if (auto s = syncs_.find(node); s != syncs_.end()) {
    raft_fixture_kill(&group.f, server_of(node));
    s->second->sync.reset();
  }
  if (auto e = entries_.find(node); e != entries_.end()) {
    // Its memory is gone: what it had not acknowledged may be lost (or committed anyway, if
    // it had closed the segment); it is no longer owed.
    for (auto it = published_.begin(); it != published_.end();) {
      if (entry_of_[it->first] == node && !acked_.count(it->first)) {
        lost_.emplace(it->first, it->second);
        it = published_.erase(it);
      } else {
        ++it;
      }
    }
    e->second->entry.reset();
  }
  if (o_.verbose) std::fprintf(stderr, "  %llu crash %s\n", (unsigned long long)now_, node.c_str());
}

void Sim::restart(const std::string& node) {
  down_.erase(node);
  if (auto d = ndbs_.find(node); d != ndbs_.end()) {
    d->second->ndb = std::make_unique<Ndb>(node, d->second->storage, *d->second);
    d->second->ndb->accept_only({entry_names_.begin(), entry_names_.end()});
    d->second->ndb->set_peers(peers_of(node));
  }
  if (auto e = entries_.find(node); e != entries_.end()) {
    EntryNode& n = *e->second;
    n.restarted = true;
    n.delivered.clear();
    // Its clock gives the new life its numbering base, as a node's wall clock does.
    EntryConfig c = entry_config(node);
    c.first_segment = Entry::segment_base(1704067200000 + now_);
    n.entry = std::make_unique<Entry>(c, n, n);
    n.entry->start(now_);
  }
  if (auto s = syncs_.find(node); s != syncs_.end()) {
    raft_fixture_revive(&group.f, server_of(node));
    s->second->sync = std::make_unique<Sync>(node, s->second->agreement, *s->second);
    s->second->sync->accept_only({entry_names_.begin(), entry_names_.end()}, {ndb_names_.begin(), ndb_names_.end()});
  }
  if (o_.verbose) std::fprintf(stderr, "  %llu restart %s\n", (unsigned long long)now_, node.c_str());
}

void Sim::schedule_faults() {
  // Every fifth seed one ndb is dead for the whole run: the other two must both do their part
  // (a third ndb can no longer hide a bug of one of them).
  std::vector<std::string> ndbs = ndb_names_;
  if (seed_ % 5 == 0) {
    const std::string dead = ndbs.back();
    ndbs.pop_back();
    at(0, [this, dead] { crash(dead); });
  }
  // Otherwise at most one node of a role down or cut off at a time: a minority, so progress is
  // owed once it is healed.
  std::uint64_t t = 50 + rand(200);
  while (t < o_.heal_ms) {
    const int kind = static_cast<int>(rand(4));
    const std::uint64_t length = 50 + rand(400);
    const std::uint64_t end = std::min(t + length, o_.heal_ms);
    if (kind == 0) {
      const std::string n = ndbs[rand(ndbs.size())];
      at(t, [this, n] { crash(n); });
      at(end, [this, n] { restart(n); });
    } else if (kind == 1) {
      const std::string s = sync_names_[rand(sync_names_.size())];
      at(t, [this, s] { crash(s); });
      at(end, [this, s] { restart(s); });
    } else if (kind == 3) {
      // An entry dies (its unacknowledged publications with it) and comes back: it must number
      // its segments above anything its previous life began, and deliver from the head on.
      const std::string e = entry_names_[rand(entry_names_.size())];
      at(t, [this, e] { crash(e); });
      at(end, [this, e] { restart(e); });
    } else {
      const std::vector<std::string>* pool[] = {&entry_names_, &ndbs, &sync_names_};
      const auto& names = *pool[rand(3)];
      const std::string n = names[rand(names.size())];
      at(t, [this, n] {
        ++faults_;
        isolated_.insert(n);
        if (syncs_.count(n)) group.connect(server_of(n), false);   // its raft traffic too
      });
      at(end, [this, n] {
        isolated_.erase(n);
        if (syncs_.count(n)) group.connect(server_of(n), true);
      });
    }
    t = end + 10 + rand(300);
  }
}

void Sim::schedule_load() {
  for (const std::string& e : entry_names_) {
    for (std::uint64_t t = 20 + rand(30); t < o_.end_of_load_ms; t += 5 + rand(30)) {
      at(t, [this, e] {
        EntryNode& node = *entries_[e];
        if (!node.entry) return;
        ClusterEvent ev;
        ev.realm = "realm1";
        ev.uri = {"sim", e};
        ev.data = Json{{"kv", {{"from", e}, {"n", next_ticket_ + 1}}}};
        const std::uint64_t ticket = ++next_ticket_;
        if (node.entry->publish(ev, ticket)) {
          published_[ticket] = ev;
          entry_of_[ticket] = e;
        }
      });
    }
  }
}

std::vector<std::string> Sim::peers_of(const std::string& ndb) const {
  std::vector<std::string> out;
  for (const std::string& n : ndb_names_) {
    if (n != ndb) out.push_back(n);
  }
  return out;
}

void Sim::tick() {
  for (auto& [name, node] : entries_) {
    if (up(name) && node->entry) node->entry->on_tick(now_);
  }
  for (auto& [name, node] : ndbs_) {
    if (up(name) && node->ndb) node->ndb->on_tick(now_);
  }
  if (now_ + 10 <= o_.end_ms) at(now_ + 10, [this] { tick(); });
}

bool Sim::run(std::string* why) {
  build();
  for (auto& [name, node] : entries_) node->entry->start(0);
  schedule_faults();
  schedule_load();
  at(10, [this] { tick(); });
  while (!queue_.empty() && failure_.empty()) {
    Item item = queue_.top();
    queue_.pop();
    if (item.t > o_.end_ms) break;
    now_ = item.t;
    group.advance(now_);
    if (group.shut_down()) fail("a raft server stopped itself (its log broke)");
    item.fn();
  }
  if (o_.verbose) {
    std::fprintf(stderr, "  raft: time %llu, leader %u, proposals failed %zu, applied",
                 (unsigned long long)group.f.time, raft_fixture_leader_index(&group.f), proposals_failed);
    for (unsigned i = 0; i < RaftGroup::kServers; ++i) {
      std::fprintf(stderr, " %llu/%llu", (unsigned long long)raft_last_applied(raft_fixture_get(&group.f, i)),
                   (unsigned long long)raft_last_index(raft_fixture_get(&group.f, i)));
    }
    std::fprintf(stderr, "\n");
  }
  if (failure_.empty()) check(why);
  else *why = failure_;
  return why->empty();
}

void Sim::check(std::string* why) {
  auto fail_with = [&](const std::string& what) {
    if (why->empty()) *why = what;
  };
  // Every ndb that holds an id holds the same event under it.
  std::map<Id, const ClusterEvent*> by_id;
  for (auto& [name, node] : ndbs_) {
    for (const auto& [id, e] : node->storage.disk.history) {
      auto [it, fresh] = by_id.emplace(id, &e);
      if (!fresh && !(*it->second == e)) fail_with("ndbs disagree on id " + std::to_string(id));
    }
  }
  // No acknowledged publication lost: its id, its content, on a storage quorum.
  std::set<Id> acked_ids;
  for (const auto& [ticket, id] : acked_) {
    if (!acked_ids.insert(id).second) fail_with("id " + std::to_string(id) + " acknowledged twice");
    const ClusterEvent& sent = published_[ticket];
    int holders = 0;
    for (auto& [name, node] : ndbs_) {
      auto it = node->storage.disk.history.find(id);
      if (it == node->storage.disk.history.end()) continue;
      ClusterEvent stored = it->second;
      stored.id = 0;
      if (!(stored == sent)) fail_with("id " + std::to_string(id) + " holds another event");
      ++holders;
    }
    if (holders < 2) {
      std::string where;
      for (auto& [name, node] : ndbs_) {
        where += " " + name + (node->storage.disk.history.count(id) ? ":has" : ":lacks");
      }
      for (auto& [name, node] : entries_) {
        if (node->entry) where += " " + name + ":" + std::to_string(node->entry->unresolved()) + " unresolved";
      }
      fail_with("acknowledged id " + std::to_string(id) + " on " + std::to_string(holders) +
                " ndbs (" + where + " )");
    }
  }
  // Progress: with every fault healed long ago, every segment is committed on a storage quorum
  // and everything published is acknowledged.
  for (auto& [name, node] : entries_) {
    if (!node->entry) {
      fail_with(name + " is down at the end");
      continue;
    }
    if (node->entry->unresolved() != 0) {
      std::string ndbs;
      for (auto& [dn, d] : ndbs_) {
        if (!d->ndb) continue;
        for (std::uint64_t seg = 1; seg < 1u << 20; ++seg) {
          const Ndb::SegmentState* st = d->ndb->segment(name, seg);
          if (!st || st->committed) continue;
          ndbs += "  " + dn + " " + std::to_string(seg) + ": kept " + std::to_string(st->kept) +
                  " durable " + std::to_string(st->durable) + " count " +
                  (st->count ? std::to_string(*st->count) : std::string("?")) +
                  (st->drafted ? " drafted" : "") + " first " + std::to_string(st->first) + "\n";
        }
      }
      fail_with(name + " still has " + std::to_string(node->entry->unresolved()) +
                " unresolved segments:\n" + node->entry->describe() + ndbs);
    }
  }
  if (acked_.size() != published_.size()) {
    fail_with(std::to_string(published_.size() - acked_.size()) + " of " +
              std::to_string(published_.size()) + " publications never acknowledged");
  }
  // Every entry delivered the same sequence, 1..max without gaps, all of it by now.
  const Id max_id = by_id.empty() ? 0 : by_id.rbegin()->first;
  for (auto& [name, node] : entries_) {
    const auto& d = node->delivered;
    // A restarted entry delivers from where its new life began (the head, less its backfill).
    const Id start = d.empty() ? 1 : node->restarted ? d.front().id : 1;
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (d[i].id != start + i) fail_with(name + " delivered out of order");
      auto it = by_id.find(d[i].id);
      if (it == by_id.end() || !(*it->second == d[i])) {
        fail_with(name + " delivered id " + std::to_string(d[i].id) + " unlike the ndbs");
      }
    }
    if (d.size() != max_id - start + 1) {
      fail_with(name + " delivered " + std::to_string(d.size()) + " of " + std::to_string(max_id) +
                (d.empty() ? std::string() : " (ids " + std::to_string(d.front().id) + ".." +
                                                 std::to_string(d.back().id) + ")") +
                ", entry at " + std::to_string(node->entry ? node->entry->delivered() : 0) +
                [&] {
                  std::string o;
                  for (auto& [dn, dd] : ndbs_) {
                    o += " " + dn + ":" + (dd->ndb ? std::to_string(dd->ndb->contiguous()) : "down") +
                         "/" + std::to_string(dd->storage.mem.history.size());
                  }
                  return o;
                }());
    }
  }
  // Every ndb that is up caught up: it holds every id (those it missed came from its peers).
  for (auto& [name, node] : ndbs_) {
    if (!up(name) || !node->ndb) continue;
    if (node->ndb->contiguous() != max_id) {
      fail_with(name + " holds ids 1.." + std::to_string(node->ndb->contiguous()) + " of " +
                std::to_string(max_id));
    }
  }
  // Ids are the acknowledged publications and, at most, the unacknowledged ones of crashed
  // entries whose segments were closed before the crash — nothing else.
  std::set<std::string> lost_bodies;
  for (const auto& [ticket, e] : lost_) lost_bodies.insert(e.data.dump());
  std::size_t others = 0;
  for (const auto& [id, e] : by_id) {
    if (acked_ids.count(id)) continue;
    ++others;
    if (!lost_bodies.count(e->data.dump())) {
      fail_with("id " + std::to_string(id) + " holds an event nobody published or lost");
    }
  }
  if (max_id != published_.size() + others || others > lost_.size()) {
    fail_with("ids 1.." + std::to_string(max_id) + " for " + std::to_string(published_.size()) +
              " publications and " + std::to_string(others) + " of " +
              std::to_string(lost_.size()) + " lost");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t first = 1, seeds = 50;
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seeds" && i + 1 < argc) seeds = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--first" && i + 1 < argc) first = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--seed" && i + 1 < argc) {
      first = std::strtoull(argv[++i], nullptr, 10);
      seeds = 1;
    } else if (a == "--verbose") o.verbose = true;
    else {
      std::fprintf(stderr, "usage: fox_sim [--seeds N] [--first F] [--seed S] [--verbose]\n");
      return 2;
    }
  }
  std::uint64_t total_acked = 0, total_faults = 0;
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    Sim sim(seed, o);
    std::string why;
    if (!sim.run(&why)) {
      std::fprintf(stderr, "fox_sim: seed %llu FAILED: %s\n  reproduce: fox_sim --seed %llu --verbose\n",
                   (unsigned long long)seed, why.c_str(), (unsigned long long)seed);
      return 1;
    }
    total_acked += sim.acked();
    total_faults += static_cast<std::uint64_t>(sim.faults());
  }
  std::printf("fox_sim: %llu seeds from %llu passed (%llu acknowledged publications, %llu faults)\n",
              (unsigned long long)seeds, (unsigned long long)first, (unsigned long long)total_acked,
              (unsigned long long)total_faults);
  return 0;
}
