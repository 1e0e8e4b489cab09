// The cluster simulation (tests/sim/README.md): whole clusters in one process, the real entry,
// ndb and sync role code, virtual time, a seeded network that delays, drops, duplicates,
// reorders and partitions, ndb and sync crashes and restarts (memory lost, durable storage kept).
// Each entry runs the real router on the real store::ClusterEngine (retained state as a projection
// of the committed history, `when`/`watch` decided at commit, wills across nodes), driven by
// sessions: plain publishers, retained writers, lock workers. Invariants are checked after every
// run (and the delivery order and "one lock holder at a time" live); a failing seed prints itself
// and reproduces from its number.
//
//   fox_sim [--seeds N | --seed S] [--first F] [--verbose] [--keep-going]
//
// The sync group's agreement is Canonical raft itself (Debian's libraft 0.15): its in-memory
// fixture (raft_fixture: the real raft core over an in-memory raft_io, its own virtual clock,
// stepped here to the simulation's) with one RaftSyncFsm per sync node, as a node runs it.
#include <algorithm>
#include <cstdint>
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
#include "core/log.hpp"
#include "core/topic.hpp"
#include "router/router.hpp"
#include "store/cluster_engine.hpp"

using namespace fox;
using namespace fox::cluster;

namespace {

struct Options {
  std::uint64_t end_of_load_ms = 2000;   // publications and retained writes stop
  std::uint64_t end_of_locks_ms = 2500;  // lock workers take no lock any more
  std::uint64_t heal_ms = 2500;          // every fault healed
  std::uint64_t end_ms = 8000;           // quiet until then, then the invariants
  double drop = 0.05, duplicate = 0.03;
  // The cluster's entryTimeoutMs (a node's default: 5000): an entry with no link up to another
  // for so long judges it lost and fires its wills. Shorter than most cuts and crashes here, so
  // both a lost node's wills fired by the others and a restarted entry's own are exercised.
  std::uint64_t entry_timeout_ms = 200;
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

// The entries' wall clock at virtual time 0 (2024-01-01: Entry::segment_base is 0 there).
constexpr std::uint64_t kEpochMs = 1704067200000;

// The keys the sessions write: retained values (kv.k0 .. kv.k4) and locks (lock.a, lock.b).
const char* const kKvKeys[] = {"k0", "k1", "k2", "k3", "k4"};
const char* const kLockKeys[] = {"a", "b"};

std::uint64_t number(const Json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

std::string text(const Json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The KV tag of a committed event (store/cluster_engine.cpp: opt.kv = {i, rq, ak, wf, o}), or
// an empty object for a plain publication.
const Json& kv_tag(const ClusterEvent& e) {
  static const Json kNone = Json::object();
  if (!e.opt.is_object()) return kNone;
  auto it = e.opt.find("kv");
  return it != e.opt.end() && it->is_object() ? *it : kNone;
}

bool has_kv_tag(const ClusterEvent& e) { return e.opt.is_object() && e.opt.contains("kv"); }

std::string ms(std::uint64_t t) { return std::to_string(t) + " ms"; }

class Sim {
public:
  Sim(std::uint64_t seed, Options o)
      : rng_(seed), srng_(seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL), seed_(seed), o_(o) {}

  void at(std::uint64_t t, std::function<void()> fn) { queue_.push(Item{t, ++seq_, std::move(fn)}); }
  std::uint64_t now() const { return now_; }
  std::uint64_t rand(std::uint64_t n) { return n ? rng_() % n : 0; }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  // The sessions' own randomness (what they do and when): apart from rng_, so the faults and the
  // plain publications of a seed are drawn as before the sessions existed.
  std::uint64_t srand(std::uint64_t n) { return n ? srng_() % n : 0; }
  bool schance(double p) { return std::uniform_real_distribution<double>(0, 1)(srng_) < p; }
  bool up(const std::string& node) const { return !down_.count(node); }
  // As cli/cluster_node.cpp: a node judges others lost only while it reaches a sync quorum.
  bool reaches_sync_quorum(const std::string& node) const {
    int n = 0;
    for (const auto& [s, sync] : syncs_) n += up(s) && !cut(node, s) ? 1 : 0;
    return n >= 2;
  }
  std::vector<std::string> peers_of(const std::string& ndb) const;
  EntryConfig entry_config(const std::string& name) const;
  std::uint64_t entry_timeout() const { return o_.entry_timeout_ms; }
  std::uint64_t seed() const { return seed_; }

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

  // A session's answer (its Peer): PUBLISHED (error == nullptr) or ERROR of request `request`.
  void kicked(const std::string& entry, Id sid, const std::string& reason);
  void answered(Id request, Id publication, const Error* error);
  // An entry delivered a committed event (to its engine, after the sink's own checks).
  void committed(const std::string& entry, const ClusterEvent& e);

private:
  struct Item {
    std::uint64_t t, seq;
    std::function<void()> fn;
    bool operator>(const Item& o) const { return std::tie(t, seq) > std::tie(o.t, o.seq); }
  };
  struct EntryNode;
  struct NdbNode;
  struct SyncNode;

  // One retained-state publication of a session (a write, a lock acquisition or release): the
  // request id is unique in the run (the KV tag carries it, so a committed event names it).
  struct KvRequest {
    enum Kind { kWrite, kAcquire, kRelease } kind = kWrite;
    std::string entry, worker;
    std::uint64_t life = 0, instance = 0, at = 0;
    Id sid = 0;
    TopicParts topic;
    Json args;                 // null: a delete
    Id acquisition = 0;        // a release: the acquisition (event id) it ends
    bool answered = false, ok = false;
    bool owed = true;          // false once its session left or its entry crashed
    Id id = 0;                 // PUBLISHED's id
  };
  // A lock acquisition, by the id of the committed event that took the lock: who believed it
  // held the lock, from when (its PUBLISHED) to when (release sent, session left, entry crashed).
  struct Acquisition {
    std::string worker, entry, key;
    std::uint64_t life = 0, asked = 0, from = 0, to = 0;   // to = 0: still held
    Id request = 0;
  };

  bool cut(const std::string& a, const std::string& b) const {
    return isolated_.count(a) || isolated_.count(b);
  }
  bool was_cut(const std::string& node, std::uint64_t from, std::uint64_t upto,
               std::uint64_t* start = nullptr, std::uint64_t* end = nullptr) const;
  void deliver(const std::string& from, const std::string& to, const Message& m);
  void build();
  void crash(const std::string& node);
  void restart(const std::string& node);
  void schedule_faults();
  void schedule_load();
  void tick();
  void check(std::string* why);

  // An entry's life: real engine, router and entry role; sessions once it is ready.
  void start_entry(EntryNode& n);
  void stop_entry(EntryNode& n);
  void serve(EntryNode& n);
  Id join(EntryNode& n);
  void leave(EntryNode& n, Id sid);
  void publish_kv(EntryNode& n, Id sid, KvRequest r, Json raw, Id* request = nullptr);
  void writer_step();
  // Lock workers: each step is scheduled with the worker's entry life and checks its state.
  void worker_later(EntryNode& n, std::size_t i, std::uint64_t delay, std::function<void(EntryNode&, std::size_t)> fn);
  void worker_try(EntryNode& n, std::size_t i);
  void worker_acquired(EntryNode& n, std::size_t i, Id request, Id id);
  void worker_release(EntryNode& n, std::size_t i);
  void worker_send_release(EntryNode& n, std::size_t i);
  void worker_leave(EntryNode& n, std::size_t i);
  std::string key_history(Id acquisition, Id upto);
  void overlap(const Acquisition& held, Id held_id, const Acquisition& taken, Id taken_id);
  std::map<std::string, std::string> retained_dump(Realm& realm);

  std::mt19937_64 rng_, srng_;
  std::uint64_t seed_;
  Options o_;
  std::uint64_t now_ = 0, seq_ = 0;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue_;
  std::set<std::string> down_, isolated_;
  std::map<std::string, std::vector<std::pair<std::uint64_t, std::uint64_t>>> cuts_;   // [from, to]
  std::map<std::string, std::uint64_t> crashes_;
  std::map<std::string, std::unique_ptr<EntryNode>> entries_;
  std::map<std::string, std::unique_ptr<NdbNode>> ndbs_;
  std::map<std::string, std::unique_ptr<SyncNode>> syncs_;
  std::vector<std::string> entry_names_, ndb_names_, sync_names_;
  std::string failure_;
  std::uint64_t next_ticket_ = 0;                     // request ids of every session
  std::map<std::uint64_t, ClusterEvent> published_;   // plain: ticket → event
  std::map<std::uint64_t, Id> acked_;                 // plain: ticket → id
  std::map<std::uint64_t, std::string> entry_of_;     // plain: ticket → the entry it was published to
  std::map<std::uint64_t, ClusterEvent> lost_;        // plain: unacknowledged when its entry crashed
  std::map<Id, KvRequest> kv_requests_;               // request → what it was
  std::map<Id, Acquisition> acquisitions_;
  std::map<Id, ClusterEvent> committed_;              // as the entries delivered them
  std::map<Id, std::uint64_t> committed_at_;          // when the first entry delivered it
  std::uint64_t kv_counter_ = 0;
  int faults_ = 0;

public:
  int faults() const { return faults_; }
  std::size_t acked() const { return acked_.size(); }
  // releases_lost: conditional releases refused because the key no longer held the worker's
  // value (its lock had been taken from it: its will fired, then it was ended).
  std::uint64_t kv_acked = 0, locks_taken = 0, releases_lost = 0;

  friend struct RaftAgreement;
  unsigned server_of(const std::string& sync) const {
    for (unsigned i = 0; i < sync_names_.size(); ++i) {
      if (sync_names_[i] == sync) return i;
    }
    return 0;
  }
};

// An entry's Env on the simulation's clock: timers are events of the simulation (those of a
// crashed life never fire), randomness from the seed.
class SimEnv final : public Env {
public:
  SimEnv(Sim* sim, std::uint64_t seed) : sim_(sim), rng_(seed) {}
  ~SimEnv() override { live_->clear(); }
  std::uint64_t now_ms() override { return kEpochMs + sim_->now(); }
  std::uint64_t random64() override { return rng_(); }
  TimerId start_timer(std::uint64_t delay_ms, std::function<void()> fn) override {
    const TimerId id = ++last_;
    live_->insert(id);
    sim_->at(sim_->now() + delay_ms, [live = live_, id, fn = std::move(fn)] {
      if (live->erase(id)) fn();
    });
    return id;
  }
  void cancel_timer(TimerId id) override { live_->erase(id); }

private:
  Sim* sim_;
  std::mt19937_64 rng_;
  std::shared_ptr<std::set<TimerId>> live_ = std::make_shared<std::set<TimerId>>();
  TimerId last_ = 0;
};

// A session's client: its answers go to the simulation; a reader keeps its retained replay.
struct SimPeer final : Peer {
  Sim* sim = nullptr;
  std::string entry;   // its entry and session: a kick ends the worker it is (Sim::kicked)
  Id sid = 0;
  void kick(const std::string& reason) override;
  std::vector<Delivery> retained;
  void send_published(Id request, Id publication) override {
    if (sim) sim->answered(request, publication, nullptr);
  }
  void send_event(const Delivery& d) override {
    if (d.retained_replay) retained.push_back(d);
  }
  void send_subscription_revoked(Id, const std::string&) override {}
  void send_registration_revoked(Id, const std::string&) override {}
  void send_invocation(const Invocation&) override {}
  void send_interrupt(Id, const std::string&) override {}
  void send_result(Id, const Result&) override {}
  void send_error(RequestType, Id request, const Error& error) override {
    if (sim) sim->answered(request, 0, &error);
  }
};

// A lock worker: a session that takes a lock key, holds it, releases it, again and again.
struct Worker {
  enum State { kIdle, kWaiting, kHolding, kReleasing, kOut } state = kIdle;   // kOut: left, not back
  std::string tag, key;
  Id sid = 0;
  Id acquire_req = 0, release_req = 0;
  Id acquired = 0;             // the acquisition held (or last held)
  std::uint64_t n = 0;
};

// An entry node: the real entry role, the real ClusterEngine as its sink (observed on the way:
// the delivery order is checked live, what it delivers is recorded) and the real router on it,
// as cli/serve.cpp and cli/cluster_node.cpp wire them. A crash destroys all of it (its sessions
// vanish without leaving); a restart is a new life, a new instance, history from id 1.
struct Sim::EntryNode final : EntryOutbox, EntrySink {
  Sim* sim;
  std::string name;
  std::uint64_t life = 0;       // one more at every start
  std::uint64_t instance = 0;   // this life's first segment (ClusterEngine::set_instance)
  std::unique_ptr<SimEnv> env;
  std::map<Id, std::unique_ptr<SimPeer>> sessions;   // outlive the router
  std::unique_ptr<store::ClusterEngine> engine;
  std::unique_ptr<Router> router;
  std::unique_ptr<Entry> entry;
  Realm* realm = nullptr;
  bool serving = false;         // the engine said ready: its sessions joined
  Id publisher = 0;             // the plain publications' session
  std::vector<Id> writers;      // retained writers
  std::vector<Worker> workers;  // lock workers
  // As cli/cluster_node.cpp's lost(): the last time the link to each entry was up.
  std::map<std::string, std::uint64_t> last_contact;
  std::uint64_t wills_checked = 0;
  std::uint64_t no_quorum_since = 0;
  bool fenced = false;
  std::set<std::uint64_t> acked_tickets;
  std::vector<ClusterEvent> delivered;
  bool restarted = false;

  ~EntryNode() { sim->stop_entry(*this); }
  bool lost(const std::string& peer) const {
    auto it = last_contact.find(peer);
    return it != last_contact.end() && sim->now() >= it->second + sim->entry_timeout() &&
           sim->reaches_sync_quorum(name);
  }
  void to_ndb(const std::string& ndb, const Message& m) override { sim->send(name, ndb, m); }
  void to_sync(const std::string& sync, const Message& m) override { sim->send(name, sync, m); }
  void ready() override { engine->ready(); }
  void acknowledged(std::uint64_t ticket, Id id) override {
    if (!acked_tickets.insert(ticket).second) {
      sim->fail(name + ": ticket " + std::to_string(ticket) + " acknowledged twice");
    }
    engine->acknowledged(ticket, id);
  }
  void deliver(const ClusterEvent& e, bool live) override {
    // Every life delivers from id 1 (backfill = everything: the retained state is a projection
    // of the whole history).
    const Id expect = delivered.empty() ? 1 : delivered.back().id + 1;
    if (e.id != expect) {
      sim->fail(name + " delivered id " + std::to_string(e.id) + " after " + std::to_string(expect - 1));
    }
    delivered.push_back(e);
    sim->committed(name, e);
    engine->deliver(e, live);
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

// A life of an entry, wired as cli/serve.cpp and cli/cluster_node.cpp do: ClusterEngine(node,
// history), Router(env, engine), the entry with the engine behind its sink, attach, the instance
// (its first segment, from its clock), who is lost, history from id 1.
void Sim::start_entry(EntryNode& n) {
  ++n.life;
  n.instance = Entry::segment_base(kEpochMs + now_);
  n.env = std::make_unique<SimEnv>(this, seed_ * 0x2545F4914F6CDD1DULL + n.life * 1009 + n.name.back());
  n.engine = std::make_unique<store::ClusterEngine>(n.name, 10000);
  n.router = std::make_unique<Router>(*n.env, *n.engine);
  EntryConfig c = entry_config(n.name);
  c.first_segment = n.instance;
  c.backfill = kMaxEventId;
  n.engine->set_instance(c.first_segment);
  EntryNode* raw = &n;
  n.engine->on_node_lost([raw](const std::string& peer) { return raw->lost(peer); });
  const std::uint64_t life = n.life;
  n.engine->on_ready([this, raw, life] {
    at(now_, [this, raw, life] {
      if (raw->life == life && raw->realm) serve(*raw);
    });
  });
  n.entry = std::make_unique<Entry>(c, n, n);
  n.engine->attach(n.entry.get(), n.router.get());
  n.realm = n.router->realm("realm1", nullptr);
  n.last_contact.clear();
  for (const std::string& peer : entry_names_) {
    if (peer != n.name) n.last_contact[peer] = now_;
  }
  n.wills_checked = now_;
  n.acked_tickets.clear();
  n.entry->start(now_);
}

// Everything of the life goes (a crash: nobody leaves, nothing is answered any more).
void Sim::stop_entry(EntryNode& n) {
  n.realm = nullptr;
  n.serving = false;
  n.router.reset();   // before the engine (forget_durable_callbacks) and the env (timers)
  n.engine.reset();
  n.entry.reset();
  n.sessions.clear();
  n.writers.clear();
  n.workers.clear();
  n.publisher = 0;
  n.env.reset();
}

// The entry may serve (a sync quorum accepted it): its sessions join, as clients would once
// its listeners open.
void Sim::serve(EntryNode& n) {
  n.serving = true;
  n.publisher = join(n);
  for (int i = 0; i < 2; ++i) n.writers.push_back(join(n));
  const std::size_t workers = 1 + srand(2);
  for (std::size_t i = 0; i < workers; ++i) {
    Worker w;
    w.tag = n.name + "/" + std::to_string(n.life) + ".w" + std::to_string(i);
    w.key = kLockKeys[srand(4) < 3 ? 0 : 1];
    w.sid = join(n);
    n.workers.push_back(w);
    worker_later(n, i, srand(30), [this](EntryNode& node, std::size_t k) { worker_try(node, k); });
  }
  if (o_.verbose) {
    std::fprintf(stderr, "  %llu %s serves (life %llu, instance %llu, %zu workers)\n",
                 (unsigned long long)now_, n.name.c_str(), (unsigned long long)n.life,
                 (unsigned long long)n.instance, workers);
  }
}

Id Sim::join(EntryNode& n) {
  auto peer = std::make_unique<SimPeer>();
  peer->sim = this;
  SessionInfo info;
  info.transport = "fox";
  info.serializer = "msgpack";
  peer->entry = n.name;
  const Id sid = n.realm->join(*peer, info);
  peer->sid = sid;
  n.sessions[sid] = std::move(peer);
  return sid;
}

void Sim::leave(EntryNode& n, Id sid) {
  for (auto& [req, r] : kv_requests_) {
    if (r.entry == n.name && r.life == n.life && r.sid == sid) r.owed = false;
  }
  n.realm->leave(sid);
  n.sessions.erase(sid);
}

void Sim::publish_kv(EntryNode& n, Id sid, KvRequest r, Json raw, Id* request) {
  const Id req = ++next_ticket_;
  r.entry = n.name;
  r.life = n.life;
  r.instance = n.instance;
  r.sid = sid;
  r.at = now_;
  Publication pub;
  pub.topic = r.topic;
  if (!r.args.is_null()) pub.args = r.args;
  PublishOptions o;
  o.acknowledge = true;
  o.raw = std::move(raw);
  if (request) *request = req;   // before: a refusal is answered at once
  kv_requests_[req] = std::move(r);
  n.realm->publish(sid, req, std::move(pub), std::move(o));   // may answer at once (a refusal)
}

// Retained writers: every 5-30 ms one of them, on a random serving entry, writes a kv key:
// replace, merge, delete, a write with a will (null or a value), a create-if-absent (`when: null`,
// decided at commit, refused there if the key exists).
void Sim::writer_step() {
  if (now_ >= o_.end_of_load_ms) return;
  at(now_ + 5 + srand(25), [this] { writer_step(); });
  std::vector<EntryNode*> serving;
  for (auto& [name, n] : entries_) {
    if (n->serving && n->realm && !n->writers.empty()) serving.push_back(n.get());
  }
  if (serving.empty()) return;
  EntryNode& n = *serving[srand(serving.size())];
  const std::size_t i = srand(n.writers.size());
  if (schance(0.04)) {
    // The writer goes (its wills fire) and another session takes its place.
    leave(n, n.writers[i]);
    n.writers[i] = join(n);
    return;
  }
  const std::string tag = n.name + "/" + std::to_string(n.life) + ".v" + std::to_string(i);
  KvRequest r;
  r.kind = KvRequest::kWrite;
  r.worker = tag;
  r.topic = {"kv", kKvKeys[srand(5)]};
  Json raw = {{"retain", true}};
  const std::uint64_t k = ++kv_counter_, op = srand(100);
  if (op < 40) {
    r.args = Json::array({Json{{"by", tag}, {"n", k}}});
  } else if (op < 65) {
    r.args = Json::array({Json{{"m" + std::to_string(srand(4)), k}}});
    raw["merge"] = true;
  } else if (op < 78) {
    // a delete: no value
  } else if (op < 90) {
    r.args = Json::array({Json{{"by", tag}, {"n", k}}});
    raw["will"] = schance(0.5) ? Json(nullptr) : Json{{"gone", tag}};
  } else {
    r.args = Json::array({Json{{"by", tag}, {"n", k}, {"created", true}}});
    raw["when"] = nullptr;
  }
  publish_kv(n, n.writers[i], std::move(r), std::move(raw));
}

void Sim::worker_later(EntryNode& n, std::size_t i, std::uint64_t delay,
                       std::function<void(EntryNode&, std::size_t)> fn) {
  EntryNode* node = &n;
  const std::uint64_t life = n.life;
  at(now_ + delay, [node, life, i, fn] {
    if (node->life != life || !node->realm || i >= node->workers.size()) return;
    fn(*node, i);
  });
}

// The resource-lock protocol (cli/cmd_lock.cpp): write my value if the key is empty, else wait
// until it changes; delete it if I vanish.
void Sim::worker_try(EntryNode& n, std::size_t i) {
  Worker& w = n.workers[i];
  if (w.state != Worker::kIdle || w.sid == 0 || now_ >= o_.end_of_locks_ms) return;
  KvRequest r;
  r.kind = KvRequest::kAcquire;
  r.worker = w.tag;
  r.topic = {"lock", w.key};
  r.args = Json::array({Json{{"holder", w.tag}, {"n", ++w.n}}});
  w.state = Worker::kWaiting;
  publish_kv(n, w.sid, std::move(r),
             Json{{"retain", true}, {"when", nullptr}, {"watch", true}, {"will", nullptr}}, &w.acquire_req);
  if (w.state == Worker::kWaiting && schance(0.05)) {
    // Gives up waiting: its session leaves (its waiter is dropped).
    const Id req = w.acquire_req;
    worker_later(n, i, 20 + srand(300), [this, req](EntryNode& node, std::size_t k) {
      Worker& x = node.workers[k];
      if (x.state == Worker::kWaiting && x.acquire_req == req) worker_leave(node, k);
    });
  }
}

void Sim::worker_acquired(EntryNode& n, std::size_t i, Id request, Id id) {
  Worker& w = n.workers[i];
  ++locks_taken;
  Acquisition a;
  a.worker = w.tag;
  a.entry = n.name;
  a.key = w.key;
  a.life = n.life;
  a.asked = kv_requests_[request].at;
  a.from = now_;
  a.request = request;
  if (acquisitions_.count(id)) fail("lock acquisition id " + std::to_string(id) + " answered twice");
  acquisitions_[id] = a;
  // At most one holder of a lock at every instant: nobody else believes it holds this key now.
  for (auto& [name, m] : entries_) {
    for (const Worker& h : m->workers) {
      if (&h == &w || h.state != Worker::kHolding || h.key != w.key) continue;
      overlap(acquisitions_[h.acquired], h.acquired, a, id);
    }
  }
  w.state = Worker::kHolding;
  w.acquired = id;
  if (o_.verbose) {
    std::fprintf(stderr, "  %llu lock.%s taken by %s (id %llu, asked at %llu)\n", (unsigned long long)now_,
                 w.key.c_str(), w.tag.c_str(), (unsigned long long)id, (unsigned long long)a.asked);
  }
  const std::uint64_t kind = srand(100);
  const std::uint64_t hold = kind < 50 ? 5 + srand(60) : kind < 85 ? 100 + srand(300) : 400 + srand(800);
  if (schance(0.08)) {
    // Leaves while it holds (a client that goes away): its will releases the lock.
    worker_later(n, i, hold, [this, id](EntryNode& node, std::size_t k) {
      Worker& x = node.workers[k];
      if (x.state == Worker::kHolding && x.acquired == id) worker_leave(node, k);
    });
  } else {
    worker_later(n, i, hold, [this, id](EntryNode& node, std::size_t k) {
      Worker& x = node.workers[k];
      if (x.state == Worker::kHolding && x.acquired == id) worker_release(node, k);
    });
  }
}

// As cmd_lock: the release is a retained publication with no value (deletes the key), on the
// condition that the key still holds this acquisition's value. The worker stops believing it
// holds the lock when it sends it.
void Sim::worker_release(EntryNode& n, std::size_t i) {
  Worker& w = n.workers[i];
  acquisitions_[w.acquired].to = now_;
  w.state = Worker::kReleasing;
  if (o_.verbose) {
    std::fprintf(stderr, "  %llu lock.%s released by %s (id %llu)\n", (unsigned long long)now_,
                 w.key.c_str(), w.tag.c_str(), (unsigned long long)w.acquired);
  }
  worker_send_release(n, i);
}

void Sim::worker_send_release(EntryNode& n, std::size_t i) {
  Worker& w = n.workers[i];
  KvRequest r;
  r.kind = KvRequest::kRelease;
  r.worker = w.tag;
  r.topic = {"lock", w.key};
  r.acquisition = w.acquired;
  // Conditional on the value its acquisition wrote: a worker whose lock was taken meanwhile
  // cannot delete its successor's.
  publish_kv(n, w.sid, std::move(r),
             Json{{"retain", true}, {"when", Json{{"holder", w.tag}, {"n", w.n}}}}, &w.release_req);
}

// The product ended a session (its will was fired, or its entry fenced itself off): a worker
// that was that session has lost what it held; it leaves (on the next event: the peer is the
// session's, destroyed by the leave).
void SimPeer::kick(const std::string& reason) { if (sim) sim->kicked(entry, sid, reason); }

void Sim::kicked(const std::string& entry, Id sid, const std::string& reason) {
  auto it = entries_.find(entry);
  if (it == entries_.end()) return;
  EntryNode& n = *it->second;
  for (std::size_t i = 0; i < n.workers.size(); ++i) {
    if (n.workers[i].sid != sid || n.workers[i].state == Worker::kOut) continue;
    if (o_.verbose) {
      std::fprintf(stderr, "  %llu %s ended by the product (%s)\n", (unsigned long long)now_,
                   n.workers[i].tag.c_str(), reason.c_str());
    }
    worker_later(n, i, 0, [this, sid](EntryNode& node, std::size_t k) {
      if (node.workers[k].sid == sid && node.workers[k].state != Worker::kOut) worker_leave(node, k);
    });
    // Its belief ends now (the session is closed on this turn in the product).
    if (n.workers[i].state == Worker::kHolding) acquisitions_[n.workers[i].acquired].to = now_;
  }
}

void Sim::worker_leave(EntryNode& n, std::size_t i) {
  Worker& w = n.workers[i];
  if (w.state == Worker::kHolding) acquisitions_[w.acquired].to = now_;
  if (o_.verbose) {
    std::fprintf(stderr, "  %llu %s leaves (%s)\n", (unsigned long long)now_, w.tag.c_str(),
                 w.state == Worker::kHolding ? "holding" : "waiting");
  }
  const Id sid = w.sid;
  w.state = Worker::kOut;
  w.sid = 0;
  leave(n, sid);
  worker_later(n, i, 20 + srand(100), [this](EntryNode& node, std::size_t k) {
    Worker& x = node.workers[k];
    if (x.state != Worker::kOut) return;
    x.sid = join(node);
    x.state = Worker::kIdle;
    worker_later(node, k, srand(30), [this](EntryNode& nn, std::size_t kk) { worker_try(nn, kk); });
  });
}

void Sim::answered(Id request, Id publication, const Error* error) {
  auto k = kv_requests_.find(request);
  if (k == kv_requests_.end()) {
    // A plain publication. An ERROR: the engine refused it (never in the log).
    if (error) {
      if (acked_.count(request)) fail("publication " + std::to_string(request) + " acknowledged, then refused");
      published_.erase(request);
      entry_of_.erase(request);
      return;
    }
    if (!acked_.emplace(request, publication).second) {
      fail("publication " + std::to_string(request) + " acknowledged twice");
    }
    return;
  }
  KvRequest& r = k->second;
  if (r.answered) fail("request " + std::to_string(request) + " of " + r.worker + " answered twice");
  r.answered = true;
  r.ok = !error;
  r.id = publication;
  if (!error) ++kv_acked;
  if (r.kind == KvRequest::kWrite) return;
  EntryNode& n = *entries_[r.entry];
  std::size_t i = 0;
  while (i < n.workers.size() && n.workers[i].tag != r.worker) ++i;
  if (n.life != r.life || i == n.workers.size() || n.workers[i].sid != r.sid) return;
  Worker& w = n.workers[i];
  if (r.kind == KvRequest::kAcquire && w.state == Worker::kWaiting && w.acquire_req == request) {
    if (error) {
      if (o_.verbose) {
        std::fprintf(stderr, "  %llu %s: acquisition refused: %s\n", (unsigned long long)now_,
                     w.tag.c_str(), error->uri.c_str());
      }
      w.state = Worker::kIdle;
      worker_later(n, i, 20 + srand(80), [this](EntryNode& node, std::size_t x) { worker_try(node, x); });
    } else {
      worker_acquired(n, i, request, publication);
    }
  } else if (r.kind == KvRequest::kRelease && w.state == Worker::kReleasing && w.release_req == request) {
    if (error && error->uri == "wamp.error.invalid_payload") {
      // "not accepted": the key no longer held its value, the lock had been taken from it.
      if (o_.verbose) {
        std::fprintf(stderr, "  %llu %s: release not accepted (lost)\n", (unsigned long long)now_, w.tag.c_str());
      }
      ++releases_lost;
      w.state = Worker::kIdle;
      worker_later(n, i, 5 + srand(80), [this](EntryNode& node, std::size_t x) { worker_try(node, x); });
    } else if (error) {
      // Refused (the entry could not take it): sent again.
      worker_later(n, i, 10 + srand(40), [this, request](EntryNode& node, std::size_t x) {
        if (node.workers[x].state == Worker::kReleasing && node.workers[x].release_req == request) {
          worker_send_release(node, x);
        }
      });
    } else {
      w.state = Worker::kIdle;
      worker_later(n, i, 5 + srand(80), [this](EntryNode& node, std::size_t x) { worker_try(node, x); });
    }
  }
}

void Sim::committed(const std::string& entry, const ClusterEvent& e) {
  auto [it, fresh] = committed_.emplace(e.id, e);
  if (fresh) {
    committed_at_[e.id] = now_;
    if (o_.verbose && !e.uri.empty() && e.uri[0] == "lock") {
      const Json& tag = kv_tag(e);
      auto r = kv_requests_.find(number(tag, "rq"));
      const std::string who = number(tag, "wf") ? "will firing of id " + std::to_string(number(tag, "wf"))
                              : r != kv_requests_.end() ? std::string(r->second.kind == KvRequest::kAcquire ? "acquisition" : "release") +
                                                              " by " + r->second.worker + " (asked at " + std::to_string(r->second.at) + ")"
                                                        : std::string("?");
      std::fprintf(stderr, "  %llu committed id %llu %s: %s, proposed by %s\n", (unsigned long long)now_,
                   (unsigned long long)e.id, wamp_uri(e.uri).c_str(), who.c_str(), text(e.opt, "n").c_str());
    }
  } else if (!(it->second == e)) {
    fail(entry + " delivered id " + std::to_string(e.id) + " unlike another entry");
  }
}

bool Sim::was_cut(const std::string& node, std::uint64_t from, std::uint64_t upto,
                  std::uint64_t* start, std::uint64_t* end) const {
  auto it = cuts_.find(node);
  if (it == cuts_.end()) return false;
  for (const auto& [s, e] : it->second) {
    if (e >= from && s <= upto) {
      if (start) *start = s;
      if (end) *end = e;
      return true;
    }
  }
  return false;
}

// What happened to the key of acquisition `a` after it, up to id `upto`, from the committed
// history (to read when two workers hold a lock at once): each event, who proposed it, whether
// it was a will firing, an acquisition or a release, and whether the holder's entry was cut off.
std::string Sim::key_history(Id a, Id upto) {
  auto acq = acquisitions_.find(a);
  if (acq == acquisitions_.end()) return " no acquisition at id " + std::to_string(a);
  const Acquisition& A = acq->second;
  const TopicParts topic = {"lock", A.key};
  std::uint64_t s = 0, t = 0;
  std::string out = " " + A.worker + "'s lock (id " + std::to_string(a) + ", held from " + ms(A.from) + ")" +
                    (was_cut(A.entry, A.asked, now_, &s, &t)
                         ? ", " + A.entry + " cut off from " + ms(s) + " to " + (t == UINT64_MAX ? std::string("now") : ms(t))
                         : std::string()) + "; then:";
  int shown = 0;
  for (auto it = committed_.upper_bound(a); it != committed_.end() && it->first < upto && shown < 8; ++it) {
    const ClusterEvent& e = it->second;
    if (e.uri != topic) continue;
    ++shown;
    const Json& tag = kv_tag(e);
    auto r = kv_requests_.find(number(tag, "rq"));
    const Id wf = number(tag, "wf");
    out += " id " + std::to_string(it->first) + " by " + text(e.opt, "n") + " (" +
           (wf ? "will firing of id " + std::to_string(wf)
            : r == kv_requests_.end() ? std::string("?")
            : std::string(r->second.kind == KvRequest::kAcquire ? "acquisition" : r->second.kind == KvRequest::kRelease ? "release" : "write") +
                  " by " + r->second.worker) +
           ", committed by " + ms(committed_at_[it->first]) + ");";
  }
  return out;
}

// Two workers believe they hold the same lock: the seed fails, with how the older acquisition's
// value left the key (key_history()) to read.
void Sim::overlap(const Acquisition& held, Id held_id, const Acquisition& taken, Id taken_id) {
  const Id older = std::min(held_id, taken_id), newer = std::max(held_id, taken_id);
  fail("two holders of a lock: at " + ms(now_) + " " + taken.worker + " got lock." + taken.key +
       " (id " + std::to_string(taken_id) + ", asked at " + ms(taken.asked) + ") while " +
       held.worker + " believed it held it since " + ms(held.from) + " (id " +
       std::to_string(held_id) + "):" + key_history(older, newer));
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
    EntryNode& n = *e->second;
    for (auto& [req, r] : kv_requests_) {
      if (r.entry == node && r.life == n.life) r.owed = false;
    }
    // Its lock holders hold nothing any more (their sessions are gone with the process).
    for (const Worker& w : n.workers) {
      if (w.state == Worker::kHolding) acquisitions_[w.acquired].to = now_;
    }
    stop_entry(n);
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
    // Its clock gives the new life its numbering base (and instance), as a node's wall clock.
    start_entry(n);
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
      // An entry dies (its unacknowledged publications and its sessions with it) and comes
      // back: it must number its segments above anything its previous life began, catch up the
      // history from id 1, and the wills of its previous life must fire.
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
        cuts_[n].emplace_back(now_, UINT64_MAX);
        if (syncs_.count(n)) group.connect(server_of(n), false);   // its raft traffic too
        if (o_.verbose) std::fprintf(stderr, "  %llu cut %s\n", (unsigned long long)now_, n.c_str());
      });
      at(end, [this, n] {
        isolated_.erase(n);
        cuts_[n].back().second = now_;
        if (syncs_.count(n)) group.connect(server_of(n), true);
        if (o_.verbose) std::fprintf(stderr, "  %llu heal %s\n", (unsigned long long)now_, n.c_str());
      });
    }
    t = end + 10 + rand(300);
  }
}

// Plain publications (no retained state): each entry every 5-35 ms, through its router, by its
// publisher session, acknowledged (PUBLISHED once the segment has its ids).
void Sim::schedule_load() {
  for (const std::string& e : entry_names_) {
    for (std::uint64_t t = 20 + rand(30); t < o_.end_of_load_ms; t += 5 + rand(30)) {
      at(t, [this, e] {
        EntryNode& node = *entries_[e];
        if (!node.serving || !node.realm) return;
        const std::uint64_t ticket = ++next_ticket_;
        Publication pub;
        pub.topic = {"sim", e};
        pub.args = Json::array({Json{{"from", e}, {"n", ticket}}});
        PublishOptions o;
        o.acknowledge = true;
        // What the ndbs must hold under its id: the event the engine makes of it.
        Publication expected = pub;
        expected.publisher = node.publisher;
        expected.publisher_authrole = SessionInfo{}.authrole;
        ClusterEvent ev = store::to_cluster_event(e, expected, &o);
        ev.realm = "realm1";
        published_[ticket] = ev;
        entry_of_[ticket] = e;
        node.realm->publish(node.publisher, ticket, std::move(pub), std::move(o));
      });
    }
  }
  at(10 + srand(20), [this] { writer_step(); });
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
    if (!up(name) || !node->entry) continue;
    node->entry->on_tick(now_);
    // cli/cluster_node.cpp: the last contact with each entry is the last time its link was up.
    for (auto& [peer, last] : node->last_contact) {
      if (up(peer) && !cut(name, peer)) last = now_;
    }
    // cli/cluster_node.cpp's self-fencing: no sync quorum for half the entry timeout → the
    // sessions that own wills end.
    if (reaches_sync_quorum(name)) {
      node->no_quorum_since = 0;
      node->fenced = false;
    } else {
      if (node->no_quorum_since == 0) node->no_quorum_since = now_ ? now_ : 1;
      if (!node->fenced && node->router && now_ >= node->no_quorum_since + o_.entry_timeout_ms / 2) {
        node->fenced = true;
        node->router->fence();
      }
    }
    // ... and the engine's tick (the wills that are due) every 250 ms.
    if (now_ >= node->wills_checked + 250) {
      node->wills_checked = now_;
      node->engine->tick();
    }
  }
  for (auto& [name, node] : ndbs_) {
    if (up(name) && node->ndb) node->ndb->on_tick(now_);
  }
  if (now_ + 10 <= o_.end_ms) at(now_ + 10, [this] { tick(); });
}

bool Sim::run(std::string* why) {
  build();
  for (auto& [name, node] : entries_) start_entry(*node);
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
    std::fprintf(stderr, "\n  sessions: %llu retained writes and lock operations acknowledged, %llu locks taken\n",
                 (unsigned long long)kv_acked, (unsigned long long)locks_taken);
  }
  if (failure_.empty()) check(why);
  else *why = failure_;
  return why->empty();
}

// The retained state of a realm, key → value (as a retained subscriber to everything replays it).
std::map<std::string, std::string> Sim::retained_dump(Realm& realm) {
  SimPeer reader;
  const Id sid = realm.join(reader, SessionInfo{});
  SubscribeOptions o;
  o.raw = Json{{"retained", true}};
  SubscribeOutcome out = realm.subscribe(sid, TopicParts{kAnyParts}, o);
  if (out.ok()) realm.replay(sid, out);
  realm.leave(sid);
  std::map<std::string, std::string> dump;
  for (const Delivery& d : reader.retained) {
    const Publication& p = *d.publication;
    dump[p.uri] = p.args.dump() + " " + p.kwargs.dump() + " by " + std::to_string(p.publisher);
  }
  if (!out.ok()) dump["?"] = "the retained subscription was refused: " + out.error.uri;
  return dump;
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
  auto where_is = [&](Id id) {
    std::string where;
    for (auto& [name, node] : ndbs_) {
      where += " " + name + (node->storage.disk.history.count(id) ? ":has" : ":lacks");
    }
    for (auto& [name, node] : entries_) {
      if (node->entry) where += " " + name + ":" + std::to_string(node->entry->unresolved()) + " unresolved";
    }
    return where;
  };
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
      fail_with("acknowledged id " + std::to_string(id) + " on " + std::to_string(holders) +
                " ndbs (" + where_is(id) + " )");
    }
  }
  // The same for the acknowledged retained writes and lock operations: the event under the id
  // PUBLISHED gave is that request's (node, instance, session, request, topic, value).
  auto is_request = [&](const ClusterEvent& e, Id req, const KvRequest& r) {
    const Json& tag = kv_tag(e);
    const bool value = r.args.is_null() ? !e.data.contains("args") : e.data.value("args", Json()) == r.args;
    return has_kv_tag(e) && text(e.opt, "n") == r.entry && number(tag, "i") == r.instance &&
           e.sid == r.sid && number(tag, "rq") == req && e.uri == r.topic && value;
  };
  for (const auto& [req, r] : kv_requests_) {
    if (!r.answered || !r.ok) continue;
    if (!acked_ids.insert(r.id).second) fail_with("id " + std::to_string(r.id) + " acknowledged twice");
    int holders = 0;
    for (auto& [name, node] : ndbs_) {
      auto it = node->storage.disk.history.find(r.id);
      if (it == node->storage.disk.history.end()) continue;
      if (!is_request(it->second, req, r)) {
        fail_with("id " + std::to_string(r.id) + " holds another event than request " +
                  std::to_string(req) + " of " + r.worker);
      }
      ++holders;
    }
    if (holders < 2) {
      fail_with("acknowledged id " + std::to_string(r.id) + " (" + r.worker + ") on " +
                std::to_string(holders) + " ndbs (" + where_is(r.id) + " )");
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
  // Every retained write and lock operation of a session still there was answered (a lock
  // acquisition that still waits at the end was never handed the lock).
  for (const auto& [req, r] : kv_requests_) {
    if (r.owed && !r.answered) {
      fail_with("request " + std::to_string(req) + " of " + r.worker + " (" +
                (r.kind == KvRequest::kAcquire ? "acquire" : r.kind == KvRequest::kRelease ? "release" : "write") +
                " " + wamp_uri(r.topic) + ", sent at " + ms(r.at) + ") never answered");
    }
  }
  // Every entry delivered the same sequence, 1..max without gaps, all of it by now (every life
  // from id 1).
  const Id max_id = by_id.empty() ? 0 : by_id.rbegin()->first;
  if (by_id.size() != max_id) {
    fail_with("the ndbs hold " + std::to_string(by_id.size()) + " ids of 1.." + std::to_string(max_id));
  }
  for (auto& [name, node] : entries_) {
    const auto& d = node->delivered;
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (d[i].id != 1 + i) fail_with(name + " delivered out of order");
      auto it = by_id.find(d[i].id);
      if (it == by_id.end() || !(*it->second == d[i])) {
        fail_with(name + " delivered id " + std::to_string(d[i].id) + " unlike the ndbs");
      }
    }
    if (d.size() != max_id) {
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
  // Plain ids are the acknowledged publications and, at most, the unacknowledged ones of crashed
  // entries whose segments were closed before the crash — nothing else. A retained-state id is
  // a request of a session (a write, or an acquisition proposed again after it lost its race), or
  // a will firing of an earlier id that registered a will on the same key for the same session.
  std::set<std::string> lost_bodies;
  for (const auto& [ticket, e] : lost_) lost_bodies.insert(e.data.dump());
  std::size_t others = 0, plain = 0;
  for (const auto& [id, e] : by_id) {
    if (has_kv_tag(*e)) {
      const Json& tag = kv_tag(*e);
      if (const Id wf = number(tag, "wf")) {
        auto reg = by_id.find(wf);
        const bool ok = wf < id && reg != by_id.end() && has_kv_tag(*reg->second) &&
                        kv_tag(*reg->second).contains("o") && kv_tag(*reg->second)["o"].contains("will") &&
                        reg->second->uri == e->uri && reg->second->sid == e->sid;
        if (!ok) fail_with("id " + std::to_string(id) + " fires a will id " + std::to_string(wf) + " never registered");
        continue;
      }
      auto r = kv_requests_.find(number(tag, "rq"));
      if (r == kv_requests_.end() || !is_request(*e, r->first, r->second)) {
        fail_with("id " + std::to_string(id) + " holds a retained-state event no session published");
      }
      continue;
    }
    ++plain;
    if (acked_ids.count(id)) continue;
    ++others;
    if (!lost_bodies.count(e->data.dump())) {
      fail_with("id " + std::to_string(id) + " holds an event nobody published or lost");
    }
  }
  if (plain != published_.size() + others || others > lost_.size()) {
    fail_with(std::to_string(plain) + " plain ids for " + std::to_string(published_.size()) +
              " publications and " + std::to_string(others) + " of " + std::to_string(lost_.size()) +
              " lost");
  }
  // The retained state is a projection of the committed history: every entry holds the same,
  // the same as a fresh router over a fresh engine gets from the history alone; and no lock is
  // held at the end (every holder released or left, every waiter got it and let it go).
  if (!why->empty()) return;
  SimEnv env(this, seed_);
  store::ClusterEngine fresh("replay", 10000);
  Router router(env, fresh);
  fresh.attach(nullptr, &router);
  for (const auto& [id, e] : by_id) fresh.deliver(*e, false);
  const std::map<std::string, std::string> expected = retained_dump(*router.realm("realm1", nullptr));
  auto describe = [](const std::map<std::string, std::string>& m, const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? std::string("absent") : it->second;
  };
  for (auto& [name, node] : entries_) {
    if (!node->realm) continue;
    const std::map<std::string, std::string> got = retained_dump(*node->realm);
    if (got == expected) continue;
    std::set<std::string> keys;
    for (const auto& [k, v] : got) keys.insert(k);
    for (const auto& [k, v] : expected) keys.insert(k);
    for (const std::string& k : keys) {
      if (describe(got, k) != describe(expected, k)) {
        fail_with(name + "'s retained state differs from the committed history's at " + k + ": " +
                  describe(got, k) + " here, " + describe(expected, k) + " replayed (" +
                  std::to_string(got.size()) + " keys here, " + std::to_string(expected.size()) + ")");
        break;
      }
    }
  }
  for (const auto& [k, v] : expected) {
    if (k.rfind("lock.", 0) == 0) fail_with(k + " is still held at the end: " + v);
  }
  if (o_.verbose) {
    std::fprintf(stderr, "  retained state at the end (%zu keys, the same on every entry):\n", expected.size());
    for (const auto& [k, v] : expected) std::fprintf(stderr, "    %s = %s\n", k.c_str(), v.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t first = 1, seeds = 50;
  bool keep_going = false;   // every failing seed, not only the first
  std::vector<std::uint64_t> failed;
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seeds" && i + 1 < argc) seeds = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--first" && i + 1 < argc) first = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--seed" && i + 1 < argc) {
      first = std::strtoull(argv[++i], nullptr, 10);
      seeds = 1;
    } else if (a == "--verbose") o.verbose = true;
    else if (a == "--keep-going") keep_going = true;
    else {
      std::fprintf(stderr, "usage: fox_sim [--seeds N] [--first F] [--seed S] [--verbose] [--keep-going]\n");
      return 2;
    }
  }
  // The product's own log lines (a restarted entry that serves, a refused replay ...) only with
  // --verbose.
  log::set_level(o.verbose ? log::Level::kInfo : log::Level::kError);
  std::uint64_t total_acked = 0, total_faults = 0, total_kv = 0, total_locks = 0;
  std::uint64_t lost = 0;
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    Sim sim(seed, o);
    std::string why;
    if (!sim.run(&why)) {
      std::fprintf(stderr, "fox_sim: seed %llu FAILED: %s\n  reproduce: fox_sim --seed %llu --verbose\n",
                   (unsigned long long)seed, why.c_str(), (unsigned long long)seed);
      if (!keep_going) return 1;
      failed.push_back(seed);
      continue;
    }
    total_acked += sim.acked();
    total_faults += static_cast<std::uint64_t>(sim.faults());
    total_kv += sim.kv_acked;
    total_locks += sim.locks_taken;
    lost += sim.releases_lost;
  }
  if (!failed.empty()) {
    std::string list;
    for (std::uint64_t f : failed) list += " " + std::to_string(f);
    std::printf("fox_sim: %zu of %llu seeds FAILED:%s\n", failed.size(), (unsigned long long)seeds, list.c_str());
  }
  std::printf("fox_sim: %llu seeds from %llu %s (%llu acknowledged publications, %llu retained "
              "writes and lock operations, %llu locks taken, %llu faults)\n",
              (unsigned long long)seeds, (unsigned long long)first, failed.empty() ? "passed" : "run",
              (unsigned long long)total_acked,
              (unsigned long long)total_kv, (unsigned long long)total_locks,
              (unsigned long long)total_faults);
  // Two holders of a lock at once fail the seed; a release refused because the lock had been
  // taken from its worker (its will fired while its entry was cut off) is counted.
  std::printf("fox_sim: locks lost by their holders (conditional release not accepted): %llu\n",
              (unsigned long long)lost);
  return failed.empty() ? 0 : 1;
}
