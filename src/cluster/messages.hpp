// The messages between the roles of a masterfree cluster (SPEC §9, the seed's flow with the
// reference's names, reference doc §7.2), as FOX maps {ft: NAME, ...} on the node links and,
// copied, on the in-process queues between roles of one process. Pure; decode() refuses anything
// malformed with a reason and never throws.
//
//   entry → sync   INIT_ENTRY                 {entry}
//   sync → entry   INIT_ENTRY_ACCEPTED        {sync, entry, last_segment, head}
//   entry → ndb    BEGIN_ADVANCE_SEGMENT      {owner, segment}
//   entry → ndb    KEEP_ADVANCE_HISTORY       {owner, segment, offset, event}
//   ndb → entry    TRIM_ADVANCE_SEGMENT       {ndb, owner, segment, count}   (count stored durably)
//   entry → ndb    ADVANCE_SEGMENT_OVER       {owner, segment, count, digest}
//   ndb → sync     GENERATE_DRAFT             {ndb, owner, segment, count, digest}
//   sync → ndb     ELECT_SEGMENT              {owner, segment, first, count}
//   ndb → entry    ADVANCE_SEGMENT_RESOLVED   {ndb, owner, segment, first, count}
//   any → ndb      FETCH_HISTORY              {from, upto}            (ids from..upto inclusive)
//   ndb → any      HISTORY                    {from, upto, events}    (what it holds of the range)
//
// A segment is (owner entry, segment number); its events have offsets 1..count; the sync group
// gives it the ids first..first+count-1, so offset o has id first + o - 1.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/ids.hpp"
#include "core/json.hpp"

namespace fox::cluster {

// One publication as the cluster carries it: what a router needs to deliver and store it.
struct ClusterEvent {
  std::string realm;
  std::vector<std::string> uri;   // topic parts
  Json data = nullptr;            // FOX body (fox/body.hpp): {kv} / {args, kwargs} / {payload}
  Json opt = Json::object();      // publication options (retain, when, will, headers ...)
  Id sid = 0;                     // publisher session (0: not disclosed)
  Id id = 0;                      // the permanent id, 0 until the segment is elected
  bool operator==(const ClusterEvent&) const = default;
};

struct InitEntry { std::string entry; bool operator==(const InitEntry&) const = default; };
struct InitEntryAccepted {
  std::string sync, entry;
  std::uint64_t last_segment = 0;   // the owner's last segment the sync group gave ids to
  Id head = 0;                      // the highest id the sync group gave out (as this sync knows)
  bool operator==(const InitEntryAccepted&) const = default;
};
struct BeginAdvanceSegment {
  std::string owner;
  std::uint64_t segment = 0;
  bool operator==(const BeginAdvanceSegment&) const = default;
};
struct KeepAdvanceHistory {
  std::string owner;
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;   // 1-based
  ClusterEvent event;
  bool operator==(const KeepAdvanceHistory&) const = default;
};
struct TrimAdvanceSegment {
  std::string ndb, owner;
  std::uint64_t segment = 0, count = 0;
  bool operator==(const TrimAdvanceSegment&) const = default;
};
struct AdvanceSegmentOver {
  std::string owner;
  std::uint64_t segment = 0, count = 0;
  std::string digest;   // segment_digest() of its events, in offset order
  bool operator==(const AdvanceSegmentOver&) const = default;
};
struct GenerateDraft {
  std::string ndb, owner;
  std::uint64_t segment = 0, count = 0;
  std::string digest;
  bool operator==(const GenerateDraft&) const = default;
};
struct ElectSegment {
  std::string owner;
  std::uint64_t segment = 0;
  Id first = 0;
  std::uint64_t count = 0;
  bool operator==(const ElectSegment&) const = default;
};
struct AdvanceSegmentResolved {
  std::string ndb, owner;
  std::uint64_t segment = 0;
  Id first = 0;
  std::uint64_t count = 0;
  bool operator==(const AdvanceSegmentResolved&) const = default;
};
struct FetchHistory {
  Id from = 0, upto = 0;
  bool operator==(const FetchHistory&) const = default;
};
struct History {
  Id from = 0, upto = 0;
  std::vector<ClusterEvent> events;   // ids within from..upto, increasing
  bool operator==(const History&) const = default;
};

using Message = std::variant<InitEntry, InitEntryAccepted, BeginAdvanceSegment, KeepAdvanceHistory,
                             TrimAdvanceSegment, AdvanceSegmentOver, GenerateDraft, ElectSegment,
                             AdvanceSegmentResolved, FetchHistory, History>;

// The message's ft (its name above).
const char* message_name(const Message& message);
Json encode(const Message& message);
// False with *error for a map that is not one of the messages, a missing or mistyped field, an
// offset of 0, a range past 2^53, events out of order.
bool decode(const Json& map, Message* out, std::string* error);
// The same, consuming the map (event data and options are moved out, not copied).
bool decode(Json&& map, Message* out, std::string* error);

// One event as a map {realm, uri, data, opt, sid[, id]} (the `event` of KEEP_ADVANCE_HISTORY,
// also how an ndb stores it), and back; false with *error for anything malformed.
Json event_to_json(const ClusterEvent& event, bool with_id);
bool event_from_json(const Json& map, ClusterEvent* out, std::string* error);

// The event's canonical encoding (MessagePack of event_to_json(event, false)): what the digest
// folds, and what an ndb stores.
std::string event_bytes(const ClusterEvent& event);

// About the bytes the event takes on a link or on disk (strings, bytes and a few per value):
// cheap, for bounds (an entry's unresolved bytes, a HISTORY reply's size), not exact.
std::size_t approx_size(const ClusterEvent& event);

// A segment's digest: SHA-256 (first 16 bytes) over the events' canonical encodings in offset
// order, so every ndb knows exactly what the segment holds. Incremental: fold event by event.
class SegmentDigest {
public:
  SegmentDigest();
  ~SegmentDigest();
  SegmentDigest(const SegmentDigest&) = delete;
  SegmentDigest& operator=(const SegmentDigest&) = delete;
  void add(const ClusterEvent& event);
  void add_encoded(std::string_view event_bytes);   // what event_bytes() gives
  std::string value() const;   // 16 bytes

private:
  struct State;
  State* state_;
};

}  // namespace fox::cluster
