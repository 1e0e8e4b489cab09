// CALL, CANCEL, REGISTER, UNREGISTER, YIELD, and ERROR for an INVOCATION.
#include "core/topic.hpp"
#include "wamp/session.hpp"
#include "wamp/options.hpp"

namespace fox::wamp {

void Session::handle(Call& m) {
  if (!valid_wamp_uri(m.procedure, false, false)) {
    error_reply(MessageType::kCall, m.request, "wamp.error.invalid_uri",
                "invalid procedure: " + m.procedure);
    return;
  }
  CallOptions o;
  bool ok = opt_bool(m.options, "receive_progress", &o.receive_progress) &&
            opt_bool(m.options, "disclose_me", &o.disclose_me);
  auto t = m.options.find("timeout");
  if (t != m.options.end() && !t->is_null()) {
    if (t->is_number_unsigned() || (t->is_number_integer() && t->get<std::int64_t>() >= 0)) {
      o.timeout_ms = t->get<std::uint64_t>();
    } else {
      ok = false;
    }
  }
  if (!ok) {
    error_reply(MessageType::kCall, m.request, "wamp.error.invalid_argument",
                "a call option has the wrong type");
    return;
  }
  if (!m.payload.is_null()) {
    error_reply(MessageType::kCall, m.request, "wamp.error.option_not_supported",
                "payload passthru mode is not supported");
    return;
  }
  o.raw = std::move(m.options);
  realm_->call(session_id_, m.request, wamp_topic_parts(m.procedure), std::move(m.args),
               std::move(m.kwargs), o);
}

void Session::handle(Cancel& m) {
  CancelMode mode = CancelMode::kKillNoWait;
  auto it = m.options.find("mode");
  if (it != m.options.end() && it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if (s == "skip") mode = CancelMode::kSkip;
    else if (s == "kill") mode = CancelMode::kKill;
    else if (s == "killnowait") mode = CancelMode::kKillNoWait;
    else {
      error_reply(MessageType::kCall, m.request, "wamp.error.invalid_argument",
                  "cancel mode must be skip, kill or killnowait");
      return;
    }
  }
  realm_->cancel(session_id_, m.request, mode);
}

void Session::handle(Register& m) {
  RegisterOptions o;
  if (!parse_match(m.options, &o.match)) {
    error_reply(MessageType::kRegister, m.request, "wamp.error.invalid_argument",
                "match must be exact, prefix or wildcard");
    return;
  }
  auto inv = m.options.find("invoke");
  if (inv != m.options.end() && !inv->is_null()) {
    std::string s = inv->is_string() ? inv->get<std::string>() : "";
    if (s == "single") o.invoke = InvokePolicy::kSingle;
    else if (s == "roundrobin") o.invoke = InvokePolicy::kRoundRobin;
    else if (s == "random") o.invoke = InvokePolicy::kRandom;
    else if (s == "first") o.invoke = InvokePolicy::kFirst;
    else if (s == "last") o.invoke = InvokePolicy::kLast;
    else {
      error_reply(MessageType::kRegister, m.request, "wamp.error.invalid_argument",
                  "invoke must be single, roundrobin, random, first or last");
      return;
    }
  }
  auto conc = m.options.find("concurrency");
  if (conc != m.options.end() && !conc->is_null()) {
    if (!conc->is_number_integer() || conc->get<std::int64_t>() < 1 ||
        conc->get<std::int64_t>() > 1000000) {
      error_reply(MessageType::kRegister, m.request, "wamp.error.invalid_argument",
                  "concurrency must be a positive integer");
      return;
    }
    o.concurrency = static_cast<unsigned>(conc->get<std::int64_t>());
  }
  if (!opt_bool(m.options, "disclose_caller", &o.disclose_caller)) {
    error_reply(MessageType::kRegister, m.request, "wamp.error.invalid_argument",
                "disclose_caller must be a boolean");
    return;
  }
  bool ok = o.match == MatchPolicy::kPrefix
                ? valid_wamp_prefix(m.procedure)
                : valid_wamp_uri(m.procedure, false, o.match == MatchPolicy::kWildcard);
  TopicParts procedure = wamp_topic_parts(m.procedure);
  if (!ok) {
    error_reply(MessageType::kRegister, m.request, "wamp.error.invalid_uri",
                "invalid procedure: " + m.procedure);
    return;
  }
  o.raw = std::move(m.options);
  RegisterOutcome outcome = realm_->register_procedure(session_id_, procedure, o);
  if (!outcome.ok()) {
    send_router_error(MessageType::kRegister, m.request, outcome.error);
    return;
  }
  send_message(Registered{m.request, outcome.registration});
  // Only now that the callee knows the registration id may queued calls reach it.
  realm_->registered(session_id_, outcome.registration);
}

void Session::handle(Unregister& m) {
  if (!realm_->unregister(session_id_, m.registration)) {
    send_router_error(MessageType::kUnregister, m.request,
                      fox::Error{"wamp.error.no_such_registration", nullptr, nullptr, Json::object()});
    return;
  }
  send_message(Unregistered{m.request, nullptr});
}

void Session::handle(Yield& m) {
  fox::Result r;
  bool progress = false;
  opt_bool(m.options, "progress", &progress);
  if (progress) r.details["progress"] = true;
  r.args = std::move(m.args);
  r.kwargs = std::move(m.kwargs);
  realm_->yield(session_id_, m.request, std::move(r));
}

void Session::handle(wamp::Error& m) {
  if (m.request_type != static_cast<int>(MessageType::kInvocation)) {
    protocol_violation("a client may only send ERROR for an INVOCATION");
    return;
  }
  fox::Error e;
  e.uri = std::move(m.error);
  e.args = std::move(m.args);
  e.kwargs = std::move(m.kwargs);
  e.details = std::move(m.details);
  realm_->invocation_error(session_id_, m.request, std::move(e));
}

}  // namespace fox::wamp
