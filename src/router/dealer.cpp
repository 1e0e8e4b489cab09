#include "router/dealer.hpp"

#include <algorithm>

#include "core/topic.hpp"

namespace fox {

namespace {

constexpr const char* kCanceled = "wamp.error.canceled";
constexpr const char* kNoSuchProcedure = "wamp.error.no_such_procedure";

bool has_room(const Callee& callee) {
  return callee.concurrency == 0 || callee.outstanding < callee.concurrency;
}

bool is_progress(const Json& details) {
  if (!details.is_object()) return false;
  auto it = details.find("progress");
  return it != details.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

Dealer::Dealer(IdCounter& registration_ids, Env& env)
    : registration_ids_(registration_ids), env_(env) {}

Dealer::~Dealer() {
  for (auto& [key, call] : calls_) {
    if (call->timer != 0) env_.cancel_timer(call->timer);
  }
}

Id Dealer::register_procedure(SessionEntry& callee, const TopicParts& procedure,
                              const RegisterOptions& options, bool* created, Error* error,
                              bool remote, std::uint64_t at) {
  if (created) *created = false;
  std::string uri = wamp_uri(procedure);
  auto& slot = by_key_[Key(uri, options.match)];
  if (slot) {
    Registration& reg = *slot;
    bool already = std::any_of(reg.callees.begin(), reg.callees.end(),
                               [&](const Callee& c) { return c.session == &callee; });
    if (reg.invoke == InvokePolicy::kSingle || reg.invoke != options.invoke || already) {
      if (error) *error = make_error("wamp.error.procedure_already_exists");
      return 0;
    }
  } else {
    slot = std::make_unique<Registration>();
    Registration& reg = *slot;
    reg.id = registration_ids_.next();
    reg.procedure = procedure;
    reg.uri = std::move(uri);
    reg.match = options.match;
    reg.invoke = options.invoke;
    reg.created_ms = env_.now_ms();
    if (reg.match == MatchPolicy::kWildcard) reg.rank = wildcard_rank(reg.procedure);
    if (reg.match == MatchPolicy::kExact) {
      exact_[reg.uri] = &reg;
    } else {
      trie_.insert(reg.procedure, reg.match, &reg);
    }
    by_id_[reg.id] = &reg;
    if (created) *created = true;
  }
  Registration& reg = *slot;
  Callee added{&callee, options.concurrency, 0, options.disclose_caller, remote,
               remote ? at : env_.now_ms()};
  if (!remote) {
    reg.callees.push_back(added);
  } else {
    // Another node's callees take their place by when they registered there (`first`/`last`
    // then mean the same on every node, up to the nodes' clocks).
    auto pos = std::find_if(reg.callees.begin(), reg.callees.end(),
                            [at](const Callee& c) { return c.at > at; });
    const auto index = static_cast<std::size_t>(pos - reg.callees.begin());
    reg.callees.insert(pos, added);
    if (reg.callees.size() > 1 && index <= reg.next_callee) ++reg.next_callee;
    if (reg.next_callee >= reg.callees.size()) reg.next_callee = 0;
  }
  by_session_[callee.id].push_back(&reg);
  if (!remote) ++local_version_;
  return reg.id;
}

void Dealer::dispatch_queued(Id registration) {
  auto it = by_id_.find(registration);
  if (it != by_id_.end()) drain(*it->second);
}

bool Dealer::unregister(Id session, Id registration, Removal* removal) {
  auto reg_it = by_id_.find(registration);
  if (reg_it == by_id_.end()) return false;
  auto session_it = by_session_.find(session);
  if (session_it == by_session_.end()) return false;
  auto& mine = session_it->second;
  auto mine_it = std::find(mine.begin(), mine.end(), reg_it->second);
  if (mine_it == mine.end()) return false;
  mine.erase(mine_it);
  if (mine.empty()) by_session_.erase(session_it);
  Removal result = remove_callee(*reg_it->second, session);
  if (removal) *removal = result;
  return true;
}

std::vector<Dealer::Removal> Dealer::remove_session(Id session) {
  // As callee first: a call of the leaving session that frees a slot below must not hand a queued
  // call to the leaving session's own registrations.
  std::vector<Removal> removals;
  auto it = by_session_.find(session);
  if (it != by_session_.end()) {
    std::vector<Registration*> mine = std::move(it->second);
    by_session_.erase(it);
    removals.reserve(mine.size());
    for (Registration* reg : mine) removals.push_back(remove_callee(*reg, session));
  }

  // Then as caller. Queued calls go first: freeing a slot below must not dispatch another call of
  // the leaving caller.
  std::vector<PendingCall*> queued, invoked;
  for (auto c = calls_.lower_bound(CallKey(session, 0));
       c != calls_.end() && c->first.first == session; ++c) {
    (c->second->invocation == 0 ? queued : invoked).push_back(c->second.get());
  }
  for (PendingCall* call : queued) finish(*call, false);
  for (PendingCall* call : invoked) {
    call->callee->peer->send_interrupt(call->invocation, "killnowait");
    finish(*call, true);
  }
  return removals;
}

Dealer::Removal Dealer::remove_callee(Registration& reg, Id session) {
  Removal removal{reg.id, false};
  auto& callees = reg.callees;
  auto pos = std::find_if(callees.begin(), callees.end(),
                          [session](const Callee& c) { return c.session->id == session; });
  if (pos != callees.end()) {
    std::size_t index = static_cast<std::size_t>(pos - callees.begin());
    if (!pos->remote) ++local_version_;
    callees.erase(pos);
    if (reg.next_callee > index) --reg.next_callee;
    if (reg.next_callee >= callees.size()) reg.next_callee = 0;
  }

  // Its in-flight invocations on this registration will never be answered.
  std::vector<PendingCall*> lost;
  for (auto it = by_callee_.lower_bound({session, 0}); it != by_callee_.end() && it->first == session;
       ++it) {
    PendingCall* call = invocations_[it->second];
    if (call->registration == reg.id) lost.push_back(call);
  }
  for (PendingCall* call : lost) {
    if (!call->caller_answered) fail_caller(*call, kCanceled);
    finish(*call, false);
  }

  // No callee left: queued calls can never run; forwarded ones need a local callee.
  const bool local_left = std::any_of(callees.begin(), callees.end(),
                                      [](const Callee& c) { return !c.remote; });
  std::vector<PendingCall*> queued;
  for (PendingCall* call : reg.queue) {
    if (callees.empty() || (call->forwarded && !local_left)) queued.push_back(call);
  }
  for (PendingCall* call : queued) {
    fail_caller(*call, kNoSuchProcedure);
    finish(*call, false);
  }
  if (!callees.empty()) {
    drain(reg);   // the calls that waited behind ones that went may have room now
    return removal;
  }
  removal.deleted = true;
  if (reg.match == MatchPolicy::kExact) {
    exact_.erase(reg.uri);
  } else {
    trie_.erase(reg.procedure, reg.match, &reg);
  }
  by_id_.erase(reg.id);
  by_key_.erase(Key(reg.uri, reg.match));  // destroys `reg`
  return removal;
}

Registration* Dealer::lookup(const TopicParts& procedure, const std::string& uri) {
  auto exact = exact_.find(uri);
  if (exact != exact_.end()) return exact->second;
  std::vector<TrieEntry*> found;
  trie_.match(procedure, found);
  Registration* best_prefix = nullptr;
  Registration* best_wildcard = nullptr;
  for (TrieEntry* entry : found) {
    auto* reg = static_cast<Registration*>(entry);
    if (reg->match == MatchPolicy::kPrefix) {
      if (!best_prefix || reg->uri.size() > best_prefix->uri.size()) best_prefix = reg;
    } else if (reg->match == MatchPolicy::kWildcard) {
      if (!best_wildcard || reg->rank > best_wildcard->rank) best_wildcard = reg;
    }
  }
  return best_prefix ? best_prefix : best_wildcard;
}

const Registration* Dealer::best_match(const TopicParts& procedure, const std::string& uri) {
  return lookup(procedure, uri);
}

Callee* Dealer::pick_callee(Registration& reg, bool local_only) {
  auto& callees = reg.callees;
  const std::size_t count = callees.size();
  if (count == 0) return nullptr;
  // A callee at its concurrency limit is passed over; if all are, the call waits in the queue.
  auto fits = [local_only](const Callee& callee) {
    return !(local_only && callee.remote) && has_room(callee);
  };
  switch (reg.invoke) {
    case InvokePolicy::kSingle:
    case InvokePolicy::kFirst:
      for (auto& callee : callees) {
        if (fits(callee)) return &callee;
      }
      return nullptr;
    case InvokePolicy::kLast:
      for (auto it = callees.rbegin(); it != callees.rend(); ++it) {
        if (fits(*it)) return &*it;
      }
      return nullptr;
    case InvokePolicy::kRoundRobin:
      for (std::size_t step = 0; step < count; ++step) {
        std::size_t index = (reg.next_callee + step) % count;
        if (!fits(callees[index])) continue;
        reg.next_callee = (index + 1) % count;
        return &callees[index];
      }
      return nullptr;
    case InvokePolicy::kRandom: {
      std::size_t free = 0;
      for (const auto& callee : callees) free += fits(callee) ? 1 : 0;
      if (free == 0) return nullptr;
      std::size_t chosen = static_cast<std::size_t>(env_.random64() % free);
      for (auto& callee : callees) {
        if (!fits(callee)) continue;
        if (chosen == 0) return &callee;
        --chosen;
      }
      return nullptr;
    }
  }
  return nullptr;
}

void Dealer::invoke(Registration& reg, Callee& callee, PendingCall& call) {
  ++callee.outstanding;
  call.invocation = invocation_ids_.next();
  call.callee = callee.session;
  invocations_[call.invocation] = &call;
  by_callee_.insert({callee.session->id, call.invocation});

  Invocation invocation;
  invocation.request = call.invocation;
  invocation.registration = reg.id;
  if (reg.match != MatchPolicy::kExact) invocation.details["procedure"] = call.uri;
  if (call.options.receive_progress) invocation.details["receive_progress"] = true;
  if (callee.remote) {
    // The node of the callee decides what its callee is told (its disclose_caller).
    invocation.details["caller"] = Json{{"id", call.caller->id},
                                        {"authid", call.caller->info.authid},
                                        {"authrole", call.caller->info.authrole}};
    if (call.options.disclose_me) invocation.details["disclose_me"] = true;
  } else if (call.options.disclose_me || callee.disclose_caller) {
    const bool far = call.caller_identity.is_object();
    invocation.details["caller"] = far ? call.caller_identity.value("id", Json(0)) : Json(call.caller->id);
    invocation.details["caller_authid"] =
        far ? call.caller_identity.value("authid", Json("")) : Json(call.caller->info.authid);
    invocation.details["caller_authrole"] =
        far ? call.caller_identity.value("authrole", Json("")) : Json(call.caller->info.authrole);
  }
  // The call is invoked once: its payload moves into the invocation, never copied.
  invocation.args = std::move(call.args);
  invocation.kwargs = std::move(call.kwargs);
  callee.session->peer->send_invocation(invocation);
}

void Dealer::drain(Registration& reg) {
  // FIFO, except that a forwarded call (local callees only) that cannot be placed does not hold
  // up the calls behind it that may go to another node.
  for (auto it = reg.queue.begin(); it != reg.queue.end();) {
    PendingCall* call = *it;
    Callee* callee = pick_callee(reg, call->forwarded);
    if (!callee) {
      if (!call->forwarded) return;
      ++it;
      continue;
    }
    it = reg.queue.erase(it);
    call->queued = false;
    invoke(reg, *callee, *call);
  }
}

bool Dealer::admit(SessionEntry& caller, Id request, std::size_t limit) {
  const CallKey key(caller.id, request);
  if (calls_.count(key) != 0) {
    Error error = make_error("wamp.error.invalid_argument");
    error.args = Json::array({"request id already in use by a pending call"});
    caller.peer->send_error(RequestType::kCall, request, error);
    return false;
  }
  // Bounded: at most `limit` calls of one session wait or run at a time.
  auto pending = pending_by_caller_.find(caller.id);
  if (pending == pending_by_caller_.end() || pending->second < limit) return true;
  Error error = make_error("wamp.error.invalid_argument");
  error.args = Json::array({"too many pending calls (at most " + std::to_string(limit) +
                            " per session)"});
  caller.peer->send_error(RequestType::kCall, request, error);
  return false;
}

void Dealer::call(SessionEntry& caller, Id request, const TopicParts& procedure, Json args,
                  Json kwargs, const CallOptions& options) {
  if (!admit(caller, request, kMaxPendingCallsPerSession)) return;
  std::string uri = wamp_uri(procedure);
  Registration* reg = lookup(procedure, uri);
  if (!reg) {
    Error error = make_error(kNoSuchProcedure);
    error.args = Json::array({"no callee registered for procedure " + uri});
    caller.peer->send_error(RequestType::kCall, request, error);
    return;
  }
  start_call(caller, request, *reg, std::move(uri), std::move(args), std::move(kwargs), options,
             false, nullptr);
}

void Dealer::call_forwarded(SessionEntry& proxy, Id request, const std::string& uri,
                            MatchPolicy match, const TopicParts& procedure, Json args,
                            Json kwargs, const CallOptions& options, Json caller) {
  if (!admit(proxy, request, kMaxForwardedCalls)) return;
  auto it = by_key_.find(Key(uri, match));
  const bool local = it != by_key_.end() &&
                     std::any_of(it->second->callees.begin(), it->second->callees.end(),
                                 [](const Callee& c) { return !c.remote; });
  if (!local) {
    // Its callee here left while the call travelled.
    Error error = make_error(kNoSuchProcedure);
    error.args = Json::array({"no callee registered for procedure " + uri});
    proxy.peer->send_error(RequestType::kCall, request, error);
    return;
  }
  start_call(proxy, request, *it->second, wamp_uri(procedure), std::move(args), std::move(kwargs),
             options, true, std::move(caller));
}

void Dealer::start_call(SessionEntry& caller, Id request, Registration& reg, std::string uri,
                        Json args, Json kwargs, const CallOptions& options, bool forwarded,
                        Json identity) {
  const CallKey key(caller.id, request);
  auto owned = std::make_unique<PendingCall>();
  PendingCall& call = *owned;
  call.caller = &caller;
  call.request = request;
  call.uri = std::move(uri);
  call.args = std::move(args);
  call.kwargs = std::move(kwargs);
  call.options = options;
  call.registration = reg.id;
  call.forwarded = forwarded;
  call.caller_identity = std::move(identity);
  calls_.emplace(key, std::move(owned));
  ++pending_by_caller_[caller.id];
  // The timeout counts from the CALL, so time spent queued counts too.
  if (options.timeout_ms > 0) {
    call.timer = env_.start_timer(options.timeout_ms, [this, key] { on_timeout(key); });
  }
  Callee* callee = reg.queue.empty() ? pick_callee(reg, forwarded) : nullptr;
  if (!callee) {
    call.queued = true;
    call.queue_position = reg.queue.insert(reg.queue.end(), &call);
    return;
  }
  invoke(reg, *callee, call);
}

void Dealer::fail_caller(PendingCall& call, const std::string& uri) {
  call.caller_answered = true;
  call.caller->peer->send_error(RequestType::kCall, call.request, make_error(uri));
}

void Dealer::finish(PendingCall& call, bool release) {
  if (call.timer != 0) {
    env_.cancel_timer(call.timer);
    call.timer = 0;
  }
  Registration* reg = nullptr;
  auto reg_it = by_id_.find(call.registration);
  if (reg_it != by_id_.end()) reg = reg_it->second;
  if (call.queued && reg) reg->queue.erase(call.queue_position);
  Id callee_session = 0;
  if (call.invocation != 0) {
    invocations_.erase(call.invocation);
    callee_session = call.callee->id;
    by_callee_.erase({callee_session, call.invocation});
  }
  const Id caller_id = call.caller->id;
  if (auto p = pending_by_caller_.find(caller_id); p != pending_by_caller_.end() && --p->second == 0) {
    pending_by_caller_.erase(p);
  }
  calls_.erase(CallKey(caller_id, call.request));  // destroys `call`
  if (!release || callee_session == 0 || !reg) return;
  for (auto& callee : reg->callees) {
    if (callee.session->id == callee_session && callee.outstanding > 0) --callee.outstanding;
  }
  drain(*reg);
}

void Dealer::on_timeout(CallKey key) {
  auto it = calls_.find(key);
  if (it == calls_.end()) return;
  PendingCall& call = *it->second;
  call.timer = 0;  // fired: nothing to cancel
  if (call.invocation != 0) call.callee->peer->send_interrupt(call.invocation, "killnowait");
  if (!call.caller_answered) fail_caller(call, kCanceled);
  finish(call, true);
}

void Dealer::cancel(Id session, Id request, CancelMode mode) {
  auto it = calls_.find(CallKey(session, request));
  if (it == calls_.end()) return;
  PendingCall& call = *it->second;
  if (call.caller_answered) return;
  if (call.invocation == 0) {  // still queued: the callee never heard of it
    fail_caller(call, kCanceled);
    finish(call, false);
    return;
  }
  switch (mode) {
    case CancelMode::kSkip:
      // The callee keeps working and keeps its slot until it answers; the answer is dropped.
      if (call.timer != 0) {
        env_.cancel_timer(call.timer);
        call.timer = 0;
      }
      fail_caller(call, kCanceled);
      return;
    case CancelMode::kKill:
      if (call.interrupted) return;
      call.interrupted = true;
      call.callee->peer->send_interrupt(call.invocation, "kill");
      return;
    case CancelMode::kKillNoWait:
      call.callee->peer->send_interrupt(call.invocation, "killnowait");
      fail_caller(call, kCanceled);
      finish(call, true);
      return;
  }
}

PendingCall* Dealer::find_invocation(Id session, Id invocation) {
  auto it = invocations_.find(invocation);
  if (it == invocations_.end()) return nullptr;
  // Only the callee that got the invocation may answer it.
  if (it->second->callee == nullptr || it->second->callee->id != session) return nullptr;
  return it->second;
}

void Dealer::yield(Id session, Id invocation, Result result) {
  PendingCall* call = find_invocation(session, invocation);
  if (!call) return;
  if (is_progress(result.details)) {
    if (call->caller_answered || !call->options.receive_progress) return;
    Result progress;
    progress.details["progress"] = true;
    progress.args = std::move(result.args);
    progress.kwargs = std::move(result.kwargs);
    call->caller->peer->send_result(call->request, progress);
    return;
  }
  if (!call->caller_answered) {
    Result final_result;
    final_result.args = std::move(result.args);
    final_result.kwargs = std::move(result.kwargs);
    call->caller_answered = true;
    call->caller->peer->send_result(call->request, final_result);
  }
  finish(*call, true);
}

void Dealer::invocation_error(Id session, Id invocation, Error error) {
  PendingCall* call = find_invocation(session, invocation);
  if (!call) return;
  if (!call->caller_answered) {
    // The callee's error reaches the caller unchanged (URI, args, kwargs).
    error.details = Json::object();
    call->caller_answered = true;
    call->caller->peer->send_error(RequestType::kCall, call->request, error);
  }
  finish(*call, true);
}

const Registration* Dealer::find(Id registration) const {
  auto it = by_id_.find(registration);
  return it == by_id_.end() ? nullptr : it->second;
}

const Registration* Dealer::find(const std::string& uri, MatchPolicy match) const {
  auto it = by_key_.find(Key(uri, match));
  return it == by_key_.end() ? nullptr : it->second.get();
}

std::vector<const Registration*> Dealer::all() const {
  std::vector<const Registration*> out;
  out.reserve(by_key_.size());
  for (const auto& [key, reg] : by_key_) out.push_back(reg.get());
  return out;
}

}  // namespace fox
