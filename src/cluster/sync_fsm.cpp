#include "cluster/sync_fsm.hpp"

#include <algorithm>
#include <utility>

namespace fox::cluster {

namespace {

// Command: kind (1 byte: kCommandAssign, also the format's version), n (u16), then n times
// owner length (u8), owner bytes, segment (u64), count (u32). Little-endian, nothing after.
constexpr std::uint8_t kCommandAssign = 1;
constexpr std::size_t kRequestFixedBytes = 1 + 8 + 4;
// Snapshot: magic "FXSY", version (u8), next_id (u64), owner count (u32), per owner (names in
// ascending byte order): name length (u8), name, floor (u64), segment count (u32, 1..
// kKeepSegments), per segment (ascending): segment (u64), first id (u64), count (u32); then the
// FNV-1a 64 of every byte before it (u64).
constexpr std::uint8_t kSnapshotMagic[4] = {'F', 'X', 'S', 'Y'};
constexpr std::uint8_t kSnapshotVersion = 1;
constexpr std::size_t kSegmentRecordBytes = 8 + 8 + 4;

void put_u8(std::vector<std::uint8_t>& out, std::uint8_t v) { out.push_back(v); }
void put_le(std::vector<std::uint8_t>& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// Reads from a byte span; every read checks the length, a failed one leaves ok() false.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  std::size_t left() const { return bytes_.size() - pos_; }
  std::uint64_t le(int n) {
    if (!ok_ || left() < static_cast<std::size_t>(n)) {
      ok_ = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t{bytes_[pos_ + i]} << (8 * i);
    pos_ += n;
    return v;
  }
  std::string str(std::size_t n) {
    if (!ok_ || left() < n) {
      ok_ = false;
      return {};
    }
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

bool valid_owner(const std::string& owner) {
  if (owner.empty() || owner.size() > kMaxOwnerBytes) return false;
  return std::all_of(owner.begin(), owner.end(), [](char c) {
    auto b = static_cast<unsigned char>(c);
    return b >= 0x20 && b != 0x7f;
  });
}

std::uint64_t fnv1a64(std::span<const std::uint8_t> bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

const char* to_string(AssignStatus status) {
  switch (status) {
    case AssignStatus::assigned: return "assigned";
    case AssignStatus::duplicate: return "duplicate";
    case AssignStatus::conflict: return "conflict";
    case AssignStatus::stale: return "stale";
    case AssignStatus::exhausted: return "exhausted";
    case AssignStatus::owners_full: return "owners_full";
    case AssignStatus::invalid: return "invalid";
  }
  return "?";
}

bool valid_request(const SegmentRequest& request) {
  return valid_owner(request.owner) && request.segment >= 1 && request.count >= 1;
}

std::vector<std::uint8_t> encode_command(std::span<const SegmentRequest> requests) {
  if (requests.empty() || requests.size() > kMaxBatch) return {};
  std::vector<std::uint8_t> out;
  std::size_t size = 1 + 2;
  for (const auto& r : requests) {
    if (!valid_request(r)) return {};
    size += 1 + r.owner.size() + 8 + 4;
  }
  out.reserve(size);
  put_u8(out, kCommandAssign);
  put_le(out, requests.size(), 2);
  for (const auto& r : requests) {
    put_u8(out, static_cast<std::uint8_t>(r.owner.size()));
    out.insert(out.end(), r.owner.begin(), r.owner.end());
    put_le(out, r.segment, 8);
    put_le(out, r.count, 4);
  }
  // Zeros to a multiple of 8 bytes: raft's libuv transport sends an entry as it is but its
  // receiver steps over an entry padded to 8 bytes, and so reads past the message otherwise.
  out.resize((out.size() + 7) / 8 * 8, 0);
  return out;
}

std::optional<std::vector<SegmentRequest>> decode_command(std::span<const std::uint8_t> bytes) {
  Reader in(bytes);
  if (in.le(1) != kCommandAssign) return std::nullopt;
  std::size_t n = in.le(2);
  // Each request takes at least 1 + 1 + 12 bytes: a count the bytes cannot hold is refused
  // before anything is allocated for it.
  if (!in.ok() || n == 0 || n > kMaxBatch || n > in.left() / (1 + kRequestFixedBytes)) {
    return std::nullopt;
  }
  std::vector<SegmentRequest> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    SegmentRequest r;
    r.owner = in.str(in.le(1));
    r.segment = in.le(8);
    r.count = static_cast<std::uint32_t>(in.le(4));
    if (!in.ok() || !valid_request(r)) return std::nullopt;
    out.push_back(std::move(r));
  }
  // What follows is encode_command's padding, exactly.
  if (bytes.size() % 8 != 0 || in.left() >= 8) return std::nullopt;
  for (std::size_t pad = in.left(); pad > 0; --pad) {
    if (in.le(1) != 0) return std::nullopt;
  }
  return out;
}

AssignResult SyncState::assign(const SegmentRequest& request) {
  if (!valid_request(request)) return {AssignStatus::invalid, {}};
  auto it = owners_.find(request.owner);
  if (it != owners_.end()) {
    const Owner& o = it->second;
    if (auto s = o.segments.find(request.segment); s != o.segments.end()) {
      // Raft may commit a proposal whose callback reported failure, and several ndbs ask for the
      // same segment: the answer is the range given the first time.
      return {s->second.count == request.count ? AssignStatus::duplicate : AssignStatus::conflict,
              s->second};
    }
    if (request.segment <= o.floor) return {AssignStatus::stale, {}};
  } else if (owners_.size() >= kMaxOwners) {
    return {AssignStatus::owners_full, {}};
  }
  // next_id_ <= kMaxEventId + 1 always: the range's last id, next_id_ + count - 1, must not pass
  // kMaxEventId.
  if (request.count > kMaxEventId + 1 - next_id_) return {AssignStatus::exhausted, {}};
  IdRange range{next_id_, request.count};
  Owner& o = it != owners_.end() ? it->second : owners_[request.owner];
  o.segments.emplace(request.segment, range);
  next_id_ += request.count;
  if (o.segments.size() > kKeepSegments) {
    auto lowest = o.segments.begin();
    o.floor = lowest->first;
    o.segments.erase(lowest);
  }
  return {AssignStatus::assigned, range};
}

std::optional<std::vector<AssignResult>> SyncState::apply(std::span<const std::uint8_t> command) {
  auto requests = decode_command(command);
  if (!requests) return std::nullopt;
  std::vector<AssignResult> results;
  results.reserve(requests->size());
  for (const auto& r : *requests) results.push_back(assign(r));
  return results;
}

std::optional<IdRange> SyncState::range_of(const std::string& owner, std::uint64_t segment) const {
  auto it = owners_.find(owner);
  if (it == owners_.end()) return std::nullopt;
  auto s = it->second.segments.find(segment);
  if (s == it->second.segments.end()) return std::nullopt;
  return s->second;
}

std::uint64_t SyncState::last_segment(const std::string& owner) const {
  auto it = owners_.find(owner);
  if (it == owners_.end()) return 0;
  const Owner& o = it->second;
  return o.segments.empty() ? o.floor : o.segments.rbegin()->first;
}

std::uint64_t SyncState::floor(const std::string& owner) const {
  auto it = owners_.find(owner);
  return it == owners_.end() ? 0 : it->second.floor;
}

std::size_t SyncState::segments() const {
  std::size_t n = 0;
  for (const auto& [name, o] : owners_) n += o.segments.size();
  return n;
}

std::vector<std::uint8_t> SyncState::snapshot() const {
  std::vector<std::uint8_t> out;
  std::size_t size = 4 + 1 + 8 + 4 + 8;
  for (const auto& [name, o] : owners_) {
    size += 1 + name.size() + 8 + 4 + o.segments.size() * kSegmentRecordBytes;
  }
  out.reserve(size);
  out.insert(out.end(), std::begin(kSnapshotMagic), std::end(kSnapshotMagic));
  put_u8(out, kSnapshotVersion);
  put_le(out, next_id_, 8);
  put_le(out, owners_.size(), 4);
  for (const auto& [name, o] : owners_) {
    put_u8(out, static_cast<std::uint8_t>(name.size()));
    out.insert(out.end(), name.begin(), name.end());
    put_le(out, o.floor, 8);
    put_le(out, o.segments.size(), 4);
    for (const auto& [segment, range] : o.segments) {
      put_le(out, segment, 8);
      put_le(out, range.first, 8);
      put_le(out, range.count, 4);
    }
  }
  put_le(out, fnv1a64(out), 8);
  return out;
}

bool SyncState::restore(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 4 + 1 + 8 + 4 + 8) return false;
  auto body = bytes.first(bytes.size() - 8);
  Reader sum(bytes.last(8));
  if (sum.le(8) != fnv1a64(body)) return false;
  if (!std::equal(std::begin(kSnapshotMagic), std::end(kSnapshotMagic), body.begin())) return false;
  Reader in(body.subspan(4));
  if (in.le(1) != kSnapshotVersion) return false;
  SyncState s;
  s.next_id_ = in.le(8);
  std::size_t n_owners = in.le(4);
  if (!in.ok() || s.next_id_ < 1 || s.next_id_ > kMaxEventId + 1 || n_owners > kMaxOwners) {
    return false;
  }
  std::vector<IdRange> ranges;
  for (std::size_t i = 0; i < n_owners; ++i) {
    std::string name = in.str(in.le(1));
    Owner o;
    o.floor = in.le(8);
    std::size_t n = in.le(4);
    if (!in.ok() || !valid_owner(name) || n == 0 || n > kKeepSegments ||
        (!s.owners_.empty() && !(s.owners_.rbegin()->first < name)) ||
        n > in.left() / kSegmentRecordBytes) {
      return false;
    }
    std::uint64_t previous = o.floor;
    for (std::size_t k = 0; k < n; ++k) {
      std::uint64_t segment = in.le(8);
      IdRange range{in.le(8), 0};
      std::uint64_t count = in.le(4);
      range.count = static_cast<std::uint32_t>(count);
      // Segments ascend above the floor; a range is non-empty and below next_id.
      if (!in.ok() || segment <= previous || range.first < 1 || count < 1 ||
          range.first >= s.next_id_ || count > s.next_id_ - range.first) {
        return false;
      }
      previous = segment;
      o.segments.emplace_hint(o.segments.end(), segment, range);
      ranges.push_back(range);
    }
    s.owners_.emplace_hint(s.owners_.end(), std::move(name), std::move(o));
  }
  if (in.left() != 0) return false;
  // No id belongs to two segments.
  std::sort(ranges.begin(), ranges.end(),
            [](const IdRange& a, const IdRange& b) { return a.first < b.first; });
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i - 1].first + ranges[i - 1].count > ranges[i].first) return false;
  }
  *this = std::move(s);
  return true;
}

}  // namespace fox::cluster
