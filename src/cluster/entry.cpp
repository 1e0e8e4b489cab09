#include "cluster/entry.hpp"

#include <algorithm>

#include "core/metrics.hpp"

namespace fox::cluster {

Entry::Entry(EntryConfig config, EntryOutbox& out, EntrySink& sink)
    : config_(std::move(config)), out_(out), sink_(sink), delivered_(config_.delivered) {}

std::string Entry::describe() const {
  std::string out;
  for (const auto& [number, s] : segments_) {
    out += "segment " + std::to_string(number) + ": " + std::to_string(s.events.size()) +
           " events, " + (s.closed ? "closed" : "open") + (s.acked ? ", acked" : "") + ", trimmed";
    for (const auto& [n, c] : s.trimmed) out += " " + n + ":" + std::to_string(c);
    out += ", resolved by";
    for (const std::string& n : s.resolved_by) out += " " + n;
    out += "\n";
  }
  return out;
}

std::uint64_t Entry::segment_base(std::uint64_t unix_ms) {
  constexpr std::uint64_t k2024 = 1704067200000;
  return (unix_ms > k2024 ? unix_ms - k2024 : 0) << 10;
}

void Entry::start(std::uint64_t now_ms) {
  now_ = now_ms;
  for (const std::string& s : config_.syncs) out_.to_sync(s, InitEntry{config_.name});
}

bool Entry::publish(ClusterEvent event, std::uint64_t ticket) {
  if (!ready_ || unresolved_events_ >= config_.max_unresolved_events) return false;
  const std::size_t bytes = approx_size(event);
  if (unresolved_events_ > 0 && unresolved_bytes_ + bytes > config_.max_unresolved_bytes) return false;
  if (open_ == 0) open_segment();
  ++unresolved_events_;
  unresolved_bytes_ += bytes;
  Segment& s = segments_[open_];
  s.bytes += bytes;
  event.id = 0;
  s.events.push_back(std::move(event));
  s.tickets.push_back(ticket);
  const std::uint64_t offset = s.events.size();
  out_.to_ndbs(config_.ndbs, KeepAdvanceHistory{config_.name, open_, offset, s.events.back()});
  s.sent_ms = now_;
  if (s.events.size() >= config_.max_segment_events) {
    // Full: the next publication opens the next segment; this one closes on its quorum.
    const std::uint64_t number = open_;
    open_ = 0;
    maybe_close(number, s);
  }
  return true;
}

void Entry::open_segment() {
  open_ = ++last_segment_;
  Segment& s = segments_[open_];
  s.sent_ms = now_;
  out_.to_ndbs(config_.ndbs, BeginAdvanceSegment{config_.name, open_});
}

void Entry::maybe_close(std::uint64_t number, Segment& s) {
  if (s.closed || s.events.empty()) return;
  // One segment at a time gets its ids: a segment closes only once every earlier one has them,
  // so the sync group (which does not order an owner's segments) gives a later segment later
  // ids, and the events of one entry keep the order they were published in (MQTT and WAMP
  // promise that per publisher).
  for (auto it = segments_.begin(); it != segments_.end() && it->first < number; ++it) {
    if (!it->second.acked) return;
  }
  const std::uint64_t count = s.events.size();
  const auto stored = std::count_if(s.trimmed.begin(), s.trimmed.end(),
                                    [count](const auto& t) { return t.second >= count; });
  if (stored < config_.storage_quorum) return;
  // Only so many closed segments wait for their ids at once (the sync state keeps 256 per owner).
  const auto closed = std::count_if(segments_.begin(), segments_.end(),
                                    [](const auto& x) { return x.second.closed; });
  if (static_cast<std::size_t>(closed) >= config_.max_segments_in_flight) return;
  s.closed = true;
  if (open_ == number) open_ = 0;
  SegmentDigest d;
  for (const ClusterEvent& e : s.events) d.add(e);
  s.digest = d.value();
  s.sent_ms = now_;
  out_.to_ndbs(config_.ndbs, AdvanceSegmentOver{config_.name, number, count, s.digest});
}

void Entry::resend(std::uint64_t number, Segment& s) {
  s.sent_ms = now_;
  const std::uint64_t count = s.events.size();
  for (const std::string& n : config_.ndbs) {
    if (s.resolved_by.count(n)) continue;   // committed it
    auto t = s.trimmed.find(n);
    const std::uint64_t have = t == s.trimmed.end() ? 0 : t->second;
    if (have == 0 && count > 0) out_.to_ndb(n, BeginAdvanceSegment{config_.name, number});
    for (std::uint64_t o = have + 1; o <= count; ++o) {
      out_.to_ndb(n, KeepAdvanceHistory{config_.name, number, o, s.events[o - 1]});
    }
    if (s.closed) out_.to_ndb(n, AdvanceSegmentOver{config_.name, number, count, s.digest});
  }
}

bool Entry::on_message(const std::string& from, const Message& message, std::string* error) {
  if (const auto* m = std::get_if<InitEntryAccepted>(&message)) {
    if (m->entry != config_.name) {
      *error = "INIT_ENTRY_ACCEPTED for " + m->entry;
      return false;
    }
    // The sender counts, not what it says it is: one node is never a quorum by itself.
    if (std::find(config_.syncs.begin(), config_.syncs.end(), from) == config_.syncs.end()) {
      *error = "INIT_ENTRY_ACCEPTED from " + from + ", not a sync node";
      return false;
    }
    accepted_by_.insert(from);
    last_segment_ = std::max(last_segment_, m->last_segment);
    if (!ready_) head_ = std::max(head_, m->head);
    if (!ready_ && static_cast<int>(accepted_by_.size()) >= config_.sync_quorum) {
      last_segment_ = std::max(last_segment_ + restart_gap(), config_.first_segment);
      // Not everything from id 1 as live events: the history before the head is the last
      // `backfill` ids, fetched for replays only.
      if (head_ > config_.backfill && delivered_ < head_ - config_.backfill) {
        delivered_ = head_ - config_.backfill;
        waiting_.erase(waiting_.begin(), waiting_.upper_bound(delivered_));
      }
      ready_ = true;
      sink_.ready();
      deliver_ready();
      catch_up();
    }
    return true;
  }
  if (const auto* m = std::get_if<TrimAdvanceSegment>(&message)) {
    if (m->owner != config_.name) {
      *error = "TRIM_ADVANCE_SEGMENT for " + m->owner;
      return false;
    }
    auto it = segments_.find(m->segment);
    if (it == segments_.end()) return true;   // resolved already
    if (std::find(config_.ndbs.begin(), config_.ndbs.end(), from) == config_.ndbs.end()) {
      *error = "TRIM_ADVANCE_SEGMENT from " + from + ", not an ndb";
      return false;
    }
    std::uint64_t& t = it->second.trimmed[from];
    t = std::max(t, std::min<std::uint64_t>(m->count, it->second.events.size()));
    maybe_close(m->segment, it->second);
    return true;
  }
  if (const auto* m = std::get_if<AdvanceSegmentResolved>(&message)) {
    if (m->owner != config_.name) {
      *error = "ADVANCE_SEGMENT_RESOLVED for " + m->owner;
      return false;
    }
    auto it = segments_.find(m->segment);
    if (it == segments_.end()) return true;   // a storage quorum committed it already
    Segment& s = it->second;
    if (!s.closed || m->count != s.events.size()) {
      *error = "ADVANCE_SEGMENT_RESOLVED " + std::to_string(m->segment) + " with count " +
               std::to_string(m->count) + " for a segment of " + std::to_string(s.events.size());
      return false;
    }
    if (std::find(config_.ndbs.begin(), config_.ndbs.end(), from) == config_.ndbs.end()) {
      *error = "ADVANCE_SEGMENT_RESOLVED from " + from + ", not an ndb";
      return false;
    }
    s.resolved_by.insert(from);
    if (!s.acked) {
      s.acked = true;
      metrics::counters().cluster_segment.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - s.opened_at).count());
      unresolved_events_ -= s.tickets.size();
      unresolved_bytes_ -= s.bytes;
      const std::vector<std::uint64_t> tickets = std::move(s.tickets);
      for (std::size_t i = 0; i < tickets.size(); ++i) sink_.acknowledged(tickets[i], m->first + i);
    }
    if (static_cast<int>(s.resolved_by.size()) >= config_.storage_quorum) segments_.erase(m->segment);
    // The next segment may close now (it waited for this one's ids).
    for (auto& [number, next] : segments_) {
      if (next.closed) continue;
      maybe_close(number, next);
      break;
    }
    return true;
  }
  if (const auto* m = std::get_if<History>(&message)) {
    if (std::find(config_.ndbs.begin(), config_.ndbs.end(), from) == config_.ndbs.end()) {
      *error = "HISTORY from " + from + ", not an ndb";
      return false;
    }
    accept_history(*m);
    return true;
  }
  *error = std::string(message_name(message)) + " from " + from + " is not for an entry";
  return false;
}

void Entry::accept_history(const History& h) {
  const Id before = delivered_;
  for (const ClusterEvent& e : h.events) {
    // Bounded: what lies beyond the window is fetched again once delivery gets there.
    if (e.id > delivered_ && e.id <= delivered_ + kMaxWaiting) waiting_.emplace(e.id, e);
  }
  deliver_ready();
  if (delivered_ > before) catch_up();   // no progress: the tick asks again, not a ping-pong
}

// Catching up to the head (a restarted entry applies the history from id 1 before it serves):
// the next range is fetched as soon as the last one is delivered, not at the tick's pace.
void Entry::catch_up() {
  if (!ready_ || delivered_ >= head_ || !waiting_.empty() || config_.ndbs.empty()) return;
  probed_ms_ = now_;
  const Id upto = std::min<Id>(head_, delivered_ + 1000);
  out_.to_ndb(config_.ndbs[next_fetch_++ % config_.ndbs.size()], FetchHistory{delivered_ + 1, upto});
}

void Entry::deliver_ready() {
  // Nothing before the head is known (INIT_ENTRY_ACCEPTED from a quorum): what comes meanwhile
  // waits, bounded.
  while (ready_ && !waiting_.empty() && waiting_.begin()->first == delivered_ + 1) {
    ClusterEvent e = std::move(waiting_.begin()->second);
    waiting_.erase(waiting_.begin());
    ++delivered_;
    sink_.deliver(e, e.id > head_);
  }
  // Anything left waits behind a gap.
  if (waiting_.empty()) gap_since_ = 0;
  else if (gap_since_ == 0) gap_since_ = now_ + 1;   // + 1: 0 means none
}

void Entry::on_tick(std::uint64_t now_ms) {
  now_ = now_ms;
  if (!ready_) {
    for (const std::string& s : config_.syncs) {
      if (!accepted_by_.count(s)) out_.to_sync(s, InitEntry{config_.name});
    }
    return;
  }
  for (auto& [number, s] : segments_) {
    if (now_ >= s.sent_ms + config_.retransmit_ms) resend(number, s);
    // A segment full or waiting for room among the in-flight ones may close now.
    if (!s.closed && number != open_) maybe_close(number, s);
  }
  // The open segment closes as soon as its quorum has it all (maybe_close on TRIM); a gap in
  // the committed history is fetched from the next ndb in turn.
  if (gap_since_ != 0 && now_ + 1 >= gap_since_ + config_.retransmit_ms && !config_.ndbs.empty()) {
    const Id upto = waiting_.begin()->first - 1;
    out_.to_ndb(config_.ndbs[next_fetch_++ % config_.ndbs.size()], FetchHistory{delivered_ + 1, upto});
    gap_since_ = now_ + 1;
  } else if (gap_since_ == 0 && delivered_ < head_ && now_ >= probed_ms_ + config_.retransmit_ms) {
    catch_up();   // a fetch (or its answer) was lost
  } else if (gap_since_ == 0 && now_ >= probed_ms_ + 5 * config_.retransmit_ms &&
             !config_.ndbs.empty()) {
    // No gap seen, but the pushes of the latest segments may all have been lost: look.
    probed_ms_ = now_;
    out_.to_ndb(config_.ndbs[next_fetch_++ % config_.ndbs.size()],
                FetchHistory{delivered_ + 1, delivered_ + 1000});
  }
}

}  // namespace fox::cluster
