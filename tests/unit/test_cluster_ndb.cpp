// cluster/ndb: the storage stage, driven message by message with a memory storage whose
// durability the test releases, and an outbox that records.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <vector>

#include "cluster/ndb.hpp"

using namespace fox;
using namespace fox::cluster;

namespace {

struct MemoryStorage final : NdbStorage {
  std::map<std::pair<std::string, std::uint64_t>, ClosedSegment> closed;
  std::map<std::tuple<std::string, std::uint64_t, std::uint64_t>, ClusterEvent> kept;
  std::map<Id, ClusterEvent> history_;
  std::vector<std::function<void()>> pending;   // sync() callbacks until durable()
  int keeps = 0;

  void keep(const std::string& owner, std::uint64_t segment, std::uint64_t offset,
            const ClusterEvent& event) override {
    kept[{owner, segment, offset}] = event;
    ++keeps;
  }
  std::vector<CommittedSegment> committed;
  std::vector<CommittedSegment> committed_segments() const override { return committed; }
  void commit(const std::string& owner, std::uint64_t segment, Id first) override {
    closed.erase({owner, segment});
    std::uint64_t count = 0;
    for (const auto& [key, e] : kept) count += std::get<0>(key) == owner && std::get<1>(key) == segment;
    committed.push_back({owner, segment, first, count});
    for (auto it = kept.begin(); it != kept.end();) {
      const auto& [o, s, offset] = it->first;
      if (o == owner && s == segment) {
        ClusterEvent e = it->second;
        e.id = first + offset - 1;
        history_[e.id] = e;
        it = kept.erase(it);
      } else {
        ++it;
      }
    }
  }
  void sync(std::function<void()> done) override { pending.push_back(std::move(done)); }
  void put_history(const std::vector<ClusterEvent>& events) override {
    for (const ClusterEvent& e : events) history_.emplace(e.id, e);
  }
  Id contiguous(Id from) const override {
    Id c = from - 1;
    while (history_.count(c + 1)) ++c;
    return c;
  }
  void record_close(const std::string& owner, std::uint64_t segment, std::uint64_t count,
                    const std::string& digest) override {
    closed[{owner, segment}] = ClosedSegment{owner, segment, count, digest};
  }
  std::vector<ClosedSegment> closed_segments() const override {
    std::vector<ClosedSegment> out;
    for (const auto& [k, c] : closed) out.push_back(c);
    return out;
  }
  std::vector<std::pair<std::string, std::uint64_t>> forgotten;
  void forget(const std::string& owner, std::uint64_t segment) override {
    forgotten.emplace_back(owner, segment);
    for (auto it = kept.begin(); it != kept.end();) {
      if (std::get<0>(it->first) == owner && std::get<1>(it->first) == segment) it = kept.erase(it);
      else ++it;
    }
  }
  void mark_committed(const std::string& owner, std::uint64_t segment, Id first,
                      std::uint64_t count) override {
    committed.push_back({owner, segment, first, count});
    for (auto it = kept.begin(); it != kept.end();) {
      if (std::get<0>(it->first) == owner && std::get<1>(it->first) == segment) it = kept.erase(it);
      else ++it;
    }
  }
  std::vector<ClusterEvent> history(Id from, Id upto, std::size_t max) const override {
    std::vector<ClusterEvent> out;
    for (auto it = history_.lower_bound(from); it != history_.end() && it->first <= upto && out.size() < max; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  std::vector<KeptSegment> kept_segments() const override {
    std::vector<KeptSegment> out;
    for (const auto& [key, e] : kept) {
      const auto& [owner, segment, offset] = key;
      if (out.empty() || out.back().owner != owner || out.back().segment != segment) {
        out.push_back({owner, segment, {}});
      }
      if (offset == out.back().events.size() + 1) out.back().events.push_back(e);
    }
    return out;
  }
  void durable() {
    auto fns = std::move(pending);
    pending.clear();
    for (auto& f : fns) f();
  }
};

struct Outbox final : NdbOutbox {
  std::vector<std::pair<std::string, Message>> entries, replies;
  std::vector<Message> syncs, all_entries;
  void to_entry(const std::string& entry, const Message& m) override { entries.emplace_back(entry, m); }
  void to_entries(const Message& m) override { all_entries.push_back(m); }
  void to_syncs(const Message& m) override { syncs.push_back(m); }
  void reply(const std::string& node, const Message& m) override { replies.emplace_back(node, m); }
};

ClusterEvent ev(int n) {
  ClusterEvent e;
  e.realm = "realm1";
  e.uri = {"t"};
  e.data = Json{{"kv", n}};
  return e;
}

std::string digest_of(std::initializer_list<int> ns) {
  SegmentDigest d;
  for (int n : ns) d.add(ev(n));
  return d.value();
}

struct Fixture {
  MemoryStorage storage;
  Outbox out;
  Ndb ndb{"D1", storage, out};
  void in(const Message& m) {
    std::string error;
    CHECK_MESSAGE(ndb.on_message("E1", m, &error), error);
  }
};

}  // namespace

TEST_CASE("an ndb TRIMs only what is durable, drafts once the segment is whole, commits on ELECT") {
  Fixture f;
  f.in(BeginAdvanceSegment{"E1", 7});
  f.in(KeepAdvanceHistory{"E1", 7, 1, ev(1)});
  f.in(KeepAdvanceHistory{"E1", 7, 2, ev(2)});
  CHECK(f.out.entries.empty());   // nothing is durable yet
  f.storage.durable();
  REQUIRE_FALSE(f.out.entries.empty());
  CHECK(std::get<TrimAdvanceSegment>(f.out.entries.back().second) == TrimAdvanceSegment{"D1", "E1", 7, 2});
  CHECK(f.out.syncs.empty());   // not closed yet
  f.in(AdvanceSegmentOver{"E1", 7, 2, digest_of({1, 2})});
  REQUIRE(f.out.syncs.size() == 1);
  CHECK(std::get<GenerateDraft>(f.out.syncs[0]) == GenerateDraft{"D1", "E1", 7, 2, digest_of({1, 2})});
  f.in(ElectSegment{"E1", 7, 100, 2});
  const std::size_t before = f.out.entries.size();
  // Until the commit is durable a repeated ELECT or close gets no RESOLVED (sim seed 56: an ndb
  // that said it and then crashed left an acknowledged event on one ndb).
  f.in(ElectSegment{"E1", 7, 100, 2});
  f.in(AdvanceSegmentOver{"E1", 7, 2, digest_of({1, 2})});
  CHECK(f.out.entries.size() == before);
  f.storage.durable();
  REQUIRE(f.out.entries.size() == before + 1);
  CHECK(std::get<AdvanceSegmentResolved>(f.out.entries.back().second) ==
        AdvanceSegmentResolved{"D1", "E1", 7, 100, 2});
  // Every entry gets the committed events.
  REQUIRE(f.out.all_entries.size() == 1);
  CHECK(std::get<History>(f.out.all_entries[0]).events.size() == 2);
  auto h = f.storage.history(1, 1000, 10);
  REQUIRE(h.size() == 2);
  CHECK(h[0].id == 100);
  CHECK(h[1].id == 101);
  CHECK(h[1].data == Json{{"kv", 2}});
  // A repeated ELECT is answered again; FETCH_HISTORY serves the committed range.
  f.in(ElectSegment{"E1", 7, 100, 2});
  CHECK(std::get<AdvanceSegmentResolved>(f.out.entries.back().second).first == 100);
  f.in(FetchHistory{101, 200});
  REQUIRE(f.out.replies.size() == 1);
  const auto& reply = std::get<History>(f.out.replies[0].second);
  CHECK(reply.events.size() == 1);
  CHECK(reply.events[0].id == 101);
}

TEST_CASE("duplicates are kept once, a gap waits for its retransmission, order is kept") {
  Fixture f;
  f.in(KeepAdvanceHistory{"E1", 3, 1, ev(1)});   // BEGIN lost: the KEEP opens the segment
  f.in(KeepAdvanceHistory{"E1", 3, 3, ev(3)});   // 2 lost on the way
  f.in(KeepAdvanceHistory{"E1", 3, 1, ev(1)});   // a duplicate
  CHECK(f.ndb.segment("E1", 3)->kept == 1);
  f.in(KeepAdvanceHistory{"E1", 3, 2, ev(2)});   // the retransmission fills the gap
  CHECK(f.ndb.segment("E1", 3)->kept == 3);
  CHECK(f.storage.keeps == 3);
  f.storage.durable();
  f.in(AdvanceSegmentOver{"E1", 3, 3, digest_of({1, 2, 3})});
  CHECK(f.out.syncs.size() == 1);
  // Repeated: the entry still waits (an ELECT was lost), so the ndb drafts again.
  f.in(AdvanceSegmentOver{"E1", 3, 3, digest_of({1, 2, 3})});
  CHECK(f.out.syncs.size() == 2);
  f.in(ElectSegment{"E1", 3, 1, 3});
  f.storage.durable();
  // Once committed, a repeated close is answered with RESOLVED again.
  f.in(AdvanceSegmentOver{"E1", 3, 3, digest_of({1, 2, 3})});
  CHECK(f.out.syncs.size() == 2);
  CHECK(std::get<AdvanceSegmentResolved>(f.out.entries.back().second).first == 1);
}

TEST_CASE("an ndb that holds something else than the entry closed asks for no ids") {
  Fixture f;
  f.in(KeepAdvanceHistory{"E1", 4, 1, ev(1)});
  f.storage.durable();
  f.in(AdvanceSegmentOver{"E1", 4, 1, digest_of({9})});
  CHECK(f.out.syncs.empty());
  std::string error;
  CHECK_FALSE(f.ndb.on_message("E1", AdvanceSegmentOver{"E1", 4, 2, digest_of({1})}, &error));
  CHECK(error == "ADVANCE_SEGMENT_OVER E1/4: count 2 after 1");
  CHECK_FALSE(f.ndb.on_message("S1", InitEntry{"E1"}, &error));
  CHECK(error == "INIT_ENTRY is not for an ndb");
}

TEST_CASE("an ELECT before the segment is whole commits once the rest arrives") {
  Fixture f;
  f.in(KeepAdvanceHistory{"E1", 5, 1, ev(1)});
  f.in(ElectSegment{"E1", 5, 10, 2});   // another ndb drafted it: this one is behind
  CHECK_FALSE(f.ndb.segment("E1", 5)->committed);
  f.in(KeepAdvanceHistory{"E1", 5, 2, ev(2)});   // the ELECT was remembered
  CHECK(f.ndb.segment("E1", 5)->committed);
  f.storage.durable();
  CHECK(f.storage.history(10, 11, 10).size() == 2);
}

TEST_CASE("a restarted ndb recovers what it kept and goes on from there") {
  MemoryStorage storage;
  Outbox out;
  {
    Ndb before("D1", storage, out);
    std::string error;
    before.on_message("E1", KeepAdvanceHistory{"E1", 2, 1, ev(1)}, &error);
    before.on_message("E1", KeepAdvanceHistory{"E1", 2, 2, ev(2)}, &error);
  }
  Ndb after("D1", storage, out);
  REQUIRE(after.segment("E1", 2) != nullptr);
  CHECK(after.segment("E1", 2)->kept == 2);
  std::string error;
  after.on_message("E1", KeepAdvanceHistory{"E1", 2, 3, ev(3)}, &error);
  CHECK(after.segment("E1", 2)->kept == 3);
  storage.durable();
  after.on_message("E1", AdvanceSegmentOver{"E1", 2, 3, digest_of({1, 2, 3})}, &error);
  CHECK(out.syncs.size() == 1);
}

TEST_CASE("a restarted ndb that had committed a segment answers its close with RESOLVED again") {
  MemoryStorage storage;
  Outbox out;
  std::string error;
  {
    Ndb before("D1", storage, out);
    before.on_message("E1", KeepAdvanceHistory{"E1", 6, 1, ev(1)}, &error);
    storage.durable();
    before.on_message("E1", AdvanceSegmentOver{"E1", 6, 1, digest_of({1})}, &error);
    before.on_message("S1", ElectSegment{"E1", 6, 40, 1}, &error);
    storage.durable();
  }
  out.entries.clear();
  Ndb after("D1", storage, out);
  after.on_message("E1", AdvanceSegmentOver{"E1", 6, 1, digest_of({1})}, &error);
  REQUIRE(out.entries.size() == 1);
  CHECK(std::get<AdvanceSegmentResolved>(out.entries[0].second) == AdvanceSegmentResolved{"D1", "E1", 6, 40, 1});
}

TEST_CASE("a TRIM says only what the sync it waited for made durable") {
  MemoryStorage storage;
  Outbox out;
  Ndb ndb("D1", storage, out);
  std::string error;
  ndb.on_message("E1", KeepAdvanceHistory{"E1", 8, 1, ev(1)}, &error);
  auto first_sync = std::move(storage.pending);   // the write of offset 1
  storage.pending.clear();
  ndb.on_message("E1", KeepAdvanceHistory{"E1", 8, 2, ev(2)}, &error);
  first_sync[0]();   // only offset 1 was durable when this sync was asked for
  REQUIRE(out.entries.size() == 1);
  CHECK(std::get<TrimAdvanceSegment>(out.entries[0].second).count == 1);
  storage.durable();
  CHECK(std::get<TrimAdvanceSegment>(out.entries.back().second).count == 2);
}

TEST_CASE("an ndb takes segments only of the cluster's entries, from them, and boundedly") {
  Fixture f;
  f.ndb.accept_only({"E1", "E2"});
  std::string error;
  CHECK_FALSE(f.ndb.on_message("E9", KeepAdvanceHistory{"E9", 1, 1, ev(1)}, &error));
  CHECK(error.find("not an entry of the cluster") != std::string::npos);
  CHECK_FALSE(f.ndb.on_message("E2", KeepAdvanceHistory{"E1", 1, 1, ev(1)}, &error));   // not its own
  CHECK(f.ndb.on_message("E1", KeepAdvanceHistory{"E1", 1, 1, ev(1)}, &error));
  // The sync group's ELECT comes from a sync node.
  CHECK(f.ndb.on_message("S1", ElectSegment{"E1", 1, 1, 1}, &error));
  // A flood of segments from one entry stops at kMaxOpenSegmentsPerOwner.
  std::size_t refused = 0;
  for (std::uint64_t seg = 2; seg < 2 + Ndb::kMaxOpenSegmentsPerOwner + 10; ++seg) {
    refused += !f.ndb.on_message("E2", BeginAdvanceSegment{"E2", seg}, &error);
  }
  CHECK(refused == 10);
}

TEST_CASE("an ndb that missed segments catches up from a peer ndb") {
  Fixture f;
  f.ndb.set_peers({"D2", "D3"});
  std::string error;
  // It was down while ids 1..3 were committed by the others; now an ELECT of a segment it
  // never got the events of says ids up to 5 exist.
  REQUIRE(f.ndb.on_message("S1", ElectSegment{"E1", 9, 4, 2}, &error));
  CHECK(f.ndb.contiguous() == 0);
  f.ndb.on_tick(1000);
  REQUIRE(f.out.replies.size() == 1);
  CHECK(f.out.replies[0].first == "D2");
  CHECK(std::get<FetchHistory>(f.out.replies[0].second) == FetchHistory{1, 5});
  // Not from a peer: refused.
  ClusterEvent e1 = ev(1), e2 = ev(2), e4 = ev(4), e5 = ev(5);
  e1.id = 1, e2.id = 2, e4.id = 4, e5.id = 5;
  CHECK_FALSE(f.ndb.on_message("E1", History{1, 5, {e1}}, &error));
  // D2 lacks id 3 itself: what it has is stored, the rest asked of the next peer.
  REQUIRE(f.ndb.on_message("D2", History{1, 5, {e1, e2, e4, e5}}, &error));
  CHECK(f.ndb.contiguous() == 2);
  CHECK(std::get<FetchHistory>(f.out.replies.back().second) == FetchHistory{3, 5});
  CHECK(f.out.replies.back().first == "D3");
  ClusterEvent e3 = ev(3);
  e3.id = 3;
  REQUIRE(f.ndb.on_message("D3", History{3, 5, {e3}}, &error));
  CHECK(f.ndb.contiguous() == 5);
  auto h = f.storage.history(1, 10, 10);
  REQUIRE(h.size() == 5);
  CHECK(h[2].data == Json{{"kv", 3}});
  // The segment whose ELECT it saw is committed now (not held open), as the storage records.
  REQUIRE(f.ndb.segment("E1", 9));
  CHECK(f.ndb.segment("E1", 9)->committed);
  REQUIRE_FALSE(f.storage.committed.empty());
  CHECK(f.storage.committed.back().count == 2);
  // Caught up: the next tick only probes, a second later.
  const std::size_t before = f.out.replies.size();
  f.ndb.on_tick(1100);
  CHECK(f.out.replies.size() == before);
  f.ndb.on_tick(2000);
  REQUIRE(f.out.replies.size() == before + 1);
  CHECK(std::get<FetchHistory>(f.out.replies.back().second).from == 6);
}

TEST_CASE("a HISTORY is cut into pieces of a bounded size") {
  std::vector<ClusterEvent> events;
  for (int i = 1; i <= 10; ++i) {
    ClusterEvent e = ev(i);
    e.data = Json{{"payload", std::string(Ndb::kMaxHistoryBytes / 4, 'x')}};
    e.id = 100 + i;
    events.push_back(e);
  }
  Fixture f;
  for (const ClusterEvent& e : events) f.storage.history_.emplace(e.id, e);
  f.in(FetchHistory{101, 110});
  REQUIRE(f.out.replies.size() == 1);
  const auto& h = std::get<History>(f.out.replies[0].second);
  CHECK(h.events.size() == 3);
  CHECK(h.from == 101);
  CHECK(h.upto == 103);   // what it covers: the entry fetches again from 104
}

TEST_CASE("segments a dead entry left unclosed go dormant when its next incarnation numbers far above") {
  Fixture f;
  // The dead incarnation left 200 segments unclosed here (this ndb never got their OVER).
  for (std::uint64_t seg = 1; seg <= 200; ++seg) f.in(KeepAdvanceHistory{"E1", seg, 1, ev(static_cast<int>(seg))});
  f.storage.durable();
  // The new one numbers far above: its segments are not refused for the old ones' sake.
  std::string error;
  std::size_t refused = 0;
  for (std::uint64_t seg = 5000; seg < 5000 + Ndb::kMaxOpenSegmentsPerOwner; ++seg) {
    refused += !f.ndb.on_message("E1", BeginAdvanceSegment{"E1", seg}, &error);
  }
  CHECK(refused == 0);
  // A dormant segment keeps its events: another ndb had its close and drafted it, and the
  // sync group's ELECT commits it here too (sim seed 148: deleting them lost ids 36..38).
  REQUIRE(f.ndb.segment("E1", 7));
  CHECK(f.storage.forgotten.empty());
  REQUIRE(f.ndb.on_message("S1", ElectSegment{"E1", 7, 40, 1}, &error));
  f.storage.durable();
  auto h = f.storage.history(40, 40, 1);
  REQUIRE(h.size() == 1);
  CHECK(h[0].data == Json{{"kv", 7}});
}

TEST_CASE("at most kMaxDormantPerOwner dormant segments are kept, the oldest forgotten") {
  Fixture f;
  const std::uint64_t n = Ndb::kMaxDormantPerOwner + 10;
  // In batches below the open limit, each batch made dormant by the next, far above.
  std::uint64_t seg = 1, made = 0;
  while (made < n) {
    for (std::uint64_t k = 0; k < 200 && made < n; ++k, ++seg, ++made) f.in(BeginAdvanceSegment{"E1", seg});
    seg += Ndb::kAbandonedBelow;
  }
  f.in(BeginAdvanceSegment{"E1", seg + Ndb::kAbandonedBelow});
  REQUIRE(f.storage.forgotten.size() == 10);
  CHECK(f.storage.forgotten.front() == std::make_pair(std::string("E1"), std::uint64_t{1}));
}

TEST_CASE("a restarted ndb drafts a segment it had the close of, though its entry is dead") {
  MemoryStorage storage;
  Outbox out;
  {
    Ndb before("D1", storage, out);
    std::string error;
    before.on_message("E1", KeepAdvanceHistory{"E1", 3, 1, ev(1)}, &error);
    before.on_message("E1", AdvanceSegmentOver{"E1", 3, 1, digest_of({1})}, &error);
    storage.durable();
  }
  REQUIRE(storage.closed.size() == 1);
  Outbox after_out;
  Ndb after("D1", storage, after_out);   // sim seed 785: the close was memory only
  REQUIRE(after.segment("E1", 3));
  CHECK(after.segment("E1", 3)->count == 1u);
  after.on_tick(10);
  REQUIRE(after_out.syncs.size() == 1);
  CHECK(std::get<GenerateDraft>(after_out.syncs[0]) == GenerateDraft{"D1", "E1", 3, 1, digest_of({1})});
  // No ELECT: drafted again a second later (the ELECT was lost; the entry cannot resend).
  after.on_tick(500);
  CHECK(after_out.syncs.size() == 1);
  after.on_tick(1010);
  CHECK(after_out.syncs.size() == 2);
  std::string error;
  REQUIRE(after.on_message("S1", ElectSegment{"E1", 3, 7, 1}, &error));
  storage.durable();
  CHECK(storage.closed.empty());   // done with at the commit
  CHECK(storage.history(7, 7, 1).size() == 1);
}
