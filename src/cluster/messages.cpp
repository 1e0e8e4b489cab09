#include "cluster/messages.hpp"

#include <mbedtls/sha256.h>

#include <type_traits>

namespace fox::cluster {
namespace {

constexpr std::uint64_t kMaxNumber = std::uint64_t{1} << 53;
constexpr std::size_t kMaxName = 255;

Json event_json_impl(const ClusterEvent& e, bool with_id) {
  Json uri = Json::array();
  for (const std::string& p : e.uri) uri.push_back(p);
  Json out = {{"realm", e.realm}, {"uri", std::move(uri)}, {"data", e.data}, {"opt", e.opt},
              {"sid", e.sid}};
  if (with_id) out["id"] = e.id;
  return out;
}

Json bin(const std::string& bytes) { return Json::binary({bytes.begin(), bytes.end()}); }

// Reads the fields of one message; the first problem is kept in `error`.
struct Fields {
  const Json& m;
  std::string* error;
  bool ok = true;
  bool steal = false;   // the map is the caller's to consume: event data and options are moved out

  const Json* field(const char* key) {
    if (!ok) return nullptr;
    auto it = m.find(key);
    if (it == m.end()) {
      ok = false;
      *error = std::string("missing ") + key;
      return nullptr;
    }
    return &*it;
  }
  void wrong(const char* key, const char* what) {
    ok = false;
    *error = std::string(key) + " must be " + what;
  }
  std::string name(const char* key) {
    const Json* v = field(key);
    if (!v) return {};
    if (!v->is_string() || v->get_ref<const std::string&>().empty() ||
        v->get_ref<const std::string&>().size() > kMaxName) {
      wrong(key, "a name of 1..255 bytes");
      return {};
    }
    return v->get<std::string>();
  }
  std::uint64_t number(const char* key, std::uint64_t min = 0) {
    const Json* v = field(key);
    if (!v) return 0;
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<std::int64_t>() >= 0)) {
      wrong(key, "a non-negative integer");
      return 0;
    }
    const auto n = v->get<std::uint64_t>();
    if (n < min || n > kMaxNumber) {
      wrong(key, min ? "an integer 1..2^53" : "an integer 0..2^53");
      return 0;
    }
    return n;
  }
  std::string digest(const char* key) {
    const Json* v = field(key);
    if (!v) return {};
    if (!v->is_binary() || v->get_binary().size() != 16) {
      wrong(key, "16 bytes");
      return {};
    }
    const auto& b = v->get_binary();
    return std::string(b.begin(), b.end());
  }
  ClusterEvent event(const Json& v, const char* key) {
    ClusterEvent e;
    if (!ok) return e;
    if (!v.is_object()) {
      wrong(key, "a map");
      return e;
    }
    Fields f{v, error};
    f.steal = steal;
    e.realm = f.name("realm");
    const Json* uri = f.field("uri");
    if (uri && (!uri->is_array() || uri->empty())) f.wrong("uri", "a list of parts");
    if (f.ok) {
      for (const Json& p : *uri) {
        if (!p.is_string()) {
          f.wrong("uri", "a list of parts");
          break;
        }
        e.uri.push_back(p.get<std::string>());
      }
    }
    if (const Json* data = f.field("data")) {
      e.data = steal ? std::move(const_cast<Json&>(*data)) : *data;
    }
    if (const Json* opt = f.field("opt")) {
      if (!opt->is_object()) f.wrong("opt", "a map");
      else e.opt = steal ? std::move(const_cast<Json&>(*opt)) : *opt;
    }
    e.sid = f.number("sid");
    if (v.contains("id")) e.id = f.number("id");
    ok = f.ok;
    return e;
  }
};

}  // namespace

Json event_to_json(const ClusterEvent& event, bool with_id) { return event_json_impl(event, with_id); }

namespace {
std::size_t approx_json(const Json& j) {
  switch (j.type()) {
    case Json::value_t::string: return 5 + j.get_ref<const std::string&>().size();
    case Json::value_t::binary: return 5 + j.get_binary().size();
    case Json::value_t::array: {
      std::size_t n = 5;
      for (const Json& v : j) n += approx_json(v);
      return n;
    }
    case Json::value_t::object: {
      std::size_t n = 5;
      for (auto it = j.begin(); it != j.end(); ++it) n += 5 + it.key().size() + approx_json(*it);
      return n;
    }
    default: return 9;
  }
}
}  // namespace

std::size_t approx_size(const ClusterEvent& event) {
  std::size_t n = 48 + event.realm.size() + approx_json(event.data) + approx_json(event.opt);
  for (const std::string& p : event.uri) n += 5 + p.size();
  return n;
}

bool event_from_json(const Json& map, ClusterEvent* out, std::string* error) {
  Fields f{map, error};
  ClusterEvent e = f.event(map, "event");
  if (!f.ok) return false;
  *out = std::move(e);
  return true;
}

const char* message_name(const Message& message) {
  static const char* const kNames[] = {
      "INIT_ENTRY",       "INIT_ENTRY_ACCEPTED", "BEGIN_ADVANCE_SEGMENT", "KEEP_ADVANCE_HISTORY",
      "TRIM_ADVANCE_SEGMENT", "ADVANCE_SEGMENT_OVER", "GENERATE_DRAFT", "ELECT_SEGMENT",
      "ADVANCE_SEGMENT_RESOLVED", "FETCH_HISTORY", "HISTORY"};
  static_assert(std::size(kNames) == std::variant_size_v<Message>);
  return kNames[message.index()];
}

Json encode(const Message& message) {
  Json m = Json::object();
  m["ft"] = message_name(message);
  std::visit(
      [&m](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, InitEntry>) {
          m["entry"] = x.entry;
        } else if constexpr (std::is_same_v<T, InitEntryAccepted>) {
          m["sync"] = x.sync;
          m["entry"] = x.entry;
          m["last_segment"] = x.last_segment;
          m["head"] = x.head;
        } else if constexpr (std::is_same_v<T, BeginAdvanceSegment>) {
          m["owner"] = x.owner;
          m["segment"] = x.segment;
        } else if constexpr (std::is_same_v<T, KeepAdvanceHistory>) {
          m["owner"] = x.owner;
          m["segment"] = x.segment;
          m["offset"] = x.offset;
          m["event"] = event_json_impl(x.event, false);
        } else if constexpr (std::is_same_v<T, TrimAdvanceSegment>) {
          m["ndb"] = x.ndb;
          m["owner"] = x.owner;
          m["segment"] = x.segment;
          m["count"] = x.count;
        } else if constexpr (std::is_same_v<T, AdvanceSegmentOver>) {
          m["owner"] = x.owner;
          m["segment"] = x.segment;
          m["count"] = x.count;
          m["digest"] = bin(x.digest);
        } else if constexpr (std::is_same_v<T, GenerateDraft>) {
          m["ndb"] = x.ndb;
          m["owner"] = x.owner;
          m["segment"] = x.segment;
          m["count"] = x.count;
          m["digest"] = bin(x.digest);
        } else if constexpr (std::is_same_v<T, ElectSegment>) {
          m["owner"] = x.owner;
          m["segment"] = x.segment;
          m["first"] = x.first;
          m["count"] = x.count;
        } else if constexpr (std::is_same_v<T, AdvanceSegmentResolved>) {
          m["ndb"] = x.ndb;
          m["owner"] = x.owner;
          m["segment"] = x.segment;
          m["first"] = x.first;
          m["count"] = x.count;
        } else if constexpr (std::is_same_v<T, FetchHistory>) {
          m["from"] = x.from;
          m["upto"] = x.upto;
        } else {
          static_assert(std::is_same_v<T, History>);
          m["from"] = x.from;
          m["upto"] = x.upto;
          Json events = Json::array();
          for (const ClusterEvent& e : x.events) events.push_back(event_json_impl(e, true));
          m["events"] = std::move(events);
        }
      },
      message);
  return m;
}

static bool decode_fields(const Json& map, Message* out, std::string* error, bool steal);

bool decode(Json&& map, Message* out, std::string* error) {
  return decode_fields(map, out, error, /*steal=*/true);
}

bool decode(const Json& map, Message* out, std::string* error) {
  return decode_fields(map, out, error, /*steal=*/false);
}

static bool decode_fields(const Json& map, Message* out, std::string* error, bool steal) {
  if (!map.is_object()) {
    *error = "a cluster message is a map";
    return false;
  }
  auto ft_it = map.find("ft");
  if (ft_it == map.end() || !ft_it->is_string()) {
    *error = "a cluster message without ft";
    return false;
  }
  const std::string& ft = ft_it->get_ref<const std::string&>();
  Fields f{map, error};
  f.steal = steal;
  if (ft == "INIT_ENTRY") {
    *out = InitEntry{f.name("entry")};
  } else if (ft == "INIT_ENTRY_ACCEPTED") {
    InitEntryAccepted x;
    x.sync = f.name("sync");
    x.entry = f.name("entry");
    x.last_segment = f.number("last_segment");
    x.head = f.number("head");
    *out = std::move(x);
  } else if (ft == "BEGIN_ADVANCE_SEGMENT") {
    BeginAdvanceSegment x;
    x.owner = f.name("owner");
    x.segment = f.number("segment", 1);
    *out = std::move(x);
  } else if (ft == "KEEP_ADVANCE_HISTORY") {
    KeepAdvanceHistory x;
    x.owner = f.name("owner");
    x.segment = f.number("segment", 1);
    x.offset = f.number("offset", 1);
    if (const Json* e = f.field("event")) x.event = f.event(*e, "event");
    *out = std::move(x);
  } else if (ft == "TRIM_ADVANCE_SEGMENT") {
    TrimAdvanceSegment x;
    x.ndb = f.name("ndb");
    x.owner = f.name("owner");
    x.segment = f.number("segment", 1);
    x.count = f.number("count");
    *out = std::move(x);
  } else if (ft == "ADVANCE_SEGMENT_OVER" || ft == "GENERATE_DRAFT") {
    std::string ndb = ft == "GENERATE_DRAFT" ? f.name("ndb") : std::string();
    std::string owner = f.name("owner");
    std::uint64_t segment = f.number("segment", 1), count = f.number("count");
    std::string digest = f.digest("digest");
    if (ft == "GENERATE_DRAFT") *out = GenerateDraft{ndb, owner, segment, count, digest};
    else *out = AdvanceSegmentOver{owner, segment, count, digest};
  } else if (ft == "ELECT_SEGMENT" || ft == "ADVANCE_SEGMENT_RESOLVED") {
    std::string ndb = ft == "ADVANCE_SEGMENT_RESOLVED" ? f.name("ndb") : std::string();
    std::string owner = f.name("owner");
    std::uint64_t segment = f.number("segment", 1);
    Id first = f.number("first", 1);
    std::uint64_t count = f.number("count");
    if (f.ok && first + count - 1 > kMaxNumber) f.wrong("first", "such that the range ends by 2^53");
    if (ft == "ELECT_SEGMENT") *out = ElectSegment{owner, segment, first, count};
    else *out = AdvanceSegmentResolved{ndb, owner, segment, first, count};
  } else if (ft == "FETCH_HISTORY" || ft == "HISTORY") {
    Id from = f.number("from", 1), upto = f.number("upto", 1);
    if (f.ok && upto < from) f.wrong("upto", "at least from");
    if (ft == "FETCH_HISTORY") {
      *out = FetchHistory{from, upto};
    } else {
      History x{from, upto, {}};
      const Json* events = f.field("events");
      if (events && !events->is_array()) f.wrong("events", "a list");
      Id last = 0;
      for (std::size_t i = 0; f.ok && i < events->size(); ++i) {
        ClusterEvent e = f.event((*events)[i], "events");
        if (f.ok && (e.id < from || e.id > upto || e.id <= last)) {
          f.wrong("events", "increasing ids within from..upto");
        }
        last = e.id;
        x.events.push_back(std::move(e));
      }
      *out = std::move(x);
    }
  } else {
    *error = "unknown cluster message " + ft.substr(0, 64);
    return false;
  }
  if (!f.ok) *error = ft + ": " + *error;
  return f.ok;
}

struct SegmentDigest::State {
  mbedtls_sha256_context sha;
};

SegmentDigest::SegmentDigest() : state_(new State) {
  mbedtls_sha256_init(&state_->sha);
  mbedtls_sha256_starts_ret(&state_->sha, 0);
}

SegmentDigest::~SegmentDigest() {
  mbedtls_sha256_free(&state_->sha);
  delete state_;
}

std::string event_bytes(const ClusterEvent& event) {
  std::string out;
  Json::to_msgpack(event_json_impl(event, false), nlohmann::detail::output_adapter<char>(out));
  return out;
}

void SegmentDigest::add(const ClusterEvent& event) { add_encoded(event_bytes(event)); }

void SegmentDigest::add_encoded(std::string_view bytes) {
  // Length first, so event boundaries are part of what is digested.
  const auto n = static_cast<std::uint32_t>(bytes.size());
  const unsigned char len[4] = {static_cast<unsigned char>(n >> 24), static_cast<unsigned char>(n >> 16),
                                static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  mbedtls_sha256_update_ret(&state_->sha, len, sizeof len);
  mbedtls_sha256_update_ret(&state_->sha, reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
}

std::string SegmentDigest::value() const {
  mbedtls_sha256_context copy;
  mbedtls_sha256_init(&copy);
  mbedtls_sha256_clone(&copy, &state_->sha);
  unsigned char out[32];
  mbedtls_sha256_finish_ret(&copy, out);
  mbedtls_sha256_free(&copy);
  return std::string(reinterpret_cast<const char*>(out), 16);
}

}  // namespace fox::cluster
