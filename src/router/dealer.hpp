// Remote procedure calls of one realm: registrations (exact, prefix, wildcard; shared with an
// invoke policy), calls and their invocations, progressive results, cancel, timeout and the fox
// `concurrency` limit (calls beyond the limit wait in a FIFO queue per registration).
//
// Life of a call: queued (no free callee slot) → invoked (INVOCATION sent, slot taken) → answered
// (final YIELD/ERROR, cancel, timeout, callee or caller gone). Only a final answer, killnowait or
// the end of a session frees the slot; a progressive result does not.
#pragma once
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/router.hpp"
#include "router/session.hpp"
#include "router/trie.hpp"
#include "router/types.hpp"

namespace fox {

struct PendingCall;

struct Callee {
  SessionEntry* session = nullptr;
  unsigned concurrency = 0;   // 0 = unlimited
  unsigned outstanding = 0;   // invocations sent and not finally answered
  bool disclose_caller = false;
  // A cluster: the callees of another entry node (one proxy per node, remote.cpp). A call that
  // node forwarded here never goes back to one.
  bool remote = false;
  std::uint64_t at = 0;       // wall ms its node registered it (which of two `single`s wins)
};

struct Registration : TrieEntry {
  Id id = 0;
  TopicParts procedure;
  std::string uri;
  MatchPolicy match = MatchPolicy::kExact;
  InvokePolicy invoke = InvokePolicy::kSingle;
  std::vector<std::size_t> rank;     // wildcard precedence (wildcard_rank)
  std::uint64_t created_ms = 0;
  std::vector<Callee> callees;       // in registration order
  std::size_t next_callee = 0;       // roundrobin position
  std::list<PendingCall*> queue;     // calls waiting for a free callee slot, FIFO
};

struct PendingCall {
  SessionEntry* caller = nullptr;
  Id request = 0;
  std::string uri;
  Json args = nullptr;
  Json kwargs = nullptr;
  CallOptions options;
  Id registration = 0;
  Id invocation = 0;                 // 0 while queued
  SessionEntry* callee = nullptr;
  bool queued = false;
  std::list<PendingCall*>::iterator queue_position;
  Env::TimerId timer = 0;
  bool caller_answered = false;      // canceled with `skip`: the callee's answer is dropped
  bool interrupted = false;          // INTERRUPT (kill) sent, waiting for the callee's answer
  bool forwarded = false;            // from another entry node: local callees only
  Json caller_identity = nullptr;    // forwarded: {id, authid, authrole} of the caller there
};

class Dealer {
public:
  struct Removal {
    Id registration = 0;
    bool deleted = false;   // the last callee left (meta: on_delete)
  };

  Dealer(IdCounter& registration_ids, Env& env);
  ~Dealer();

  // The registration id, or 0 with `error` set (wamp.error.procedure_already_exists).
  // `remote`: the callee is another entry node's proxy (registered there at wall ms `at`).
  Id register_procedure(SessionEntry& callee, const TopicParts& procedure,
                        const RegisterOptions& options, bool* created, Error* error,
                        bool remote = false, std::uint64_t at = 0);
  // Dispatches queued calls to callees that have room (after a new callee was told REGISTERED).
  void dispatch_queued(Id registration);
  bool unregister(Id session, Id registration, Removal* removal);
  // Ends everything of a leaving session: its calls (INTERRUPT killnowait to the callees) and
  // its registrations (callers of its in-flight invocations get wamp.error.canceled).
  std::vector<Removal> remove_session(Id session);

  void call(SessionEntry& caller, Id request, const TopicParts& procedure, Json args, Json kwargs,
            const CallOptions& options);
  // A call another entry node forwarded to the registration (uri, match) here: only its local
  // callees may take it; `caller` is who called there ({id, authid, authrole}).
  void call_forwarded(SessionEntry& proxy, Id request, const std::string& uri, MatchPolicy match,
                      const TopicParts& procedure, Json args, Json kwargs,
                      const CallOptions& options, Json caller);
  void cancel(Id session, Id request, CancelMode mode);
  void yield(Id session, Id invocation, Result result);
  void invocation_error(Id session, Id invocation, Error error);

  // Lookups (meta API, tests).
  const Registration* find(Id registration) const;
  const Registration* find(const std::string& uri, MatchPolicy match) const;
  // The registration a call to `procedure` goes to (WAMP precedence: exact, longest prefix,
  // most specific wildcard), or nullptr.
  const Registration* best_match(const TopicParts& procedure, const std::string& uri);
  std::vector<const Registration*> all() const;
  std::size_t size() const { return by_id_.size(); }
  std::size_t pending_calls() const { return calls_.size(); }
  // Changes with every registration or removal of a local (not remote) callee: a cluster node
  // announces its registrations again when it moved.
  std::uint64_t local_version() const { return local_version_; }
  static constexpr std::size_t kMaxPendingCallsPerSession = 1000;
  // Calls one other entry node may have forwarded here at a time (its sessions are bounded there).
  static constexpr std::size_t kMaxForwardedCalls = 100000;

private:
  using Key = std::pair<std::string, MatchPolicy>;
  using CallKey = std::pair<Id, Id>;  // (caller session, CALL request)

  Registration* lookup(const TopicParts& procedure, const std::string& uri);
  Callee* pick_callee(Registration& reg, bool local_only);
  // A call for `reg` (counted, timed, invoked or queued).
  void start_call(SessionEntry& caller, Id request, Registration& reg, std::string uri, Json args,
                  Json kwargs, const CallOptions& options, bool forwarded, Json identity);
  // False (answered with an error) when the caller has `limit` calls pending already.
  bool admit(SessionEntry& caller, Id request, std::size_t limit);
  void invoke(Registration& reg, Callee& callee, PendingCall& call);
  void drain(Registration& reg);
  // Forgets a call: timer, queue place, invocation, slot. Frees the slot and dispatches queued
  // calls of that registration when `release` is true.
  void finish(PendingCall& call, bool release);
  void fail_caller(PendingCall& call, const std::string& uri);
  void on_timeout(CallKey key);
  Removal remove_callee(Registration& reg, Id session);
  PendingCall* find_invocation(Id session, Id invocation);

  IdCounter& registration_ids_;
  IdCounter invocation_ids_;
  Env& env_;
  Trie trie_;                                              // prefix and wildcard registrations
  std::unordered_map<std::string, Registration*> exact_;   // exact registrations by URI
  std::map<Key, std::unique_ptr<Registration>> by_key_;
  std::unordered_map<Id, Registration*> by_id_;
  std::unordered_map<Id, std::vector<Registration*>> by_session_;
  std::map<CallKey, std::unique_ptr<PendingCall>> calls_;
  std::unordered_map<Id, PendingCall*> invocations_;
  std::set<std::pair<Id, Id>> by_callee_;                  // (callee session, invocation)
  std::uint64_t local_version_ = 0;
  std::unordered_map<Id, std::size_t> pending_by_caller_;   // calls_ per caller session
};

}  // namespace fox
