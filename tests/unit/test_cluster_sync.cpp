// cluster/sync: the sync role over an agreement that answers at once.
#include <doctest/doctest.h>

#include <vector>

#include "cluster/sync.hpp"

using namespace fox;
using namespace fox::cluster;

namespace {
struct Instant final : SyncAgreement, SyncOutbox {
  SyncState state;
  std::vector<Message> to_ndb;
  std::vector<std::pair<std::string, Message>> replies;
  void propose(const std::string& owner, std::uint64_t segment, std::uint64_t count,
               std::function<void(const AssignResult&)> done) override {
    done(state.assign(SegmentRequest{owner, segment, static_cast<std::uint32_t>(count)}));
  }
  std::uint64_t last_segment(const std::string& owner) const override { return state.last_segment(owner); }
  Id head() const override { return state.next_id() - 1; }
  void to_ndbs(const Message& m) override { to_ndb.push_back(m); }
  void reply(const std::string& node, const Message& m) override { replies.emplace_back(node, m); }
};
}  // namespace

TEST_CASE("a sync accepts entries and turns drafts into one range per segment") {
  Instant a;
  Sync sync("S1", a, a);
  sync.accept_only({"E1"}, {"D1", "D2"});
  std::string error;
  REQUIRE(sync.on_message("D1", GenerateDraft{"D1", "E1", 1, 3, std::string(16, 'd')}, &error));
  REQUIRE(sync.on_message("D2", GenerateDraft{"D2", "E1", 1, 3, std::string(16, 'd')}, &error));
  REQUIRE(sync.on_message("D1", GenerateDraft{"D1", "E1", 2, 2, std::string(16, 'd')}, &error));
  REQUIRE(a.to_ndb.size() == 3);
  CHECK(std::get<ElectSegment>(a.to_ndb[0]) == ElectSegment{"E1", 1, 1, 3});
  CHECK(std::get<ElectSegment>(a.to_ndb[1]) == ElectSegment{"E1", 1, 1, 3});   // the same range again
  CHECK(std::get<ElectSegment>(a.to_ndb[2]) == ElectSegment{"E1", 2, 4, 2});
  REQUIRE(sync.on_message("E1", InitEntry{"E1"}, &error));
  CHECK(std::get<InitEntryAccepted>(a.replies.back().second) == InitEntryAccepted{"S1", "E1", 2, 5});   // ids 1..5 given
  // Made-up owners and senders are refused (the agreement's owners are bounded).
  CHECK_FALSE(sync.on_message("D1", GenerateDraft{"D1", "X1", 1, 1, std::string(16, 'd')}, &error));
  CHECK_FALSE(sync.on_message("E1", GenerateDraft{"D1", "E1", 3, 1, std::string(16, 'd')}, &error));
  CHECK_FALSE(sync.on_message("E2", InitEntry{"E1"}, &error));
  CHECK_FALSE(sync.on_message("D1", GenerateDraft{"D1", "E1", 3, 0, std::string(16, 'd')}, &error));
  CHECK(a.to_ndb.size() == 3);
}
