// The protocol-neutral vocabulary between protocol sessions (wamp/, mqtt/) and the router.
// One representation of a publication inside the router; protocol sessions convert at the edge.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ids.hpp"
#include "core/json.hpp"

namespace fox {

using TopicParts = std::vector<std::string>;

// How a subscription or registration pattern matches topics (trie.hpp).
enum class MatchPolicy { kExact, kPrefix, kWildcard };

// The `match` member of an options object ("exact", "prefix", "wildcard"; absent or null:
// *out unchanged). False for any other value. Every protocol and the meta API read it so.
inline bool parse_match(const Json& options, MatchPolicy* out) {
  if (!options.is_object()) return true;
  auto it = options.find("match");
  if (it == options.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  const auto& m = it->get_ref<const std::string&>();
  if (m == "exact") *out = MatchPolicy::kExact;
  else if (m == "prefix") *out = MatchPolicy::kPrefix;
  else if (m == "wildcard") *out = MatchPolicy::kWildcard;
  else return false;
  return true;
}

// A WAMP-style error, as the router reports it: error URI plus optional args/kwargs.
struct Error {
  std::string uri;            // e.g. "wamp.error.invalid_uri"
  Json args = nullptr;        // array or null (absent)
  Json kwargs = nullptr;      // object or null (absent)
  Json details = Json::object();
};

// An error with `uri` and, when there is one, the message as args[0].
inline Error make_error(std::string uri, const std::string& message = {}) {
  Error error;
  error.uri = std::move(uri);
  if (!message.empty()) error.args = Json::array({message});
  return error;
}

// What a publication carries (SPEC §4). args/kwargs are null when absent; payload is set when
// the publication came from MQTT (raw bytes). Immutable once published: shared by all receivers.
struct Publication {
  TopicParts topic;           // parts of the concrete topic
  std::string uri;            // its WAMP text, wamp_uri(topic) ("a.b.c"; the key of retained
                              // state); the router fills it when the session left it empty
  Json args = nullptr;        // array or null
  Json kwargs = nullptr;      // object or null
  std::optional<std::string> payload;  // MQTT payload bytes (only from MQTT publishers)
  Id id = 0;                  // publication id == event id (§8)
  Id publisher = 0;           // session id of the publisher (0 = router itself)
  std::string publisher_authid;
  std::string publisher_authrole;
  bool disclose_publisher = false;  // publisher asked disclose_me
  int qos = 0;                // MQTT QoS the publisher used (0 for WAMP)
  bool retain = false;        // publisher asked to retain
  bool meta = false;          // a WAMP meta event of the router (wamp.session.on_join, ...)
  Json options = Json::object();  // the publisher's options as sent (history, extensions)
};
using PublicationPtr = std::shared_ptr<const Publication>;

// Per-serializer cache of an encoded message shared by every receiver of one subscription.
// Protocol sessions fill and read it (index = serializer number); the router only owns it.
struct EncodedCache {
  // 0-2: WAMP EVENT per serializer, 3: MQTT QoS 0 PUBLISH, 4: MQTT payload bytes.
  std::shared_ptr<const std::string> slot[5];
};

// One publication delivered through one subscription: the same object goes to every subscriber of
// that subscription, so the encoded bytes are made once per (subscription, serializer).
struct Delivery {
  Id subscription = 0;
  PublicationPtr publication;
  Json details = Json::object();  // WAMP EVENT.Details: topic (pattern match), publisher, retained
  bool retained_replay = false;   // delivered from retained state, not live
  bool replay = false;            // history or retained replay to one new subscriber: a burst the
                                  // subscriber asked for, not counted against its queue bound
  mutable EncodedCache encoded;
};

struct Invocation {
  Id request = 0;             // INVOCATION.Request (the invocation id)
  Id registration = 0;
  Json details = Json::object();   // procedure (pattern registration), caller, receive_progress, timeout
  Json args = nullptr;
  Json kwargs = nullptr;
};

struct Result {
  Json details = Json::object();   // progress: true for progressive results
  Json args = nullptr;
  Json kwargs = nullptr;
};

// WAMP message type numbers used when the router reports an ERROR for a request.
enum class RequestType : int {
  kSubscribe = 32, kUnsubscribe = 34, kPublish = 16, kCall = 48,
  kRegister = 64, kUnregister = 66, kInvocation = 68,
};

}  // namespace fox
