// Router commands: what protocol sessions ask of the router. Pure and synchronous (no sockets,
// no SQLite, no clock except RouterEnv). Answers go back through the session's Peer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "router/env.hpp"
#include "router/peer.hpp"
#include "router/types.hpp"

namespace fox {

class Realm;
class Storage;
struct StoredWill;
struct StoredTestament;

// Who a session is. Filled by the protocol session before join().
struct SessionInfo {
  std::string authid;              // "" for anonymous
  std::string authrole = "anonymous";
  std::string authmethod = "anonymous";
  std::string authprovider = "static";
  std::string transport;           // "websocket", "rawsocket", "mqtt", "mqtt-websocket", "internal"
  std::string serializer;          // "json", "msgpack", "cbor", "mqtt"
  std::string peer_address;        // "127.0.0.1:53422"
};

enum class MatchPolicy { kExact, kPrefix, kWildcard };

struct SubscribeOptions {
  MatchPolicy match = MatchPolicy::kExact;
  // MQTT: a first-level wildcard does not match the wamp.* meta topics (they are WAMP's, as
  // `$` topics are the broker's).
  bool hide_meta = false;
  Json raw = Json::object();       // every option as sent (fox extras: retained, after, filter, ...)
};

struct PublishOptions {
  bool acknowledge = false;
  bool exclude_me = true;
  bool disclose_me = false;
  std::vector<Id> exclude, eligible;                       // session ids
  std::vector<std::string> exclude_authid, eligible_authid;
  std::vector<std::string> exclude_authrole, eligible_authrole;
  bool has_eligible = false, has_eligible_authid = false, has_eligible_authrole = false;
  Json raw = Json::object();       // every option as sent (retain, when, watch, will, merge, ...)
};

enum class InvokePolicy { kSingle, kRoundRobin, kRandom, kFirst, kLast };

struct RegisterOptions {
  MatchPolicy match = MatchPolicy::kExact;
  InvokePolicy invoke = InvokePolicy::kSingle;
  unsigned concurrency = 0;        // fox extra: max outstanding invocations per callee; 0 = unlimited
  bool disclose_caller = false;
  Json raw = Json::object();
};

struct CallOptions {
  bool receive_progress = false;
  std::uint64_t timeout_ms = 0;    // 0 = no timeout
  bool disclose_me = false;
  Json raw = Json::object();
};

enum class CancelMode { kSkip, kKill, kKillNoWait };

// Retained state and history limits of a realm (SPEC §5).
struct KvOptions {
  std::size_t history_size = 10000;         // publications kept for `after` replay (ring)
  std::uint64_t retained_wait_ms = 30000;   // `after` + `retained`: how long the replay waits
};

// Realm names are at most this long; at most kMaxAutoRealms realms are created on demand
// (realms listed in the configuration do not count against it).
inline constexpr std::size_t kMaxRealmNameLength = 255;
inline constexpr std::size_t kMaxAutoRealms = 1000;

class Router {
public:
  explicit Router(RouterEnv& env);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // The realm of that name, created on demand. Names are [a-z0-9_.]+ (SPEC §2); anything else,
  // or a realm the configuration does not allow, gives nullptr and `error` =
  // wamp.error.no_such_realm.
  Realm* realm(const std::string& name, Error* error);
  // Restrict realms to a list (config `realms`); "*" in the list allows any valid name.
  void set_allowed_realms(std::vector<std::string> names);
  RouterEnv& env() { return env_; }
  // KV limits for every realm, existing and future.
  void set_kv_options(const KvOptions& options);
  const KvOptions& kv_options() const { return kv_options_; }
  // Publication ids: increasing in [1, 2^53] per router. The one place to swap for the store's
  // event ids (SPEC §8).
  Id next_publication_id() { return publication_ids_.next(); }
  Id last_publication_id() const { return publication_ids_.last(); }
  // Ids restored from the store: the next id is `last + 1`.
  void seed_publication_ids(Id last) { publication_ids_.seed(last); }

  // A persistent engine (store/); nullptr (the default, --memory) = memory engines and
  // acknowledgements at once. Set before the first realm exists; it must outlive the router.
  void set_storage(Storage* storage) { storage_ = storage; }
  Storage* storage() const { return storage_; }
  // Runs `fn(true)` once every write made so far is committed (at once without a store);
  // `fn(false)` when that commit failed.
  void after_commit(std::function<void(bool ok)> fn);
  // Wills of sessions of a previous process (all gone): each key becomes its will value.
  // A will of a realm that no longer exists is dropped.
  void apply_stale_wills(const std::vector<StoredWill>& wills);
  // Testaments of sessions of a previous process: published as the leave of their session would.
  void apply_stale_testaments(const std::vector<StoredTestament>& testaments);

private:
  RouterEnv& env_;
  Storage* storage_ = nullptr;
  IdCounter publication_ids_;
  KvOptions kv_options_;
  std::vector<std::string> allowed_;   // empty = every valid name
  std::map<std::string, std::unique_ptr<Realm>> realms_;
};

class Realm {
public:
  Realm(Router& router, std::string name);
  ~Realm();
  const std::string& name() const { return name_; }

  // Sessions. join() assigns a random session id in [1, 2^53] and publishes wamp.session.on_join;
  // leave() removes every subscription and registration of the session, fails its pending calls
  // as callee (wamp.error.canceled to the callers), interrupts its calls as caller, and publishes
  // wamp.session.on_leave. The Peer must stay valid until leave().
  Id join(Peer& peer, SessionInfo info);
  void leave(Id session);

  // Pub/sub. The topic is already split into parts by the protocol session.
  void subscribe(Id session, Id request, const TopicParts& topic, const SubscribeOptions& options);
  void unsubscribe(Id session, Id request, Id subscription);
  // `pub` carries topic/uri, args, kwargs, payload, qos, retain; the router fills id and publisher.
  void publish(Id session, Id request, Publication pub, const PublishOptions& options);

  // RPC.
  void register_procedure(Id session, Id request, const TopicParts& procedure,
                          const RegisterOptions& options);
  void unregister(Id session, Id request, Id registration);
  void call(Id session, Id request, const TopicParts& procedure, Json args, Json kwargs,
            const CallOptions& options);
  void cancel(Id session, Id call_request, CancelMode mode);
  void yield(Id session, Id invocation, Result result);   // details.progress => progressive
  void invocation_error(Id session, Id invocation, Error error);

  // The router ends one subscriber's subscription on its own (snapshot done, revocation): the
  // session gets Peer::send_subscription_revoked. False when it was not subscribed.
  bool revoke_subscription(Id session, Id subscription, const std::string& reason);

  std::size_t session_count() const;
  void set_kv_options(const KvOptions& options);
  // A will whose session is gone (see Router::apply_stale_wills).
  void apply_stale_will(const StoredWill& will);
  // A publication whose session is gone (an MQTT will or a testament left by a previous
  // process): published by the router on its behalf, through the KV path when it retains.
  // `pub.publisher` is kept as given (0 = the router).
  void publish_orphan(Publication pub, const PublishOptions& options);

private:
  struct Impl;
  Router& router_;
  std::string name_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fox
