// cluster/messages: every message round-trips through a FOX map (and MessagePack); malformed
// ones are refused with a reason; the segment digest is exact.
#include <doctest/doctest.h>

#include <random>

#include "cluster/messages.hpp"
#include "fox/codec.hpp"

using namespace fox;
using namespace fox::cluster;

namespace {

ClusterEvent event(Id id = 0) {
  ClusterEvent e;
  e.realm = "realm1";
  e.uri = {"sensors", "kitchen"};
  e.data = Json{{"kv", {{"t", 21.5}, {"a", "x"}}}};
  e.opt = Json{{"retain", true}, {"headers", {{"h", 1}}}};
  e.sid = 77;
  e.id = id;
  return e;
}

std::vector<Message> samples() {
  SegmentDigest d;
  d.add(event());
  const std::string digest = d.value();
  return {InitEntry{"E1"},
          InitEntryAccepted{"S1", "E1", 17},
          BeginAdvanceSegment{"E1", 1733000000123},
          KeepAdvanceHistory{"E1", 5, 1, event()},
          TrimAdvanceSegment{"D2", "E1", 5, 3},
          AdvanceSegmentOver{"E1", 5, 3, digest},
          GenerateDraft{"D2", "E1", 5, 3, digest},
          ElectSegment{"E1", 5, 1001, 3},
          AdvanceSegmentResolved{"D1", "E1", 5, 1001, 3},
          FetchHistory{10, 20},
          History{10, 20, {event(11), event(15)}}};
}

std::string refused(const Json& m) {
  Message out;
  std::string error;
  CHECK_FALSE(decode(m, &out, &error));
  return error;
}

}  // namespace

TEST_CASE("every cluster message round-trips through a FOX map on the wire") {
  for (const Message& m : samples()) {
    CAPTURE(message_name(m));
    Json map = encode(m);
    CHECK(map["ft"] == message_name(m));
    std::string wire;
    foxp::encode_message(map, wire);
    Json back;
    std::string error;
    REQUIRE(foxp::decode_message(wire, 1 << 20, &back, &error));
    Message decoded;
    REQUIRE_MESSAGE(decode(back, &decoded, &error), error);
    CHECK(decoded == m);
  }
}

TEST_CASE("malformed cluster messages are refused with the field and the problem") {
  CHECK(refused(Json::array()) == "a cluster message is a map");
  CHECK(refused(Json{{"ft", 3}}) == "a cluster message without ft");
  CHECK(refused(Json{{"ft", "VOTE"}}) == "unknown cluster message VOTE");
  Json keep = encode(samples()[3]);
  keep["offset"] = 0;
  CHECK(refused(keep) == "KEEP_ADVANCE_HISTORY: offset must be an integer 1..2^53");
  keep = encode(samples()[3]);
  keep["event"]["uri"] = Json::array();
  CHECK(refused(keep) == "KEEP_ADVANCE_HISTORY: uri must be a list of parts");
  keep = encode(samples()[3]);
  keep["event"].erase("realm");
  CHECK(refused(keep) == "KEEP_ADVANCE_HISTORY: missing realm");
  Json over = encode(samples()[5]);
  over["digest"] = Json::binary({1, 2, 3});
  CHECK(refused(over) == "ADVANCE_SEGMENT_OVER: digest must be 16 bytes");
  Json elect = encode(samples()[7]);
  elect["first"] = (std::uint64_t{1} << 53);
  CHECK(refused(elect) == "ELECT_SEGMENT: first must be such that the range ends by 2^53");
  elect["first"] = -1;
  CHECK(refused(elect) == "ELECT_SEGMENT: first must be a non-negative integer");
  Json history = encode(samples()[10]);
  history["events"][1]["id"] = 11;
  CHECK(refused(history) == "HISTORY: events must be increasing ids within from..upto");
  history = encode(samples()[10]);
  history["upto"] = 5;
  CHECK(refused(history) == "HISTORY: upto must be at least from");
  Json init = encode(samples()[0]);
  init["entry"] = std::string(256, 'e');
  CHECK(refused(init) == "INIT_ENTRY: entry must be a name of 1..255 bytes");
}

TEST_CASE("random damage to cluster messages never crashes the decoder") {
  std::mt19937_64 rng(12345);
  const Json junk[] = {nullptr, -5, 1.5, "x", Json::array({1}), Json::object(), Json::binary({9})};
  for (int round = 0; round < 2000; ++round) {
    const std::vector<Message> all = samples();
    Json m = encode(all[rng() % all.size()]);
    auto it = m.begin();
    std::advance(it, static_cast<long>(rng() % m.size()));
    if (it.key() == "ft") continue;
    if (rng() % 3 == 0) m.erase(it.key());
    else *it = junk[rng() % std::size(junk)];
    Message out;
    std::string error;
    if (!decode(m, &out, &error)) CHECK_FALSE(error.empty());
  }
}

TEST_CASE("the segment digest covers every event, its order and its boundaries") {
  auto digest = [](std::vector<ClusterEvent> events) {
    SegmentDigest d;
    for (const ClusterEvent& e : events) d.add(e);
    return d.value();
  };
  ClusterEvent a = event(), b = event();
  b.data = Json{{"kv", 2}};
  CHECK(digest({a, b}).size() == 16);
  CHECK(digest({a, b}) == digest({a, b}));
  CHECK(digest({a, b}) != digest({b, a}));
  CHECK(digest({a}) != digest({a, a}));
  CHECK(digest({}) != digest({a}));
  ClusterEvent c = a;
  c.id = 99;   // the permanent id is not part of it: it is given after the digest is known
  CHECK(digest({c}) == digest({a}));
  c.opt["retain"] = false;
  CHECK(digest({c}) != digest({a}));
  // value() may be read on the way: the digest so far, and adding continues from there.
  SegmentDigest d;
  d.add(a);
  const std::string one = d.value();
  d.add(b);
  CHECK(one == digest({a}));
  CHECK(d.value() == digest({a, b}));
}
