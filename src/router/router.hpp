// Router commands: what protocol sessions ask of the router. Synchronous and pure (no sockets, no
// SQLite, no clock except Env); publications go through the engine (engine.hpp), answers that
// come later through the session's Peer, outcomes of subscribe/register are returned.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/auth.hpp"
#include "core/env.hpp"
#include "core/login_limiter.hpp"
#include "router/peer.hpp"
#include "router/types.hpp"

namespace fox {

class Engine;
class Realm;
struct StoredWill;
struct StoredTestament;
struct CommitOrigin;

// Who a session is. Filled by the protocol session before join().
struct SessionInfo {
  std::string authid;              // "" for anonymous
  std::string authrole = "anonymous";
  std::string authmethod = "anonymous";
  std::string authprovider = "static";
  std::string transport;           // "websocket", "rawsocket", "mqtt", "mqtt-websocket", "fox"
  std::string serializer;          // "json", "msgpack", "cbor", "mqtt"
  std::string peer_address;        // "127.0.0.1:53422"
  // MQTT allows empty topic levels ("a//b"); WAMP URIs do not.
  bool empty_topic_parts = false;
};

struct SubscribeOptions {
  MatchPolicy match = MatchPolicy::kExact;
  // MQTT: a first-level wildcard does not match the wamp.* meta events (they are WAMP's, as
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

// The replays a subscription asked for (fox options, parsed and type-checked).
struct ReplayRequest {
  bool retained = false;    // `retained`, `retainedState` or `get_retained`
  bool snapshot = false;
  bool has_after = false;
  Id after = 0;
  bool has_filter = false;
  Json filter;
  bool any() const { return retained || snapshot || has_after; }
};

struct SubscribeOutcome {
  Id subscription = 0;      // 0: refused, see `error`
  Error error;
  ReplayRequest replay;     // for Realm::replay once the client knows the subscription
  bool ok() const { return subscription != 0; }
};

struct RegisterOutcome {
  Id registration = 0;      // 0: refused, see `error`
  Error error;
  bool ok() const { return registration != 0; }
};

// Retained state and history limits of a realm (SPEC §5).
struct KvOptions {
  std::uint64_t retained_wait_ms = 30000;   // `after` + `retained`: how long the replay waits
};

// Realm names are at most this long; at most kMaxAutoRealms realms are created on demand
// (realms listed in the configuration do not count against it).
inline constexpr std::size_t kMaxRealmNameLength = 255;
inline constexpr std::size_t kMaxAutoRealms = 1000;

// A cluster: how the router reaches the other entry nodes (remote.cpp: their registrations and
// the calls forwarded to them). The node links carry the messages (FOX maps, ft RPC_*).
class RemoteLinks {
public:
  virtual ~RemoteLinks() = default;
  virtual void send(const std::string& node, Json message) = 0;
};

// One realm's figures for /metrics, $SYS and fox.stats (read when asked, nothing is counted).
struct RealmStats {
  std::string realm;
  std::size_t sessions = 0, subscriptions = 0, registrations = 0, retained = 0;
  std::map<std::string, std::size_t> sessions_by_transport;   // SessionInfo::transport
};

class Router {
public:
  // `engine` (store/: memory or SQLite) keeps the log, the retained state and the wills; it
  // must outlive the router.
  Router(Env& env, Engine& engine);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // The realm of that name, created on demand. Names are [a-z0-9_.]+ (SPEC §2); anything else,
  // or a realm the configuration does not allow, gives nullptr and `error` =
  // wamp.error.no_such_realm.
  Realm* realm(const std::string& name, Error* error);
  // Restrict realms to a list (config `realms`); "*" in the list allows any valid name.
  void set_allowed_realms(std::vector<std::string> names);
  Env& env() { return env_; }
  Engine& engine() { return engine_; }
  void set_kv_options(const KvOptions& options) { kv_options_ = options; }
  // Who may join which realm and do what (core/auth.hpp; SPEC §6): the sessions authenticate
  // against it, the realms enforce its permissions. nullptr (no users anywhere): all open.
  // Setting another (a config reload) applies its rules to every realm's next check; sessions
  // keep the roles they have. The caller keeps each policy it set alive while sessions that
  // began authenticating against it may still use it (cli/serve.cpp keeps them all).
  void set_auth_policy(const auth::Policy* policy);
  const auth::Policy* auth_policy() const { return auth_; }
  // Failed logins per client address (core/login_limiter.hpp), for every protocol's logins with
  // credentials; `peer` is a connection's peer address. login_blocked: 0, or the ms its block
  // lasts yet (refuse without checking); login_failed logs the start of a block.
  LoginLimiter& logins() { return logins_; }
  std::uint64_t login_blocked(const std::string& peer);
  void login_failed(const std::string& peer);
  const KvOptions& kv_options() const { return kv_options_; }

  // What sessions of a previous process left (all gone at start): each will key becomes its
  // value, each testament is published. A will or testament of a realm that is no longer
  // allowed is dropped.
  void apply_stale_wills(const std::vector<StoredWill>& wills);
  void apply_stale_testaments(const std::vector<StoredTestament>& testaments);
  // Realm::check_wills for every realm.
  void check_wills(std::uint64_t now_ms);
  // A cluster node cut off from the sync group for half the entry timeout: the others will judge
  // it lost and fire its sessions' wills, so the sessions that own wills here end first (a lock
  // holder learns it lost the lock before another can take it).
  void fence();

  // A cluster (remote.cpp): RPC across the entry nodes. Registrations are announced over the
  // node links (not through the ordered log): each realm's table of them, whole, to every peer
  // when it changed or when a link to the peer came up. A peer's registrations become callees
  // here (a proxy per node); a call to one is forwarded to that node, its results, errors and
  // interrupts travel back. `node`: this node's name, `instance` its incarnation.
  void set_remote(RemoteLinks* links, std::string node, std::uint64_t instance);
  RemoteLinks* remote_links() const { return remote_; }
  const std::string& remote_node() const { return remote_node_; }
  std::uint64_t remote_instance() const { return remote_instance_; }
  // A message from the entry node `from`; false with *error when it is malformed (dropped).
  bool on_remote(const std::string& from, const Json& message, std::string* error);
  // The realms whose registrations changed since they were last announced: to every peer.
  void announce(const std::vector<std::string>& peers);
  // A link to `peer` came up: it gets every realm's table.
  void remote_link_up(const std::string& peer);
  // `peer` is lost (no contact for the cluster's entryTimeoutMs): its registrations go; calls
  // invoked there fail with wamp.error.canceled, queued ones that no callee is left for with
  // wamp.error.no_such_procedure; the calls it forwarded here are interrupted.
  void remote_lost(const std::string& peer);
  // A cluster: what the meta procedure `fox.cluster.nodes` answers (every node: roles, link,
  // ids, lag; cli/cluster_node.cpp). Without it the procedure does not exist.
  std::vector<RealmStats> stats();
  // Every realm that exists now (a realm exists from its first session on).
  std::vector<Realm*> realms();
  void set_cluster_status(std::function<Json()> fn) { cluster_status_ = std::move(fn); }
  Json cluster_status() const { return cluster_status_ ? cluster_status_() : Json(nullptr); }

private:
  std::function<Json()> cluster_status_;
  RemoteLinks* remote_ = nullptr;
  std::string remote_node_;
  std::uint64_t remote_instance_ = 0;
  Env& env_;
  Engine& engine_;
  KvOptions kv_options_;
  const auth::Policy* auth_ = nullptr;
  LoginLimiter logins_;
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
  // as callee (wamp.error.canceled to the callers), interrupts its calls as caller, applies its
  // wills and testaments, and publishes wamp.session.on_leave. The Peer must stay valid until
  // leave().
  Id join(Peer& peer, SessionInfo info);
  void leave(Id session);

  // Pub/sub. Topics are parts (core/topic.hpp), converted by the protocol session.
  SubscribeOutcome subscribe(Id session, const TopicParts& topic, const SubscribeOptions& options);
  // Once the session told its client the subscription (SUBSCRIBED, SUBACK): the replays it asked
  // for (retained, after, snapshot) start. They are sent in bounded steps while the session's
  // peer is not congested.
  void replay(Id session, const SubscribeOutcome& outcome);
  // The session's connection drained below half its limits: paused replays go on.
  void drained(Id session);
  // False when it is not a subscription of the session (wamp.error.no_such_subscription).
  bool unsubscribe(Id session, Id subscription);
  // `pub` carries topic, args, kwargs, payload, qos, retain; the router fills the publisher and
  // the engine the id. PUBLISHED (with `acknowledge`) or ERROR come through the Peer, once the
  // publication is durable. Errors without `acknowledge` are not answered (WAMP).
  void publish(Id session, Id request, Publication pub, PublishOptions options);
  // A publication whose session is gone (an MQTT will or a testament left by a previous
  // process): published by the router on its behalf; `pub.publisher` is kept as given.
  void publish_orphan(Publication pub, const PublishOptions& options);
  // A figure of the broker itself ($SYS/broker/..., fox.stats), published like a meta event: by
  // the router (publisher 0), not in the log, not replicated (each node's own), not matched by
  // an MQTT first-level wildcard. The newest per topic is kept in memory and replayed as retained
  // to a subscription that asks for retained values (an MQTT SUBSCRIBE does).
  void publish_system(Publication pub);
  // Forgets what publish_system kept (a realm nobody is in).
  void clear_system();
  // A publication the log committed and delivers itself (a cluster, whose entries deliver every
  // committed event in id order, on every node): its
  // retained effect (`retain`, `merge`, `when`, `will`, a will firing) is decided here, so every
  // node's retained state is the same projection of the history; then it goes to the
  // subscribers (origin.live) and, on the node it was published to, its publisher is answered.
  // False: it had no effect (a `when` that did not hold, a will already replaced or fired).
  bool apply_committed(const PublicationPtr& pub, const PublishOptions& audience,
                       const CommitOrigin& origin);
  // A cluster, a few times a second: wills whose owner is gone (a session that left while its
  // write was in flight, a previous incarnation of this node, a lost node) are proposed.
  void check_wills(std::uint64_t now_ms);

  // Last words on a cluster (an MQTT will, a WAMP testament): a publication to make should the
  // session's node be lost before the session publishes or discards it. The entry commits it, so
  // every node knows it; when that node is lost (or comes back as a new incarnation), the nodes
  // left publish it, once. The session's own node still publishes it itself, calling
  // drop_last_words() first (both go into the same segment, so they commit together). Without a
  // cluster they do nothing (the node publishes them; SQLite keeps them across restarts).
  // keep_last_words returns a token (0: nothing kept).
  std::uint64_t keep_last_words(Id session, const Publication& pub, const PublishOptions& options);
  void drop_last_words(Id session, std::uint64_t token);

  // RPC.
  RegisterOutcome register_procedure(Id session, const TopicParts& procedure,
                                     const RegisterOptions& options);
  // Once the session told its client REGISTERED: calls queued for the registration may reach it.
  void registered(Id session, Id registration);
  // False when it is not a registration of the session (wamp.error.no_such_registration).
  bool unregister(Id session, Id registration);
  void call(Id session, Id request, const TopicParts& procedure, Json args, Json kwargs,
            const CallOptions& options);
  void cancel(Id session, Id call_request, CancelMode mode);
  void yield(Id session, Id invocation, Result result);   // details.progress => progressive
  void invocation_error(Id session, Id invocation, Error error);

  // The router ends one subscriber's subscription on its own (snapshot done, revocation): the
  // session gets Peer::send_subscription_revoked. False when it was not subscribed.
  bool revoke_subscription(Id session, Id subscription, const std::string& reason);

  std::size_t session_count() const;
  RealmStats stats() const;
  // A will whose session is gone (see Router::apply_stale_wills).
  void apply_stale_will(const StoredWill& will);

  struct Impl;   // realm_impl.hpp
  Impl& impl() { return *impl_; }   // router/ only

private:
  Router& router_;
  std::string name_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fox
