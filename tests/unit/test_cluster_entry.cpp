// cluster/entry, message by message (the simulation in tests/sim/ runs it under faults).
#include <doctest/doctest.h>

#include <vector>

#include "cluster/entry.hpp"

using namespace fox;
using namespace fox::cluster;

namespace {

struct Out final : EntryOutbox, EntrySink {
  std::vector<std::pair<std::string, Message>> sent;
  int ready_calls = 0;
  std::vector<std::pair<std::uint64_t, Id>> acks;
  std::vector<Id> delivered;
  void to_ndb(const std::string& n, const Message& m) override { sent.emplace_back(n, m); }
  void to_sync(const std::string& s, const Message& m) override { sent.emplace_back(s, m); }
  void ready() override { ++ready_calls; }
  void acknowledged(std::uint64_t t, Id id) override { acks.emplace_back(t, id); }
  std::vector<bool> live;
  void deliver(const ClusterEvent& e, bool is_live) override {
    delivered.push_back(e.id);
    live.push_back(is_live);
  }
  template <class T>
  int count(const std::string& to) const {
    int n = 0;
    for (const auto& [dest, m] : sent) n += dest == to && std::holds_alternative<T>(m);
    return n;
  }
};

EntryConfig config() {
  EntryConfig c;
  c.name = "E1";
  c.ndbs = {"D1", "D2", "D3"};
  c.syncs = {"S1", "S2", "S3"};
  c.sync_quorum = 2;
  c.storage_quorum = 2;
  return c;
}

ClusterEvent ev(int n) {
  ClusterEvent e;
  e.realm = "r";
  e.uri = {"t"};
  e.data = Json{{"kv", n}};
  return e;
}

}  // namespace

TEST_CASE("a restarted entry numbers above its clock's base") {
  Out out;
  EntryConfig c = config();
  c.first_segment = Entry::segment_base(1704067200000 + 1000);
  CHECK(c.first_segment == std::uint64_t{1000} << 10);
  CHECK(Entry::segment_base(1704067200000 + 1001) - c.first_segment == std::uint64_t{1} << 10);
  CHECK(Entry::segment_base(1000) == 0);   // a clock before 2024: restart_gap() still holds
  Entry e(c, out, out);
  std::string error;
  e.on_message("S1", InitEntryAccepted{"S1", "E1", 7}, &error);
  e.on_message("S2", InitEntryAccepted{"S2", "E1", 7}, &error);
  REQUIRE(e.publish(ev(1), 1));
  CHECK(std::get<BeginAdvanceSegment>(out.sent[out.sent.size() - 4].second).segment ==
        c.first_segment + 1);
}

TEST_CASE("an entry serves after a sync quorum accepted it, numbering after its last segment") {
  Out out;
  Entry e(config(), out, out);
  e.start(0);
  CHECK(out.count<InitEntry>("S2") == 1);
  CHECK_FALSE(e.publish(ev(1), 1));
  std::string error;
  REQUIRE(e.on_message("S1", InitEntryAccepted{"S1", "E1", 4}, &error));
  // One sync claiming another's name is still one sync.
  REQUIRE(e.on_message("S1", InitEntryAccepted{"S2", "E1", 4}, &error));
  CHECK_FALSE(e.ready());
  CHECK_FALSE(e.on_message("X9", InitEntryAccepted{"X9", "E1", 4}, &error));
  CHECK_FALSE(e.ready());
  REQUIRE(e.on_message("S3", InitEntryAccepted{"S3", "E1", 9}, &error));
  CHECK(e.ready());
  CHECK(out.ready_calls == 1);
  REQUIRE(e.publish(ev(1), 11));
  // Numbering continues well above the last segment with ids (9): a previous incarnation may
  // have begun the segments in flight above it without having them elected.
  CHECK(std::get<BeginAdvanceSegment>(out.sent[out.sent.size() - 4].second).segment ==
        9 + e.restart_gap() + 1);
  CHECK(out.count<KeepAdvanceHistory>("D3") == 1);
  CHECK_FALSE(e.on_message("S1", InitEntryAccepted{"S1", "E2", 1}, &error));
}

TEST_CASE("a segment closes on a storage quorum of TRIMs, acks at the first RESOLVED") {
  Out out;
  Entry e(config(), out, out);
  const std::uint64_t s1 = e.restart_gap() + 1;   // the first segment of a new cluster
  std::string error;
  e.on_message("S1", InitEntryAccepted{"S1", "E1", 0}, &error);
  e.on_message("S2", InitEntryAccepted{"S2", "E1", 0}, &error);
  e.publish(ev(1), 101);
  e.publish(ev(2), 102);
  e.on_message("D1", TrimAdvanceSegment{"D1", "E1", s1, 2}, &error);
  CHECK(out.count<AdvanceSegmentOver>("D1") == 0);   // one ndb is not a quorum
  e.on_message("D2", TrimAdvanceSegment{"D2", "E1", s1, 1}, &error);
  CHECK(out.count<AdvanceSegmentOver>("D1") == 0);   // D2 has only one of the two
  e.on_message("D2", TrimAdvanceSegment{"D2", "E1", s1, 2}, &error);
  CHECK(out.count<AdvanceSegmentOver>("D3") == 1);
  CHECK_FALSE(e.on_message("D1", AdvanceSegmentResolved{"D1", "E1", s1, 50, 3}, &error));   // wrong count
  REQUIRE(e.on_message("D1", AdvanceSegmentResolved{"D1", "E1", s1, 50, 2}, &error));
  CHECK(out.acks == std::vector<std::pair<std::uint64_t, Id>>{{101, 50}, {102, 51}});
  // Sent again to the ndbs that have not committed it, until a quorum did.
  CHECK(e.unresolved() == 1);
  const int over_d1 = out.count<AdvanceSegmentOver>("D1");
  e.on_tick(1000);
  CHECK(out.count<AdvanceSegmentOver>("D1") == over_d1);   // D1 committed it
  CHECK(out.count<AdvanceSegmentOver>("D2") == 2);
  e.on_message("D2", AdvanceSegmentResolved{"D2", "E1", s1, 50, 2}, &error);
  CHECK(e.unresolved() == 0);
  CHECK(out.acks.size() == 2);   // acknowledged once
}

TEST_CASE("committed events are delivered in id order; a gap is fetched from an ndb") {
  Out out;
  EntryConfig c = config();
  c.retransmit_ms = 100;
  Entry e(c, out, out);
  std::string error;
  e.on_message("S1", InitEntryAccepted{"S1", "E1", 0}, &error);
  e.on_message("S2", InitEntryAccepted{"S2", "E1", 0}, &error);
  ClusterEvent a = ev(1), b = ev(2), d = ev(4);
  a.id = 1;
  b.id = 2;
  d.id = 4;
  e.on_message("D1", History{4, 4, {d}}, &error);
  CHECK(out.delivered.empty());
  e.on_message("D1", History{1, 2, {a, b, a}}, &error);
  CHECK(out.delivered == std::vector<Id>{1, 2});
  e.on_tick(500);
  bool fetched = false;
  for (const auto& [to, m] : out.sent) {
    if (const auto* f = std::get_if<FetchHistory>(&m)) fetched = f->from == 3 && f->upto == 3;
  }
  CHECK(fetched);
  ClusterEvent c3 = ev(3);
  c3.id = 3;
  e.on_message("D2", History{3, 3, {c3}}, &error);
  CHECK(out.delivered == std::vector<Id>{1, 2, 3, 4});
}

TEST_CASE("an entry takes committed events only from ndbs, and holds a bounded window") {
  Out out;
  Entry e(config(), out, out);
  std::string error;
  e.on_message("S1", InitEntryAccepted{"S1", "E1", 0}, &error);
  e.on_message("S2", InitEntryAccepted{"S2", "E1", 0}, &error);
  ClusterEvent far = ev(1);
  far.id = Entry::kMaxWaiting + 5;
  CHECK_FALSE(e.on_message("E2", History{far.id, far.id, {far}}, &error));
  CHECK(e.on_message("D1", History{far.id, far.id, {far}}, &error));
  ClusterEvent first = ev(1);
  first.id = 1;
  e.on_message("D1", History{1, 1, {first}}, &error);
  CHECK(out.delivered == std::vector<Id>{1});   // the far one was not kept: fetched when due
}

TEST_CASE("a restarted entry starts at the sync group's head: the last ids before it are history, not live") {
  Out out;
  EntryConfig c = config();
  c.backfill = 3;
  Entry e(c, out, out);
  std::string error;
  auto at = [](Id id) {
    ClusterEvent x = ev(static_cast<int>(id));
    x.id = id;
    return x;
  };
  // What an ndb pushes before the entry is accepted waits.
  REQUIRE(e.on_message("D1", History{9, 9, {at(9)}}, &error));
  CHECK(out.delivered.empty());
  e.on_message("S1", InitEntryAccepted{"S1", "E1", 0, 10}, &error);
  e.on_message("S2", InitEntryAccepted{"S2", "E1", 0, 8}, &error);
  REQUIRE(e.ready());
  CHECK(e.delivered() == 7);   // head 10 (the highest a quorum said), backfill 3: 8, 9, 10 fetched
  REQUIRE(e.on_message("D2", History{8, 12, {at(8), at(10), at(11), at(12)}}, &error));
  CHECK(out.delivered == std::vector<Id>{8, 9, 10, 11, 12});
  CHECK(out.live == std::vector<bool>{false, false, false, true, true});
}

TEST_CASE("a segment closes only once every earlier segment has its ids (publish order kept)") {
  Out out;
  EntryConfig c = config();
  c.max_segment_events = 2;
  Entry e(c, out, out);
  const std::uint64_t s1 = e.restart_gap() + 1;
  std::string error;
  e.on_message("S1", InitEntryAccepted{"S1", "E1", 0}, &error);
  e.on_message("S2", InitEntryAccepted{"S2", "E1", 0}, &error);
  for (int i = 1; i <= 4; ++i) REQUIRE(e.publish(ev(i), 100 + i));   // segments s1 and s1 + 1
  auto overs = [&](std::uint64_t segment) {
    int n = 0;
    for (const auto& [to, m] : out.sent) {
      if (const auto* o = std::get_if<AdvanceSegmentOver>(&m); o && to == "D1" && o->segment == segment) ++n;
    }
    return n;
  };
  // The second segment is stored by a quorum first: it still waits for the first one's ids.
  for (const char* ndb : {"D1", "D2"}) e.on_message(ndb, TrimAdvanceSegment{ndb, "E1", s1 + 1, 2}, &error);
  e.on_tick(1000);
  CHECK(overs(s1 + 1) == 0);
  for (const char* ndb : {"D1", "D2"}) e.on_message(ndb, TrimAdvanceSegment{ndb, "E1", s1, 2}, &error);
  CHECK(overs(s1) == 1);
  CHECK(overs(s1 + 1) == 0);
  REQUIRE(e.on_message("D1", AdvanceSegmentResolved{"D1", "E1", s1, 7, 2}, &error));
  CHECK(overs(s1 + 1) == 1);   // closed at once when the first got its ids
  REQUIRE(e.on_message("D1", AdvanceSegmentResolved{"D1", "E1", s1 + 1, 9, 2}, &error));
  CHECK(out.acks == std::vector<std::pair<std::uint64_t, Id>>{{101, 7}, {102, 8}, {103, 9}, {104, 10}});
}
