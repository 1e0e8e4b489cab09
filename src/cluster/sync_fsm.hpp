// The sync group's replicated state machine: it turns a resolved advance segment of an entry
// into a range of the cluster-wide event id counter (SPEC §9, "ELECT_SEGMENT"). Raft replicates
// the commands (raft_sync_fsm.hpp binds this class to `struct raft_fsm`); every sync node applies
// the same commands in the same order, so every node gives a segment the same range.
//
// Pure: no I/O, no clock, no randomness; every input is checked (a command or a snapshot comes
// from the raft log, the disk or the network), a corrupt one is refused, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace fox::cluster {

// Event ids are integers in [1, 2^53] (SPEC §9).
inline constexpr std::uint64_t kMaxEventId = std::uint64_t{1} << 53;
// An owner is the name of an entry node (the cluster file's node name): 1..64 bytes, no control
// characters.
inline constexpr std::size_t kMaxOwnerBytes = 64;
// Owners the state remembers. A new owner beyond this is refused (owners are never forgotten:
// forgetting one would let a late duplicate of its segment take a second range).
inline constexpr std::size_t kMaxOwners = 256;
// Per owner, the ranges of the kKeepSegments highest-numbered segments are kept; lower ones are
// pruned and the owner's `floor` rises to the highest pruned segment. A request for a segment at
// or below the floor that the state no longer holds is answered `stale`: never a second range.
inline constexpr std::size_t kKeepSegments = 256;
// The entry role's contract, which makes that pruning harmless: an entry numbers its segments
// 1, 2, 3, ... (continuing after a restart) and begins segment n only when every segment up to
// n - kMaxSegmentsInFlight is resolved or abandoned. A segment still waiting for its range is
// then always above the floor.
inline constexpr std::size_t kMaxSegmentsInFlight = 64;
static_assert(kMaxSegmentsInFlight < kKeepSegments);
// Requests in one command (one raft entry): the leader may batch the segments resolved in one
// turn.
inline constexpr std::size_t kMaxBatch = 1024;

// A request to give an entry's segment its range of ids (GENERATE_DRAFT, decided). `count` is
// the number of events of the segment (ADVANCE_SEGMENT_OVER), 1..2^32-1; `segment` >= 1.
struct SegmentRequest {
  std::string owner;
  std::uint64_t segment = 0;
  std::uint32_t count = 0;
  bool operator==(const SegmentRequest&) const = default;
};

// Ids [first, first + count).
struct IdRange {
  std::uint64_t first = 0;
  std::uint32_t count = 0;
  bool operator==(const IdRange&) const = default;
};

enum class AssignStatus : std::uint8_t {
  assigned,     // a new range: `range`
  duplicate,    // the segment had its range already (same count): `range` is that range
  conflict,     // the segment had its range already with another count: `range` is that range,
                // nothing changed (a bug or a corrupt peer: the caller logs it)
  stale,        // the segment is at or below its owner's floor and pruned: no range, ever
  exhausted,    // the range would pass kMaxEventId: no range
  owners_full,  // a new owner beyond kMaxOwners: no range
  invalid,      // the request fails valid_request (a decoded command never holds one)
};
const char* to_string(AssignStatus status);

struct AssignResult {
  AssignStatus status = AssignStatus::stale;
  IdRange range;  // for assigned, duplicate, conflict
  bool operator==(const AssignResult&) const = default;
};

// Commands: fixed little-endian binary (see README.md for the layout and why not MessagePack).
// encode_command needs 1..kMaxBatch valid requests (see valid_request) and returns {} otherwise.
std::vector<std::uint8_t> encode_command(std::span<const SegmentRequest> requests);
// nullopt for anything that encode_command cannot produce.
std::optional<std::vector<SegmentRequest>> decode_command(std::span<const std::uint8_t> bytes);
bool valid_request(const SegmentRequest& request);

class SyncState {
 public:
  // One request; deterministic in the state and the request alone.
  AssignResult assign(const SegmentRequest& request);
  // Decodes a command and assigns its requests in order; nullopt (state unchanged) when the
  // command is malformed.
  std::optional<std::vector<AssignResult>> apply(std::span<const std::uint8_t> command);

  // The first id the next new range starts at (1 when nothing was assigned).
  std::uint64_t next_id() const { return next_id_; }
  // The range a segment was given, if the state still holds it.
  std::optional<IdRange> range_of(const std::string& owner, std::uint64_t segment) const;
  // The highest segment of the owner the state knows (assigned or pruned); 0 for an unknown
  // owner. A restarted entry continues above it (INIT_ENTRY_ACCEPTED).
  std::uint64_t last_segment(const std::string& owner) const;
  // Segments at or below it are pruned (0: none).
  std::uint64_t floor(const std::string& owner) const;
  std::size_t owners() const { return owners_.size(); }
  std::size_t segments() const;

  // The whole state (canonical: equal states give equal bytes); restore() of it gives back an
  // equal state. restore() is all or nothing: false (state unchanged) for anything snapshot()
  // cannot produce, including a flipped bit (checksum).
  std::vector<std::uint8_t> snapshot() const;
  bool restore(std::span<const std::uint8_t> bytes);

  bool operator==(const SyncState&) const = default;

 private:
  struct Owner {
    std::uint64_t floor = 0;
    std::map<std::uint64_t, IdRange> segments;  // segment → range, all above floor
    bool operator==(const Owner&) const = default;
  };
  std::uint64_t next_id_ = 1;
  std::map<std::string, Owner> owners_;
};

}  // namespace fox::cluster
