// The entry role (SPEC §9, the seed's advance stage): the node its clients publish to. It groups
// publications into advance segments (owner = this entry, segment n, offsets 1..count), sends
// them to every ndb (BEGIN_ADVANCE_SEGMENT, KEEP_ADVANCE_HISTORY), closes a segment once a
// storage quorum of ndbs TRIMmed all of it (ADVANCE_SEGMENT_OVER with count and digest), and
// acknowledges its publishers only when an ndb says the segment has its ids
// (ADVANCE_SEGMENT_RESOLVED); it goes on sending the segment until a storage quorum of ndbs
// committed it, so an ndb that lost the close in a crash still commits what it stored. It delivers every committed event of the cluster (ndbs push them
// as HISTORY) to its local subscribers in permanent-id order without gaps, fetching a missing
// range from an ndb (FETCH_HISTORY). It serves only after a sync quorum accepted it
// (INIT_ENTRY_ACCEPTED, which also gives its last segment after a restart).
//
// A message-driven state machine with no I/O of its own: messages in through on_message(),
// time through on_tick(now), out through EntryOutbox, publications and deliveries through
// publish() / EntrySink.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cluster/messages.hpp"

namespace fox::cluster {

struct EntryConfig {
  std::string name;
  std::vector<std::string> ndbs, syncs;
  int sync_quorum = 1;
  int storage_quorum = 1;
  std::uint64_t retransmit_ms = 200;   // a segment not resolved, a gap not filled: send again
  std::size_t max_segment_events = 1000;
  std::size_t max_segments_in_flight = 64;   // closed, not resolved (sync_fsm's contract)
  std::size_t max_unresolved_events = 100000;  // beyond: publish() says no (backpressure)
  std::size_t max_unresolved_bytes = 64u << 20;  // ... and their bytes (approx_size)
  Id delivered = 0;                    // the last id already delivered (a restart), 0 = none
  // The lowest segment number this incarnation may use (a node: from its clock, see
  // Entry::segment_base); numbering also starts at least restart_gap() above the last segment
  // the sync group gave ids to, so a restarted entry never reuses a number its previous
  // incarnation began but never had elected.
  std::uint64_t first_segment = 0;
  // A new or restarted entry starts delivering at the sync group's head (INIT_ENTRY_ACCEPTED):
  // what came before is history, of which the last `backfill` ids are fetched (not live).
  Id backfill = 10000;
};

class EntryOutbox {
public:
  virtual ~EntryOutbox() = default;
  virtual void to_ndb(const std::string& ndb, const Message& message) = 0;
  // The same message to each of them (a node encodes it once).
  virtual void to_ndbs(const std::vector<std::string>& ndbs, const Message& message) {
    for (const std::string& n : ndbs) to_ndb(n, message);
  }
  virtual void to_sync(const std::string& sync, const Message& message) = 0;
};

class EntrySink {
public:
  virtual ~EntrySink() = default;
  virtual void ready() = 0;                                      // may serve clients now
  virtual void acknowledged(std::uint64_t ticket, Id id) = 0;    // the publication's id
  // In id order, no gaps. live = false: an event from before this entry served (at most
  // EntryConfig::backfill of them, for `after` replays): kept, not sent to subscribers.
  virtual void deliver(const ClusterEvent& event, bool live) = 0;
};

class Entry {
public:
  // Committed events held ahead of a gap, at most (ids delivered_ + 1 .. + kMaxWaiting).
  static constexpr Id kMaxWaiting = 100000;

  Entry(EntryConfig config, EntryOutbox& out, EntrySink& sink);

  // Segment numbers above any of a previous incarnation: (milliseconds since 2024) × 2^10. An
  // incarnation would need more than 1024 segments a millisecond to reach its successor's base.
  // restart_gap() covers a clock that stepped back only when the previous life had something
  // elected (sim seed 13: with nothing elected, both lives start at the same number).
  static std::uint64_t segment_base(std::uint64_t unix_ms);
  // Above the last elected segment, a previous incarnation began at most this many: the closed
  // ones in flight, the full ones waiting to close (max_unresolved_events of them in all), and
  // the open one.
  std::uint64_t restart_gap() const {
    return config_.max_segments_in_flight +
           config_.max_unresolved_events / std::max<std::size_t>(config_.max_segment_events, 1) + 2;
  }

  // INIT_ENTRY to every sync (again on every tick until a quorum accepted).
  void start(std::uint64_t now_ms);
  bool ready() const { return ready_; }
  // One publication; `ticket` comes back in acknowledged(). False before ready(), or while
  // max_unresolved_events wait for their ids.
  bool publish(ClusterEvent event, std::uint64_t ticket);
  // One message from node `from`. False (with *error) for one that makes no sense here.
  bool on_message(const std::string& from, const Message& message, std::string* error);
  // Retransmissions, INIT retries, gap fetches.
  void on_tick(std::uint64_t now_ms);

  Id delivered() const { return delivered_; }
  // The highest id the sync quorum that accepted this entry had given out: once delivered() is
  // there, the entry has applied everything that came before it served.
  Id head() const { return head_; }
  std::size_t unresolved() const { return segments_.size(); }
  // One line per unresolved segment (logs, the simulation's failure reports).
  std::string describe() const;

private:
  struct Segment {
    std::vector<ClusterEvent> events;
    std::vector<std::uint64_t> tickets;
    std::size_t bytes = 0;                     // approx_size of the events
    std::map<std::string, std::uint64_t> trimmed;   // ndb → count it stored durably
    bool closed = false;
    bool acked = false;                        // the first RESOLVED came: publishers answered
    std::set<std::string> resolved_by;         // ndbs that committed it
    std::string digest;
    std::uint64_t sent_ms = 0;      // last (re)transmission
    // When it opened, for /metrics' segment latency only (a real clock; nothing decides on it).
    std::chrono::steady_clock::time_point opened_at = std::chrono::steady_clock::now();
  };

  void open_segment();
  void maybe_close(std::uint64_t number, Segment& s);
  void resend(std::uint64_t number, Segment& s);
  void accept_history(const History& h);
  void deliver_ready();
  void catch_up();   // fetches the next ids up to the head while behind it

  EntryConfig config_;
  EntryOutbox& out_;
  EntrySink& sink_;
  std::uint64_t now_ = 0;
  bool ready_ = false;
  std::set<std::string> accepted_by_;
  std::uint64_t last_segment_ = 0;        // the highest segment number used or reported
  std::uint64_t open_ = 0;                // the open segment's number, 0 = none
  std::map<std::uint64_t, Segment> segments_;   // unresolved, by number
  Id delivered_ = 0;
  Id head_ = 0;                           // ids up to it came before this entry served
  std::map<Id, ClusterEvent> waiting_;    // committed events past delivered_ + 1
  std::uint64_t gap_since_ = 0;           // when waiting_ started to have a gap, 0 = none
  std::uint64_t probed_ms_ = 0;           // last look for committed events past delivered_
  std::size_t unresolved_events_ = 0;
  std::size_t unresolved_bytes_ = 0;
  std::size_t next_fetch_ = 0;            // round robin over ndbs
};

}  // namespace fox::cluster
