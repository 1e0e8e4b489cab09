// cluster/sync_fsm + raft_sync_fsm: the sync group's state machine (ranges, duplicates, pruning,
// snapshots, corrupt input), and the real raft (Canonical raft 0.15's in-memory fixture) running
// it on 3 servers under seeded faults.
#include <doctest/doctest.h>

extern "C" {
#include <raft/fixture.h>
}

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/raft_sync_fsm.hpp"
#include "cluster/sync_fsm.hpp"

using namespace fox::cluster;

namespace {

// splitmix64: the same sequence on every architecture (std distributions are not portable).
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  bool chance(unsigned per_mille) { return below(1000) < per_mille; }
};

SegmentRequest req(std::string owner, std::uint64_t segment, std::uint32_t count) {
  return {std::move(owner), segment, count};
}

// The snapshot's trailing checksum (FNV-1a 64, little-endian), recomputed after a test edits the
// body, so that the structural checks are what refuses it.
void reseal(std::vector<std::uint8_t>& snap) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i + 8 < snap.size(); ++i) {
    h ^= snap[i];
    h *= 0x100000001b3ull;
  }
  for (int i = 0; i < 8; ++i) snap[snap.size() - 8 + i] = static_cast<std::uint8_t>(h >> (8 * i));
}

void put_le(std::vector<std::uint8_t>& v, std::size_t at, std::uint64_t x, int n) {
  for (int i = 0; i < n; ++i) v[at + i] = static_cast<std::uint8_t>(x >> (8 * i));
}

SyncState random_state(Rng& rng, int requests) {
  SyncState s;
  for (int i = 0; i < requests; ++i) {
    std::string owner = "E" + std::to_string(rng.below(5));
    s.assign(req(owner, 1 + rng.below(400), 1 + static_cast<std::uint32_t>(rng.below(100))));
  }
  return s;
}

}  // namespace

TEST_CASE("sync state gives each new segment the next contiguous range of ids, from 1") {
  SyncState s;
  CHECK(s.next_id() == 1);
  auto a = s.assign(req("E1", 1, 10));
  auto b = s.assign(req("E2", 7, 1));
  auto c = s.assign(req("E1", 2, 5));
  CHECK(a == AssignResult{AssignStatus::assigned, {1, 10}});
  CHECK(b == AssignResult{AssignStatus::assigned, {11, 1}});
  CHECK(c == AssignResult{AssignStatus::assigned, {12, 5}});
  CHECK(s.next_id() == 17);
  CHECK(s.range_of("E1", 2) == IdRange{12, 5});
  CHECK_FALSE(s.range_of("E1", 3).has_value());
  CHECK(s.last_segment("E1") == 2);
  CHECK(s.last_segment("E9") == 0);
}

TEST_CASE("a duplicate request is answered with the range already given and changes nothing") {
  SyncState s;
  s.assign(req("E1", 1, 10));
  s.assign(req("E1", 2, 3));
  SyncState before = s;
  CHECK(s.assign(req("E1", 1, 10)) == AssignResult{AssignStatus::duplicate, {1, 10}});
  // Another count for a segment that has its range: the range stands, the caller is told.
  CHECK(s.assign(req("E1", 2, 4)) == AssignResult{AssignStatus::conflict, {11, 3}});
  CHECK(s == before);
}

TEST_CASE("per owner only the newest kKeepSegments ranges are kept; older ones answer stale") {
  SyncState s;
  for (std::uint64_t seg = 1; seg <= kKeepSegments + 10; ++seg) s.assign(req("E1", seg, 1));
  s.assign(req("E2", 1, 1));
  CHECK(s.segments() == kKeepSegments + 1);
  CHECK(s.floor("E1") == 10);
  CHECK(s.floor("E2") == 0);
  CHECK(s.assign(req("E1", 10, 1)).status == AssignStatus::stale);  // pruned: never a new range
  CHECK(s.assign(req("E1", 3, 1)).status == AssignStatus::stale);
  CHECK(s.assign(req("E1", 11, 1)).status == AssignStatus::duplicate);
  CHECK(s.last_segment("E1") == kKeepSegments + 10);
  // A segment above the floor that never had a range still gets one (out of order).
  SyncState t;
  t.assign(req("E1", 5, 1));
  CHECK(t.assign(req("E1", 3, 1)) == AssignResult{AssignStatus::assigned, {2, 1}});
}

TEST_CASE("owners beyond kMaxOwners and ranges beyond 2^53 are refused") {
  SyncState s;
  for (std::size_t i = 0; i < kMaxOwners; ++i) {
    REQUIRE(s.assign(req("E" + std::to_string(i), 1, 1)).status == AssignStatus::assigned);
  }
  CHECK(s.assign(req("X", 1, 1)).status == AssignStatus::owners_full);
  CHECK(s.assign(req("E0", 2, 1)).status == AssignStatus::assigned);  // known owners go on

  // A state whose counter is near the end: its snapshot with next_id edited.
  SyncState empty;
  auto snap = empty.snapshot();
  put_le(snap, 5, kMaxEventId - 5, 8);  // next_id follows the magic and the version
  reseal(snap);
  SyncState end;
  REQUIRE(end.restore(snap));
  CHECK(end.assign(req("E1", 1, 7)).status == AssignStatus::exhausted);
  CHECK(end.assign(req("E1", 1, 6)) == AssignResult{AssignStatus::assigned, {kMaxEventId - 5, 6}});
  CHECK(end.next_id() == kMaxEventId + 1);
  CHECK(end.assign(req("E1", 2, 1)).status == AssignStatus::exhausted);
  CHECK(end.assign(req("E1", 1, 6)).status == AssignStatus::duplicate);
}

TEST_CASE("invalid requests are refused by assign and by encode_command") {
  SyncState s;
  CHECK(s.assign(req("", 1, 1)).status == AssignStatus::invalid);
  CHECK(s.assign(req("E1", 0, 1)).status == AssignStatus::invalid);
  CHECK(s.assign(req("E1", 1, 0)).status == AssignStatus::invalid);
  CHECK(s.assign(req(std::string(kMaxOwnerBytes + 1, 'a'), 1, 1)).status == AssignStatus::invalid);
  CHECK(s.assign(req("E\n1", 1, 1)).status == AssignStatus::invalid);
  CHECK(s.next_id() == 1);
  std::vector<SegmentRequest> none;
  CHECK(encode_command(none).empty());
  std::vector<SegmentRequest> bad{req("E1", 1, 1), req("E1", 0, 1)};
  CHECK(encode_command(bad).empty());
  std::vector<SegmentRequest> too_many(kMaxBatch + 1, req("E1", 1, 1));
  CHECK(encode_command(too_many).empty());
}

TEST_CASE("a command round-trips and is applied in order; a duplicate inside it too") {
  std::vector<SegmentRequest> rs{req("E1", 1, 3), req(std::string(kMaxOwnerBytes, 'z'), 9, 1),
                                 req("E1", 1, 3), req("E2", ~std::uint64_t{0}, 0xffffffffu)};
  auto cmd = encode_command(rs);
  // Padded with zeros to 8 bytes: raft's libuv transport reads past a message otherwise.
  CHECK(cmd.size() == (3 + 4 * 13 + 2 + kMaxOwnerBytes + 2 + 2 + 7) / 8 * 8);
  CHECK(cmd.size() % 8 == 0);
  CHECK(decode_command(cmd) == rs);
  SyncState s;
  auto out = s.apply(cmd);
  REQUIRE(out.has_value());
  REQUIRE(out->size() == 4);
  CHECK((*out)[0] == AssignResult{AssignStatus::assigned, {1, 3}});
  CHECK((*out)[1] == AssignResult{AssignStatus::assigned, {4, 1}});
  CHECK((*out)[2] == AssignResult{AssignStatus::duplicate, {1, 3}});
  CHECK((*out)[3] == AssignResult{AssignStatus::assigned, {5, 0xffffffffu}});
}

TEST_CASE("a truncated, extended or corrupt command is refused and changes nothing") {
  std::vector<SegmentRequest> rs{req("E1", 1, 3), req("E2", 2, 1)};
  auto cmd = encode_command(rs);
  SyncState s;
  s.assign(req("E0", 1, 1));
  const SyncState before = s;
  for (std::size_t n = 0; n < cmd.size(); ++n) {
    CHECK_FALSE(s.apply(std::span(cmd).first(n)).has_value());
  }
  auto longer = cmd;
  longer.push_back(0);
  CHECK_FALSE(s.apply(longer).has_value());
  longer.resize(cmd.size() + 8, 0);   // a whole word of padding too many
  CHECK_FALSE(s.apply(longer).has_value());
  auto dirty_padding = cmd;
  REQUIRE(dirty_padding.back() == 0);
  dirty_padding.back() = 1;
  CHECK_FALSE(s.apply(dirty_padding).has_value());
  auto wrong_kind = cmd;
  wrong_kind[0] = 2;
  CHECK_FALSE(s.apply(wrong_kind).has_value());
  auto huge_n = cmd;
  put_le(huge_n, 1, 0xffff, 2);
  CHECK_FALSE(s.apply(huge_n).has_value());
  auto zero_count = cmd;
  put_le(zero_count, 3 + 1 + 2 + 8, 0, 4);  // the first request's count
  CHECK_FALSE(s.apply(zero_count).has_value());
  CHECK(s == before);
}

TEST_CASE("random bytes and bit flips never crash the command decoder") {
  Rng rng{12};
  std::vector<SegmentRequest> rs{req("E1", 1, 3), req("E2", 2, 1), req("E3", 77, 9)};
  const auto cmd = encode_command(rs);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> b;
    if (i % 2 == 0) {
      b = cmd;
      for (int k = 0; k < 1 + static_cast<int>(rng.below(3)); ++k) {
        b[rng.below(b.size())] ^= static_cast<std::uint8_t>(1u << rng.below(8));
      }
    } else {
      b.resize(rng.below(64));
      for (auto& x : b) x = static_cast<std::uint8_t>(rng.next());
      if (!b.empty()) b[0] = 1;
    }
    auto d = decode_command(b);
    if (d) {
      // What decodes is valid and encodes back to the same bytes (one encoding per command).
      for (const auto& r : *d) CHECK(valid_request(r));
      CHECK(encode_command(*d) == b);
    }
  }
}

TEST_CASE("a snapshot restores an equal state, and the same bytes again") {
  Rng rng{7};
  for (int round = 0; round < 20; ++round) {
    SyncState s = random_state(rng, 50 + round * 40);
    auto snap = s.snapshot();
    SyncState t;
    t.assign(req("other", 1, 1));
    REQUIRE(t.restore(snap));
    CHECK(t == s);
    CHECK(t.snapshot() == snap);
    // Both go on identically.
    CHECK(t.assign(req("E1", 1000, 2)) == s.assign(req("E1", 1000, 2)));
  }
  SyncState empty;
  SyncState t = random_state(rng, 10);
  REQUIRE(t.restore(empty.snapshot()));
  CHECK(t == empty);
}

TEST_CASE("a truncated or corrupt snapshot is refused and the state stays as it was") {
  Rng rng{3};
  SyncState s = random_state(rng, 40);
  const auto snap = s.snapshot();
  SyncState t = random_state(rng, 5);
  const SyncState before = t;
  for (std::size_t n = 0; n < snap.size(); ++n) CHECK_FALSE(t.restore(std::span(snap).first(n)));
  for (std::size_t i = 0; i < snap.size(); ++i) {
    auto b = snap;
    b[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
    CHECK_FALSE(t.restore(b));  // the checksum catches every single flip
  }
  CHECK(t == before);
}

TEST_CASE("a snapshot with a valid checksum but an impossible state is refused") {
  // Two owners, one segment each: layout offsets follow the format in sync_fsm.cpp.
  SyncState s;
  s.assign(req("A", 1, 10));  // ids 1..10
  s.assign(req("B", 1, 5));   // ids 11..15
  const auto snap = s.snapshot();
  // magic 4, version 1, next_id 8, owners 4 = 17; owner A: len 1, "A", floor 8, n 4 = 14;
  // its segment: segment 8, first 8, count 4.
  const std::size_t a_first = 17 + 14 + 8;
  const std::size_t b_name = 17 + 14 + 20 + 1;
  SyncState t;
  auto check_refused = [&](std::vector<std::uint8_t> b) {
    reseal(b);
    CHECK_FALSE(t.restore(b));
    CHECK(t.next_id() == 1);
  };
  {
    auto b = snap;  // A's range overlaps B's
    put_le(b, a_first, 6, 8);
    check_refused(b);
  }
  {
    auto b = snap;  // A's range passes next_id
    put_le(b, a_first + 8, 20, 4);
    check_refused(b);
  }
  {
    auto b = snap;  // owners out of order ("B" renamed "0")
    b[b_name] = '0';
    check_refused(b);
  }
  {
    auto b = snap;  // next_id beyond 2^53 + 1
    put_le(b, 5, kMaxEventId + 2, 8);
    check_refused(b);
  }
  {
    auto b = snap;  // A's segment not above A's floor
    put_le(b, 17 + 2, 1, 8);
    check_refused(b);
  }
  {
    auto b = snap;  // wrong version
    b[4] = 2;
    check_refused(b);
  }
  auto ok = snap;
  reseal(ok);
  CHECK(t.restore(ok));  // reseal itself is right
  CHECK(t == s);
}

TEST_CASE("the raft binding applies, snapshots and restores with raft's buffer ownership") {
  RaftSyncFsm a;
  raft_fsm* fsm = a.fsm();
  CHECK(fsm->version == 1);
  std::vector<SegmentRequest> rs{req("E1", 1, 4), req("E1", 1, 4)};
  raft_buffer cmd = make_raft_command(rs);
  REQUIRE(cmd.base != nullptr);
  void* result = nullptr;
  REQUIRE(fsm->apply(fsm, &cmd, &result) == 0);
  const SyncApplied& out = RaftSyncFsm::outcome(result);
  CHECK_FALSE(out.malformed);
  REQUIRE(out.results.size() == 2);
  CHECK(out.results[0] == AssignResult{AssignStatus::assigned, {1, 4}});
  CHECK(out.results[1].status == AssignStatus::duplicate);
  raft_free(cmd.base);  // raft's job after an apply

  // A malformed command is a no-op that still counts as applied (raft must not get stuck on it).
  std::uint8_t junk[3] = {9, 9, 9};
  raft_buffer bad{junk, sizeof junk};
  REQUIRE(fsm->apply(fsm, &bad, &result) == 0);
  CHECK(RaftSyncFsm::outcome(result).malformed);
  CHECK(a.applied() == 2);
  CHECK(a.state().next_id() == 5);

  raft_buffer* bufs = nullptr;
  unsigned n = 0;
  REQUIRE(fsm->snapshot(fsm, &bufs, &n) == 0);
  REQUIRE(n == 1);
  RaftSyncFsm b;
  // restore takes the buffer on success (raft would free it on failure): hand it a raft_malloc
  // copy, as raft does.
  raft_buffer copy{raft_malloc(bufs[0].len), bufs[0].len};
  std::memcpy(copy.base, bufs[0].base, copy.len);
  REQUIRE(b.fsm()->restore(b.fsm(), &copy) == 0);
  CHECK(b.state() == a.state());
  raft_free(bufs[0].base);  // raft's job after a snapshot (version 1)
  raft_free(bufs);

  std::uint8_t corrupt[4] = {'F', 'X', 'S', 'Y'};
  raft_buffer c{corrupt, sizeof corrupt};
  CHECK(b.fsm()->restore(b.fsm(), &c) == RAFT_MALFORMED);
  CHECK(b.state() == a.state());
}

// ---- The real raft on its in-memory fixture --------------------------------------------------

namespace {

constexpr unsigned kServers = 3;
// Per step (one raft event: a tick, a disk write or a message), the chance of a fault.
constexpr unsigned kFaultPerMille = 30;

struct Proposal;

// One seeded run: owners E1..E3 each have `segments` segments to resolve; the harness proposes
// them (in batches, at the leader), re-proposes what failed, and also proposes duplicates of
// resolved ones (as several ndbs would ask), while links are cut and healed and servers killed
// and revived.
struct Run {
  explicit Run(std::uint64_t seed, std::uint64_t segments) : rng{seed} {
    for (int o = 1; o <= 3; ++o) {
      for (std::uint64_t seg = 1; seg <= segments; ++seg) {
        todo.push_back(req("E" + std::to_string(o), seg,
                           1 + static_cast<std::uint32_t>(rng.below(50))));
      }
    }
    // Segments of different owners interleave, an owner's in order.
    std::stable_sort(todo.begin(), todo.end(), [](const auto& a, const auto& b) {
      return a.segment < b.segment;
    });
    total = todo.size();
  }

  Rng rng;
  std::vector<SegmentRequest> todo;            // not proposed, or failed: proposed next
  std::map<std::pair<std::string, std::uint64_t>, IdRange> resolved;  // first answer per segment
  std::vector<SegmentRequest> done;            // resolved, for duplicate proposals
  std::set<Proposal*> in_flight;
  std::size_t total = 0;
  std::uint64_t failed = 0, duplicates = 0, committed_after_failure = 0, faults = 0, steps = 0;
  std::uint64_t trace = 0xcbf29ce484222325ull;
  bool bad_answer = false;

  void mix(std::uint64_t x) {
    for (int i = 0; i < 8; ++i) {
      trace ^= (x >> (8 * i)) & 0xff;
      trace *= 0x100000001b3ull;
    }
  }
};

struct Proposal {
  struct raft_apply req{};  // "struct": raft_apply is also the function
  Run* run = nullptr;
  std::vector<SegmentRequest> requests;
};

void on_applied(struct raft_apply* req, int status, void* result) {
  auto* p = static_cast<Proposal*>(req->data);
  Run& run = *p->run;
  run.in_flight.erase(p);
  if (status != 0) {
    // Failed as far as this leader knows (leadership lost, shutdown): propose again. Raft may
    // still commit it, so the second proposal may be answered `duplicate`.
    ++run.failed;
    run.mix(0xfa11);
    for (auto& r : p->requests) {
      if (!run.resolved.count({r.owner, r.segment})) run.todo.push_back(std::move(r));
    }
    delete p;
    return;
  }
  const SyncApplied& out = RaftSyncFsm::outcome(result);
  if (out.malformed || out.results.size() != p->requests.size()) run.bad_answer = true;
  for (std::size_t i = 0; i < p->requests.size() && i < out.results.size(); ++i) {
    const auto& r = p->requests[i];
    const AssignResult& a = out.results[i];
    run.mix(static_cast<std::uint64_t>(a.status) << 56 | a.range.first);
    if (a.status != AssignStatus::assigned && a.status != AssignStatus::duplicate) {
      run.bad_answer = true;
      continue;
    }
    if (a.status == AssignStatus::duplicate) ++run.duplicates;
    auto [it, fresh] = run.resolved.emplace(std::pair{r.owner, r.segment}, a.range);
    if (fresh) {
      // The first answer a segment gets is "duplicate" when a proposal of it whose callback
      // reported failure was committed all the same.
      if (a.status == AssignStatus::duplicate) ++run.committed_after_failure;
      run.done.push_back(r);
    } else if (it->second != a.range) {
      run.bad_answer = true;  // one segment, two ranges
    }
  }
  delete p;
}

// A bug of Debian's raft 0.15 fixture, worked around here: its in-memory log assumes that its
// first element is entry 1, but installing a snapshot empties it (snapshot_put with trailing 0
// truncates to 1), so afterwards its first element is entry S+1 of the snapshot S. A later
// truncate(k) — a new leader overwriting uncommitted entries — then copies k - 1 elements of a
// shorter array (ASan: heap-buffer-overflow in ioMethodTruncate; a crash without ASan, seen with
// seed 5). The shim gives the fixture the index it means: k - S.
struct TruncateShim {
  int (*truncate)(raft_io*, raft_index) = nullptr;
  int (*snapshot_put)(raft_io*, unsigned, raft_io_snapshot_put*, const raft_snapshot*,
                      raft_io_snapshot_put_cb) = nullptr;
  raft_index offset = 0;   // entries before the fixture's first element
  raft_index pending = 0;  // the snapshot being installed, if any
  bool misuse = false;
};
std::map<raft_io*, TruncateShim>& shims() {
  static std::map<raft_io*, TruncateShim> m;
  return m;
}
int shim_truncate(raft_io* io, raft_index index) {
  TruncateShim& s = shims().at(io);
  if (s.pending != 0 && index == 1) {  // the fixture completing the install
    s.offset = s.pending;
    s.pending = 0;
    return s.truncate(io, 1);
  }
  if (index <= s.offset) {
    s.misuse = true;  // raft never truncates what a snapshot holds
    return RAFT_IOERR;
  }
  return s.truncate(io, index - s.offset);
}
int shim_snapshot_put(raft_io* io, unsigned trailing, raft_io_snapshot_put* req,
                      const raft_snapshot* snapshot, raft_io_snapshot_put_cb cb) {
  TruncateShim& s = shims().at(io);
  if (trailing == 0) s.pending = snapshot->index;
  return s.snapshot_put(io, trailing, req, snapshot, cb);
}

struct Cluster {
  RaftSyncFsm fsms[kServers];
  std::unique_ptr<raft_fixture> f = std::make_unique<raft_fixture>();
  bool cut[kServers][kServers] = {};

  Cluster() {
    REQUIRE(raft_fixture_initialize(f.get()) == 0);
    for (auto& fsm : fsms) REQUIRE(raft_fixture_grow(f.get(), fsm.fsm()) == 0);
    raft_configuration conf;
    REQUIRE(raft_fixture_configuration(f.get(), kServers, &conf) == 0);
    REQUIRE(raft_fixture_bootstrap(f.get(), &conf) == 0);
    raft_configuration_close(&conf);
    for (unsigned i = 0; i < kServers; ++i) {
      raft* r = raft_fixture_get(f.get(), i);
      // Small snapshots often, so lagging and revived servers get InstallSnapshot (restore).
      raft_set_snapshot_threshold(r, 24);
      raft_set_snapshot_trailing(r, 4);
      TruncateShim& shim = shims()[r->io];
      shim = TruncateShim{r->io->truncate, r->io->snapshot_put};
      r->io->truncate = shim_truncate;
      r->io->snapshot_put = shim_snapshot_put;
    }
    REQUIRE(raft_fixture_start(f.get()) == 0);
  }
  ~Cluster() {
    raft_fixture_close(f.get());
    for (unsigned i = 0; i < kServers; ++i) shims().erase(&f->servers[i].io);
  }
  bool shim_misused() {
    bool any = false;
    for (unsigned i = 0; i < kServers; ++i) any = any || shims().at(&f->servers[i].io).misuse;
    return any;
  }

  void set_link(unsigned i, unsigned j, bool up) {
    cut[i][j] = cut[j][i] = !up;
    if (up) {
      raft_fixture_reconnect(f.get(), i, j);
      raft_fixture_reconnect(f.get(), j, i);
    } else {
      raft_fixture_disconnect(f.get(), i, j);
      raft_fixture_disconnect(f.get(), j, i);
    }
  }
  unsigned dead() const {
    unsigned n = 0;
    for (unsigned i = 0; i < kServers; ++i) n += !raft_fixture_alive(f.get(), i);
    return n;
  }
  void heal() {
    for (unsigned i = 0; i < kServers; ++i) {
      for (unsigned j = i + 1; j < kServers; ++j) {
        if (cut[i][j]) set_link(i, j, true);
      }
      if (!raft_fixture_alive(f.get(), i)) raft_fixture_revive(f.get(), i);
    }
  }
  bool converged() {
    unsigned l = raft_fixture_leader_index(f.get());
    if (l >= kServers) return false;
    raft* leader = raft_fixture_get(f.get(), l);
    raft_index last = raft_last_index(leader);
    for (unsigned i = 0; i < kServers; ++i) {
      if (raft_last_applied(raft_fixture_get(f.get(), i)) != last) return false;
    }
    return true;
  }
};

void propose(Cluster& c, Run& run, unsigned leader) {
  auto p = std::make_unique<Proposal>();
  p->run = &run;
  if (!run.done.empty() && (run.todo.empty() || run.rng.chance(150))) {
    p->requests.push_back(run.done[run.rng.below(run.done.size())]);  // a second ndb asking
  } else if (!run.todo.empty()) {
    std::size_t n = std::min<std::size_t>(run.todo.size(), 1 + run.rng.below(4));
    p->requests.assign(run.todo.begin(), run.todo.begin() + n);
    run.todo.erase(run.todo.begin(), run.todo.begin() + n);
  } else {
    return;
  }
  raft_buffer buf = make_raft_command(p->requests);
  REQUIRE(buf.base != nullptr);
  p->req.data = p.get();
  int rv = raft_apply(raft_fixture_get(c.f.get(), leader), &p->req, &buf, 1, on_applied);
  if (rv != 0) {  // not leader any more, say: nothing was proposed
    raft_free(buf.base);
    for (auto& r : p->requests) {
      if (!run.resolved.count({r.owner, r.segment})) run.todo.push_back(std::move(r));
    }
    return;
  }
  run.in_flight.insert(p.release());  // on_applied deletes it
}

void fault(Cluster& c, Run& run) {
  unsigned i = static_cast<unsigned>(run.rng.below(kServers));
  unsigned j = (i + 1 + static_cast<unsigned>(run.rng.below(kServers - 1))) % kServers;
  std::uint64_t what = run.rng.below(4);
  if (what == 0 && !c.cut[i][j]) {
    c.set_link(i, j, false);
  } else if (what == 1 && c.cut[i][j]) {
    c.set_link(i, j, true);
  } else if (what == 2 && c.dead() == 0) {
    raft_fixture_kill(c.f.get(), i);  // at most one server down: a quorum can make progress
  } else if (what == 3 && !raft_fixture_alive(c.f.get(), i)) {
    raft_fixture_revive(c.f.get(), i);
  } else {
    return;
  }
  ++run.faults;
  run.mix(0xf000 | what << 4 | i << 2 | j);
}

struct Outcome {
  std::uint64_t trace = 0, steps = 0, failed = 0, duplicates = 0, committed_after_failure = 0,
                faults = 0, snapshots = 0, restores = 0;
  bool shutdown = false;  // a server stopped itself (RAFT_UNAVAILABLE): raft saw its log break
  bool complete = false;  // every segment resolved, every server applied everything
  bool agree = false;     // servers_agree() at the end
};

bool any_shut_down(Cluster& c) {
  for (unsigned i = 0; i < kServers; ++i) {
    if (raft_state(raft_fixture_get(c.f.get(), i)) == RAFT_UNAVAILABLE) return true;
  }
  return false;
}

// What must hold whatever happened, even on servers that are behind: no segment has two ranges
// across the servers, and no id belongs to two segments.
bool servers_agree(Cluster& c, std::uint64_t segments) {
  std::map<std::pair<std::string, std::uint64_t>, IdRange> merged;
  for (unsigned i = 0; i < kServers; ++i) {
    for (int o = 1; o <= 3; ++o) {
      std::string owner = "E" + std::to_string(o);
      for (std::uint64_t seg = 1; seg <= segments; ++seg) {
        auto r = c.fsms[i].state().range_of(owner, seg);
        if (!r) continue;
        auto [it, fresh] = merged.emplace(std::pair{owner, seg}, *r);
        if (!fresh && it->second != *r) return false;
      }
    }
  }
  std::vector<IdRange> ranges;
  for (const auto& [key, range] : merged) ranges.push_back(range);
  std::sort(ranges.begin(), ranges.end(),
            [](const IdRange& a, const IdRange& b) { return a.first < b.first; });
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i - 1].first + ranges[i - 1].count > ranges[i].first) return false;
  }
  return true;
}

Outcome run_seed(std::uint64_t seed, std::uint64_t segments) {
  Run run(seed, segments);
  Cluster c;
  Outcome o;
  constexpr std::uint64_t kMaxSteps = 200000;
  // Phase 1: propose everything under faults.
  while (run.resolved.size() < run.total && run.steps < kMaxSteps && !o.shutdown) {
    unsigned l = raft_fixture_leader_index(c.f.get());
    if (l < kServers && raft_fixture_alive(c.f.get(), l) && run.in_flight.size() < 8 &&
        (!run.todo.empty() || run.rng.chance(20)) && run.rng.chance(300)) {
      propose(c, run, l);
    }
    if (run.rng.chance(kFaultPerMille)) fault(c, run);
    raft_fixture_step(c.f.get());
    ++run.steps;
    o.shutdown = any_shut_down(c);
  }
  // Phase 2: everything back up; every server applies everything, every callback has fired.
  c.heal();
  while ((!c.converged() || !run.in_flight.empty()) && run.steps < kMaxSteps && !o.shutdown) {
    raft_fixture_step(c.f.get());
    ++run.steps;
    o.shutdown = any_shut_down(c);
  }
  o.complete = run.resolved.size() == run.total && run.in_flight.empty() && c.converged();
  INFO("seed " << seed << ": " << run.resolved.size() << "/" << run.total << " resolved, "
                << run.steps << " steps, " << run.in_flight.size() << " in flight, shut down: "
                << o.shutdown);
  o.agree = servers_agree(c, segments);
  CHECK_FALSE(run.bad_answer);
  CHECK_FALSE(c.shim_misused());
  if (o.complete) {
    // Every server holds the same state, and it is what the callbacks said.
    const SyncState& s0 = c.fsms[0].state();
    for (unsigned i = 1; i < kServers; ++i) CHECK(c.fsms[i].state() == s0);
    std::vector<IdRange> ranges;
    for (const auto& [key, range] : run.resolved) {
      CHECK(s0.range_of(key.first, key.second) == range);
      ranges.push_back(range);
    }
    CHECK(s0.segments() == run.total);
    // The ranges tile [1, next_id): contiguous, disjoint, one per segment.
    std::sort(ranges.begin(), ranges.end(),
              [](const IdRange& a, const IdRange& b) { return a.first < b.first; });
    std::uint64_t expect = 1;
    for (const auto& r : ranges) {
      CHECK(r.first == expect);
      expect = r.first + r.count;
    }
    CHECK(s0.next_id() == expect);
  }
  o.trace = run.trace;
  o.steps = run.steps;
  o.failed = run.failed;
  o.duplicates = run.duplicates;
  o.committed_after_failure = run.committed_after_failure;
  o.faults = run.faults;
  for (auto& fsm : c.fsms) {
    o.snapshots += fsm.snapshots();
    o.restores += fsm.restores();
  }
  return o;
}

}  // namespace

TEST_CASE("raft fixture: 3 servers under faults give every segment exactly one range") {
  // FOX_RAFT_SEEDS=N runs seeds 1..N instead of 1..8 (a longer sweep by hand); FOX_RAFT_SEED=S
  // runs seed S alone (to replay a failure).
  std::uint64_t first = 1, last = 8;
  if (const char* env = std::getenv("FOX_RAFT_SEEDS")) last = std::strtoull(env, nullptr, 10);
  if (const char* env = std::getenv("FOX_RAFT_SEED")) {
    first = last = std::strtoull(env, nullptr, 10);
  }
  Outcome sum{};
  std::string shut_down;
  for (std::uint64_t seed = first; seed <= last; ++seed) {
    Outcome o = run_seed(seed, 200);
    INFO("seed " << seed);
    CHECK_FALSE(o.shutdown);
    CHECK(o.complete);
    CHECK(o.agree);
    if (o.shutdown || !o.agree) {
      shut_down += " " + std::to_string(seed) + (o.agree ? "" : " (ranges diverged)");
    }
    sum.steps += o.steps;
    sum.failed += o.failed;
    sum.duplicates += o.duplicates;
    sum.committed_after_failure += o.committed_after_failure;
    sum.restores += o.restores;
    sum.snapshots += o.snapshots;
    sum.faults += o.faults;
    sum.trace ^= o.trace * (seed | 1);
  }
  char trace[17];
  std::snprintf(trace, sizeof trace, "%016llx", static_cast<unsigned long long>(sum.trace));
  MESSAGE("seeds " << first << ".." << last << ": trace " << trace << ", " << sum.steps
                   << " steps, " << sum.faults << " faults, " << sum.failed
                   << " failed callbacks (requests committed anyway: "
                   << sum.committed_after_failure << "), " << sum.duplicates << " duplicates, "
                   << sum.snapshots << " snapshots, " << sum.restores << " restores; shut down:"
                   << (shut_down.empty() ? std::string(" none") : shut_down));
  // The runs exercise what they are for.
  CHECK(sum.faults > 0);
  CHECK(sum.failed > 0);
  CHECK(sum.committed_after_failure > 0);
  CHECK(sum.duplicates > 0);
  CHECK(sum.snapshots > 0);
  CHECK(sum.restores > 0);
}

TEST_CASE("raft fixture: a seed replays exactly") {
  Outcome a = run_seed(5, 30);
  Outcome b = run_seed(5, 30);
  CHECK(a.trace == b.trace);
  CHECK(a.steps == b.steps);
}

// A known bug of raft 0.15 (canonical/raft#220, fixed upstream by PR #336 after 0.15): a new
// leader commits entries of an earlier term by counting replicas (the Raft paper's Figure 8).
// Seed 34: server 1, leader of term 104, commits entry 164 of term 51; server 2, whose log ends
// in term 96, is elected later and overwrites entry 164 (and others) with its own; servers 1 and
// 3, which had committed the old ones, detect the conflict and shut down (RAFT_UNAVAILABLE), but
// server 2 applies its own: the servers' states hold the same ids for different segments.
// Debian's raft 0.15 is not safe for the sync group as it is (src/cluster/README.md). When this
// test fails, the raft linked has the fix: drop the test.
TEST_CASE("raft 0.15 fixture: seed 34 hits canonical/raft#220 and the states diverge") {
  Outcome o = run_seed(34, 200);
  CHECK(o.shutdown);
  CHECK_FALSE(o.complete);
  CHECK_FALSE(o.agree);
}
