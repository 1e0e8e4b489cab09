#include "cluster/ndb.hpp"

#include <algorithm>

namespace fox::cluster {
namespace {
// Committed segments remembered per owner (to answer a repeated ELECT again), oldest dropped.
constexpr std::size_t kCommittedPerOwner = 256;
}  // namespace

Ndb::Ndb(std::string name, NdbStorage& storage, NdbOutbox& out)
    : name_(std::move(name)), storage_(storage), out_(out) {
  for (const NdbStorage::CommittedSegment& c : storage_.committed_segments()) {
    auto& slot = segments_[Key(c.owner, c.segment)];
    if (!slot) slot = std::make_unique<Segment>();
    Segment& s = *slot;
    s.state.kept = s.state.durable = c.count;
    s.state.count = c.count;
    s.state.first = c.first;
    s.state.drafted = s.state.committed = s.state.resolved = true;
  }
  for (const NdbStorage::KeptSegment& k : storage_.kept_segments()) {
    auto& slot = segments_[Key(k.owner, k.segment)];
    if (!slot) slot = std::make_unique<Segment>();
    Segment& s = *slot;
    for (const ClusterEvent& e : k.events) {
      s.digest.add(e);
      cache(s, e);
    }
    s.state.kept = s.state.durable = k.events.size();
    s.state.digest = s.digest.value();
  }
  for (const NdbStorage::ClosedSegment& c : storage_.closed_segments()) {
    auto it = segments_.find(Key(c.owner, c.segment));
    if (it == segments_.end() || it->second->state.committed) continue;
    it->second->state.count = c.count;
    it->second->expected_digest = c.digest;   // on_tick drafts it again
  }
  contiguous_ = storage_.contiguous(1);
  known_ = contiguous_;
}

const Ndb::SegmentState* Ndb::segment(const std::string& owner, std::uint64_t segment) const {
  auto it = segments_.find(Key(owner, segment));
  return it == segments_.end() ? nullptr : &it->second->state;
}

Ndb::Segment* Ndb::open(const std::string& owner, std::uint64_t segment) {
  auto found = segments_.find(Key(owner, segment));
  if (found != segments_.end()) {
    found->second->dormant = false;   // news of it: not abandoned after all
    return found->second.get();
  }
  // A segment this ndb committed and forgot (pruned) is not opened again by a late duplicate.
  if (auto f = floor_.find(owner); f != floor_.end() && segment <= f->second) return nullptr;
  std::size_t open = 0, dormant = 0;
  for (auto it = segments_.lower_bound(Key(owner, 0)); it != segments_.end() && it->first.first == owner; ++it) {
    Segment& s = *it->second;
    // What a dead incarnation of the owner left unclosed here goes dormant, or it would fill the
    // owner's open segments for good.
    if (!s.state.committed && !s.state.count && it->first.second + kAbandonedBelow < segment) {
      s.dormant = true;
    }
    open += !s.state.committed && !s.dormant;
    dormant += s.dormant;
  }
  for (auto it = segments_.lower_bound(Key(owner, 0));
       dormant > kMaxDormantPerOwner && it != segments_.end() && it->first.first == owner;) {
    if (it->second->dormant) {
      uncache(*it->second);
      storage_.forget(owner, it->first.second);
      it = segments_.erase(it);
      --dormant;
    } else {
      ++it;
    }
  }
  if (open >= kMaxOpenSegmentsPerOwner) return nullptr;
  auto& slot = segments_[Key(owner, segment)];
  slot = std::make_unique<Segment>();
  return slot.get();
}

bool Ndb::on_message(const std::string& from, const Message& message, std::string* error) {
  // Segments: of a configured entry, begun, kept and closed by that entry itself.
  const std::string* owner = nullptr;
  bool from_owner = false;
  if (const auto* m = std::get_if<BeginAdvanceSegment>(&message)) owner = &m->owner, from_owner = true;
  if (const auto* m = std::get_if<KeepAdvanceHistory>(&message)) owner = &m->owner, from_owner = true;
  if (const auto* m = std::get_if<AdvanceSegmentOver>(&message)) owner = &m->owner, from_owner = true;
  if (const auto* m = std::get_if<ElectSegment>(&message)) owner = &m->owner;
  if (owner && !entries_.empty() && (!entries_.count(*owner) || (from_owner && from != *owner))) {
    *error = std::string(message_name(message)) + " from " + from + " for owner " + *owner +
             ": not an entry of the cluster, or not its own";
    return false;
  }
  std::uint64_t number = 0;
  if (const auto* m = std::get_if<BeginAdvanceSegment>(&message)) number = m->segment;
  if (const auto* m = std::get_if<KeepAdvanceHistory>(&message)) number = m->segment;
  if (const auto* m = std::get_if<AdvanceSegmentOver>(&message)) number = m->segment;
  if (const auto* m = std::get_if<ElectSegment>(&message)) number = m->segment;
  if (owner && !open(*owner, number)) {
    *error = "segment " + std::to_string(number) + " of " + *owner +
             ": committed long ago, or too many open segments";
    return false;
  }
  if (std::get_if<BeginAdvanceSegment>(&message)) {
    // opened above
  } else if (const auto* m = std::get_if<KeepAdvanceHistory>(&message)) {
    keep(*m);
  } else if (const auto* m = std::get_if<AdvanceSegmentOver>(&message)) {
    over(*m, error);
    return error->empty();
  } else if (const auto* m = std::get_if<ElectSegment>(&message)) {
    elect(*m);
  } else if (const auto* m = std::get_if<FetchHistory>(&message)) {
    // One piece: what lies past it is fetched again from there.
    std::vector<History> h = pieces(m->from, m->upto, storage_.history(m->from, m->upto, kMaxHistoryReply));
    out_.reply(from, h.front());
  } else if (const auto* m = std::get_if<History>(&message)) {
    if (std::find(peers_.begin(), peers_.end(), from) == peers_.end()) {
      *error = "HISTORY from " + from + ", not a peer ndb";
      return false;
    }
    caught_up(from, *m);
  } else {
    *error = std::string(message_name(message)) + " is not for an ndb";
    return false;
  }
  return true;
}

std::vector<History> Ndb::pieces(Id from, Id upto, std::vector<ClusterEvent> events) {
  std::vector<History> out;
  std::size_t bytes = 0;
  for (ClusterEvent& e : events) {
    const std::size_t size = approx_size(e);
    if (!out.empty() && !out.back().events.empty() && bytes + size > kMaxHistoryBytes) {
      out.back().upto = out.back().events.back().id;
      bytes = 0;
      out.push_back(History{out.back().upto + 1, upto, {}});
    }
    if (out.empty()) out.push_back(History{from, upto, {}});
    bytes += size;
    out.back().events.push_back(std::move(e));
  }
  if (out.empty()) out.push_back(History{from, upto, {}});
  return out;
}

void Ndb::keep(const KeepAdvanceHistory& m) {
  const Key key(m.owner, m.segment);
  Segment& s = *open(m.owner, m.segment);   // on_message made sure it exists
  if (s.state.committed || m.offset <= s.state.kept) {
    // Kept already: the entry retransmits because our TRIM got lost; say it again.
    if (!s.state.committed) trim_after_sync(key);
    return;
  }
  if (m.offset > s.state.kept + 1) {
    if (s.held.size() < kMaxHeldPerSegment) s.held.emplace(m.offset, m.event);
    return;   // a gap: the entry retransmits what is missing
  }
  keep_one(key, s, m.offset, m.event);
  // What waited for this one.
  for (auto it = s.held.find(s.state.kept + 1); it != s.held.end() && it->first == s.state.kept + 1;
       it = s.held.find(s.state.kept + 1)) {
    keep_one(key, s, it->first, it->second);
    s.held.erase(it);
  }
  s.state.digest = s.digest.value();
  trim_after_sync(key);
  maybe_draft(key, s);
  maybe_commit(key, s);   // an ELECT that came before the last events
}

void Ndb::keep_one(const Key& key, Segment& s, std::uint64_t offset, const ClusterEvent& event) {
  const std::string bytes = event_bytes(event);   // once, for the digest and the storage
  storage_.keep_encoded(key.first, key.second, offset, event, bytes);
  s.digest.add_encoded(bytes);
  cache(s, event);
  ++s.state.kept;
}

void Ndb::cache(Segment& s, const ClusterEvent& event) {
  if (!s.cached) return;
  const std::size_t bytes = approx_size(event);
  if (cached_bytes_ + bytes > kMaxCachedBytes) {
    uncache(s);   // read back from storage at the push instead
    return;
  }
  s.events.push_back(event);
  s.cached_bytes += bytes;
  cached_bytes_ += bytes;
}

void Ndb::uncache(Segment& s) {
  cached_bytes_ -= s.cached_bytes;
  s.cached_bytes = 0;
  s.cached = false;
  s.events.clear();
  s.events.shrink_to_fit();
}

void Ndb::trim_after_sync(const Key& key) {
  // What is kept now is what this sync makes durable; later KEEPs wait for their own.
  auto now = segments_.find(key);
  const std::uint64_t upto = now == segments_.end() ? 0 : now->second->state.kept;
  storage_.sync([this, key, upto, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired()) return;
    auto it = segments_.find(key);
    if (it == segments_.end()) return;
    SegmentState& st = it->second->state;
    st.durable = std::max(st.durable, upto);
    out_.to_entry(key.first, TrimAdvanceSegment{name_, key.first, key.second, st.durable});
    maybe_draft(key, *it->second);
  });
}

void Ndb::over(const AdvanceSegmentOver& m, std::string* error) {
  const Key key(m.owner, m.segment);
  Segment& s = *open(m.owner, m.segment);   // on_message made sure it exists
  if (s.state.count && *s.state.count != m.count) {
    *error = "ADVANCE_SEGMENT_OVER " + m.owner + "/" + std::to_string(m.segment) + ": count " +
             std::to_string(m.count) + " after " + std::to_string(*s.state.count);
    return;
  }
  if (s.state.committed) {
    // The entry has not heard that this ndb committed it: say it again, once it is durable.
    if (s.state.resolved) {
      out_.to_entry(m.owner, AdvanceSegmentResolved{name_, m.owner, m.segment, s.state.first, m.count});
    }
    return;
  }
  if (!s.state.count) storage_.record_close(m.owner, m.segment, m.count, m.digest);
  s.state.count = m.count;
  s.expected_digest = m.digest;
  // A repeated close means the entry still waits: draft again (the ELECT may have been lost;
  // the sync group answers a repeated draft with the same range).
  s.state.drafted = false;
  maybe_draft(key, s);
}

void Ndb::maybe_draft(const Key& key, Segment& s) {
  if (s.state.drafted || !s.state.count || s.state.durable != *s.state.count ||
      s.state.kept != *s.state.count) {
    return;
  }
  if (s.state.digest != s.expected_digest && *s.state.count > 0) {
    // What this ndb holds is not what the entry closed: it asks for no ids (another ndb of the
    // storage quorum does); the entry's retransmission cannot repair a different event.
    return;
  }
  s.state.drafted = true;
  s.drafted_ms = now_;
  out_.to_syncs(GenerateDraft{name_, key.first, key.second, *s.state.count, s.expected_digest});
}

void Ndb::elect(const ElectSegment& m) {
  const Key key(m.owner, m.segment);
  Segment& s = *open(m.owner, m.segment);   // on_message made sure it exists
  if (s.state.first == 0) s.state.first = m.first;
  if (!s.state.count) s.state.count = m.count;
  if (m.count > 0) known_ = std::max(known_, m.first + m.count - 1);
  maybe_commit(key, s);
}

// Catch-up (SPEC §9: "a returning node catches up"): what a peer holds of a range this ndb
// lacks goes into its history as the peer has it — the ids were agreed by the sync group, the
// events stored by the entry's storage quorum; identical on every ndb (the simulation checks).
void Ndb::caught_up(const std::string& from, const History& h) {
  (void)from;
  fetching_ = false;
  std::vector<ClusterEvent> missing;
  for (const ClusterEvent& e : h.events) {
    if (e.id < h.from || e.id > h.upto || e.id <= contiguous_) continue;
    known_ = std::max(known_, e.id);
    missing.push_back(e);
  }
  if (missing.empty()) return;
  storage_.put_history(missing);
  storage_.sync([] {});
  advance_contiguous();
  // More behind it: ask again at once.
  if (known_ > contiguous_) fetch_from_peer(known_);
}

void Ndb::advance_contiguous() {
  const Id before = contiguous_;
  contiguous_ = storage_.contiguous(contiguous_ + 1);
  if (contiguous_ == before) return;
  // Segments whose ids the history now holds (this ndb missed their events): committed — the
  // history has them, kept rows of them are moved harmlessly (INSERT OR IGNORE) — so they are
  // not held open forever.
  for (auto& [key, s] : segments_) {
    if (s->state.committed || s->state.first == 0 || !s->state.count || *s->state.count == 0) continue;
    if (s->state.first + *s->state.count - 1 > contiguous_) continue;
    storage_.mark_committed(key.first, key.second, s->state.first, *s->state.count);
    uncache(*s);
    s->state.committed = true;
    s->state.kept = *s->state.count;
    s->held.clear();
    const Key k = key;
    // Durable (and said: a TRIM, a RESOLVED) only once the peer's events are on disk here.
    storage_.sync([this, k, alive = std::weak_ptr<bool>(alive_)] {
      if (alive.expired()) return;
      auto it = segments_.find(k);
      if (it == segments_.end()) return;
      it->second->state.durable = *it->second->state.count;
      it->second->state.resolved = true;
    });
  }
}

void Ndb::fetch_from_peer(Id upto) {
  if (peers_.empty()) return;
  const Id from = contiguous_ + 1;
  const Id to = std::min<Id>(upto, contiguous_ + kMaxHistoryReply);
  out_.reply(peers_[next_peer_++ % peers_.size()], FetchHistory{from, to});
  fetched_ms_ = probed_ms_ = now_;
  fetching_ = true;
}

void Ndb::on_tick(std::uint64_t now_ms) {
  now_ = now_ms;
  for (auto& [key, s] : segments_) {
    SegmentState& st = s->state;
    if (!st.drafted && st.count && !st.committed) maybe_draft(key, *s);   // recovered closes
    if (st.drafted && st.first == 0 && st.count && now_ >= s->drafted_ms + kRedraftMs) {
      s->drafted_ms = now_;
      out_.to_syncs(GenerateDraft{name_, key.first, key.second, *st.count, s->expected_digest});
    }
  }
  if (peers_.empty()) return;
  if (known_ > contiguous_) {
    if (!fetching_ || now_ >= fetched_ms_ + kRetryMs) fetch_from_peer(known_);
    return;
  }
  if (now_ >= probed_ms_ + kProbeMs) {
    // Nothing known to be missing; a peer may hold what this ndb never heard of (it was down).
    probed_ms_ = now_;
    fetch_from_peer(contiguous_ + kMaxHistoryReply);
  }
}

void Ndb::maybe_commit(const Key& key, Segment& s) {
  if (s.state.first == 0 || !s.state.count) return;
  if (s.state.committed) {
    // A repeated ELECT (several syncs tell every ndb): the entry may not have heard yet. Only
    // what is durable is said: a crash before the write must not leave an acknowledged event
    // on fewer ndbs than the entry counted.
    if (s.state.resolved) {
      out_.to_entry(key.first, AdvanceSegmentResolved{name_, key.first, key.second, s.state.first,
                                                      *s.state.count});
    }
    return;
  }
  if (s.state.kept != *s.state.count) return;   // the rest comes (or is fetched from a peer)
  storage_.commit(key.first, key.second, s.state.first);
  s.state.committed = true;
  s.held.clear();
  storage_.sync([this, key, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired()) return;
    auto it = segments_.find(key);
    if (it == segments_.end()) return;
    SegmentState& st = it->second->state;
    st.resolved = true;
    out_.to_entry(key.first, AdvanceSegmentResolved{name_, key.first, key.second, st.first, *st.count});
    if (*st.count > 0) {
      const Id last = st.first + *st.count - 1;
      Segment& seg = *it->second;
      std::vector<ClusterEvent> events;
      if (seg.cached && seg.events.size() == *st.count) {
        events = std::move(seg.events);
        for (std::size_t i = 0; i < events.size(); ++i) events[i].id = st.first + i;
      } else {
        events = storage_.history(st.first, last, *st.count);
      }
      uncache(seg);
      for (History& h : pieces(st.first, last, std::move(events))) out_.to_entries(h);
    }
  });
  // Bounded: the oldest committed segments of this owner are forgotten.
  std::size_t committed = 0;
  for (auto it = segments_.lower_bound(Key(key.first, 0));
       it != segments_.end() && it->first.first == key.first; ++it) {
    committed += it->second->state.committed;
  }
  for (auto it = segments_.lower_bound(Key(key.first, 0));
       committed > kCommittedPerOwner && it != segments_.end() && it->first.first == key.first;) {
    if (it->second->state.committed && it->first != key) {
      uncache(*it->second);
      floor_[key.first] = std::max(floor_[key.first], it->first.second);
      it = segments_.erase(it);
      --committed;
    } else {
      ++it;
    }
  }
  advance_contiguous();
}

}  // namespace fox::cluster
