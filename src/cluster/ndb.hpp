// The ndb role (SPEC §9, the seed's storage stage): it keeps the events of every entry's advance
// segments, durably, before it says so (TRIM_ADVANCE_SEGMENT); once an entry closes a segment
// (ADVANCE_SEGMENT_OVER with count and digest) and the ndb holds exactly that, it asks the sync
// group for the segment's ids (GENERATE_DRAFT); when the group answers (ELECT_SEGMENT) it commits
// the events to the permanent history with ids first + offset − 1 and tells the entry
// (ADVANCE_SEGMENT_RESOLVED). It serves ranges of that history (FETCH_HISTORY → HISTORY).
//
// A message-driven state machine with no I/O of its own: messages come in through on_message(),
// go out through NdbOutbox, storage is NdbStorage (SQLite in a node, memory in tests and the
// simulation). Every input is idempotent: entries retransmit, links duplicate.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/messages.hpp"

namespace fox::cluster {

class NdbStorage {
public:
  virtual ~NdbStorage() = default;
  // Buffers one event of a segment (not yet in the history).
  virtual void keep(const std::string& owner, std::uint64_t segment, std::uint64_t offset,
                    const ClusterEvent& event) = 0;
  // The same, with the event's event_bytes() already made (the ndb made them for the digest).
  virtual void keep_encoded(const std::string& owner, std::uint64_t segment, std::uint64_t offset,
                            const ClusterEvent& event, const std::string& /*bytes*/) {
    keep(owner, segment, offset, event);
  }
  // Moves the segment's kept events into the history with ids first + offset − 1, and records
  // the segment as committed (committed_segments()).
  virtual void commit(const std::string& owner, std::uint64_t segment, Id first) = 0;
  // `done` once everything above is durable (a node: its SQLite commit).
  virtual void sync(std::function<void()> done) = 0;
  // History events with ids in from..upto, increasing, at most `max`.
  virtual std::vector<ClusterEvent> history(Id from, Id upto, std::size_t max) const = 0;
  // Events of the history this ndb missed, as a peer ndb holds them (each with its id): stored
  // as they are, an id held already is left alone.
  virtual void put_history(const std::vector<ClusterEvent>& events) = 0;
  // The highest id c >= from − 1 such that the history holds every id in from..c.
  virtual Id contiguous(Id from) const = 0;
  // A segment whose events the history got from a peer: recorded as committed (first, count),
  // its kept events (a part this ndb had) dropped.
  virtual void mark_committed(const std::string& owner, std::uint64_t segment, Id first,
                              std::uint64_t count) = 0;
  // A segment its entry abandoned (it died before closing it): its kept events go.
  virtual void forget(const std::string& owner, std::uint64_t segment) = 0;
  // The entry's close of a segment (ADVANCE_SEGMENT_OVER), kept until the segment is committed
  // or forgotten: after a restart the ndb can draft it again even when its entry is dead.
  virtual void record_close(const std::string& owner, std::uint64_t segment, std::uint64_t count,
                            const std::string& digest) = 0;
  struct ClosedSegment {
    std::string owner;
    std::uint64_t segment = 0, count = 0;
    std::string digest;
  };
  virtual std::vector<ClosedSegment> closed_segments() const = 0;
  // After a restart: the segments kept and not committed, each with its events from offset 1
  // on (what was durable; a suffix lost in the crash is sent again by its entry).
  struct KeptSegment {
    std::string owner;
    std::uint64_t segment = 0;
    std::vector<ClusterEvent> events;
  };
  virtual std::vector<KeptSegment> kept_segments() const = 0;
  // ... and the segments it committed (so a repeated close or ELECT is answered again).
  struct CommittedSegment {
    std::string owner;
    std::uint64_t segment = 0;
    Id first = 0;
    std::uint64_t count = 0;
  };
  virtual std::vector<CommittedSegment> committed_segments() const = 0;
};

class NdbOutbox {
public:
  virtual ~NdbOutbox() = default;
  virtual void to_entry(const std::string& entry, const Message& message) = 0;
  // Every entry: the committed events of a segment (HISTORY), for their subscribers.
  virtual void to_entries(const Message& message) = 0;
  virtual void to_syncs(const Message& message) = 0;
  virtual void reply(const std::string& node, const Message& message) = 0;
};

class Ndb {
public:
  // At most this many events of one segment are held out of order waiting for a gap.
  static constexpr std::size_t kMaxHeldPerSegment = 1024;
  static constexpr std::size_t kMaxHistoryReply = 1000;
  // ... and about this many bytes (approx_size; at least one event): a HISTORY stays well under
  // a node link's message limit whatever the events hold.
  static constexpr std::size_t kMaxHistoryBytes = 4u << 20;
  // Kept events held in memory for the push, at most (approx_size), over all segments.
  static constexpr std::size_t kMaxCachedBytes = 8u << 20;
  // Uncommitted segments of one owner (an entry keeps at most 64 closed ones in flight).
  static constexpr std::size_t kMaxOpenSegmentsPerOwner = 256;
  // A segment not closed here (no OVER) this far below a new segment of its owner was probably
  // abandoned: its entry died and a new incarnation numbers far above (Entry::restart_gap,
  // segment_base), while a live entry never leaves one unclosed more than restart_gap() (~170)
  // below its newest. It goes dormant — no longer one of the owner's open segments, its events
  // kept, since another ndb may have had the close and drafted it (an ELECT then commits it
  // here; sim seed 148 lost ids when such events were deleted). Beyond kMaxDormantPerOwner the
  // oldest dormant ones are forgotten.
  static constexpr std::uint64_t kAbandonedBelow = 1024;
  static constexpr std::size_t kMaxDormantPerOwner = 1024;

  // Recovers the segments the storage kept (a restart).
  Ndb(std::string name, NdbStorage& storage, NdbOutbox& out);
  // The entries of the cluster file: segments of other owners are refused, and BEGIN, KEEP and
  // OVER only come from their owner. Empty: any (unit tests).
  void accept_only(std::set<std::string> entries) { entries_ = std::move(entries); }
  // The other ndbs, which it catches up from: the ids it knows exist (ELECTs, what peers hold)
  // and does not hold are fetched (FETCH_HISTORY → HISTORY) from them in turn.
  void set_peers(std::vector<std::string> peers) { peers_ = std::move(peers); }
  // Catch-up: a missing range is asked for again every retry_ms; with nothing known to be
  // missing, the next peer is asked what lies beyond every probe_ms.
  void on_tick(std::uint64_t now_ms);
  static constexpr std::uint64_t kRetryMs = 200;
  static constexpr std::uint64_t kProbeMs = 1000;
  // A draft with no ELECT after this long is sent again (the ELECT was lost and the entry that
  // would resend its close may be dead: the sync group answers a repeated draft with the range).
  static constexpr std::uint64_t kRedraftMs = 1000;
  // Every id up to this one is held (tests, metrics).
  Id contiguous() const { return contiguous_; }

  // One message from node `from`. False (with *error) for one that makes no sense here; the
  // caller logs it, nothing changes.
  bool on_message(const std::string& from, const Message& message, std::string* error);

  // What it knows of a segment (tests, metrics).
  struct SegmentState {
    std::uint64_t kept = 0;            // offsets 1..kept are kept (in storage)
    std::uint64_t durable = 0;         // offsets 1..durable are durable (TRIMmed)
    std::optional<std::uint64_t> count;   // from ADVANCE_SEGMENT_OVER
    std::string digest;                // of offsets 1..kept
    bool drafted = false;              // GENERATE_DRAFT sent
    Id first = 0;                      // from ELECT_SEGMENT
    bool committed = false;            // commit() called
    bool resolved = false;             // ... and durable: RESOLVED may be said
  };
  const SegmentState* segment(const std::string& owner, std::uint64_t segment) const;

private:
  struct Segment {
    SegmentState state;
    SegmentDigest digest;
    std::map<std::uint64_t, ClusterEvent> held;   // offsets past kept + 1
    std::string expected_digest;
    std::uint64_t drafted_ms = 0;   // when GENERATE_DRAFT was last sent
    // The kept events, in offset order, while they fit the cache (then the HISTORY push after
    // the commit needs no read back from storage); cleared once pushed.
    std::vector<ClusterEvent> events;
    bool cached = true;
    std::size_t cached_bytes = 0;
    bool dormant = false;           // abandoned, probably (kAbandonedBelow)
  };
  using Key = std::pair<std::string, std::uint64_t>;

  // nullptr: a new segment beyond kMaxOpenSegmentsPerOwner.
  Segment* open(const std::string& owner, std::uint64_t segment);
  void keep(const KeepAdvanceHistory& m);
  void over(const AdvanceSegmentOver& m, std::string* error);
  void elect(const ElectSegment& m);
  void maybe_draft(const Key& key, Segment& s);
  void maybe_commit(const Key& key, Segment& s);
  void trim_after_sync(const Key& key);
  void cache(Segment& s, const ClusterEvent& event);
  void keep_one(const Key& key, Segment& s, std::uint64_t offset, const ClusterEvent& event);
  void uncache(Segment& s);
  // The events in pieces of at most kMaxHistoryBytes, each a HISTORY of the ids it holds.
  static std::vector<History> pieces(Id from, Id upto, std::vector<ClusterEvent> events);
  void caught_up(const std::string& from, const History& h);
  void advance_contiguous();
  void fetch_from_peer(Id upto);

  std::string name_;
  NdbStorage& storage_;
  NdbOutbox& out_;
  std::map<Key, std::unique_ptr<Segment>> segments_;
  std::set<std::string> entries_;
  std::map<std::string, std::uint64_t> floor_;   // owner → highest committed segment forgotten
  std::vector<std::string> peers_;
  Id contiguous_ = 0;        // every id up to it is in the history
  Id known_ = 0;             // the highest id it knows the cluster has
  std::uint64_t now_ = 0, fetched_ms_ = 0, probed_ms_ = 0;
  bool fetching_ = false;    // a FETCH_HISTORY for a known gap is out
  std::size_t next_peer_ = 0;
  std::size_t cached_bytes_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace fox::cluster
