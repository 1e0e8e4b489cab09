#include "wamp/session.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "core/topic.hpp"
#include "core/payload.hpp"

namespace fox::wamp {
namespace {

constexpr const char* kLog = "wamp";
constexpr int kMaxHashParts = 3;  // in-band `#` parts in one subscription

// Reads an optional typed option; a present value of the wrong type is an error.
bool opt_bool(const Json& options, const char* key, bool* out) {
  auto it = options.find(key);
  if (it == options.end() || it->is_null()) return true;
  if (!it->is_boolean()) return false;
  *out = it->get<bool>();
  return true;
}

// True when `options[key]` is the boolean true.
bool json_true_option(const Json& options, const char* key) {
  auto it = options.find(key);
  return it != options.end() && it->is_boolean() && it->get<bool>();
}

bool opt_ids(const Json& options, const char* key, std::vector<Id>* out, bool* present) {
  auto it = options.find(key);
  if (it == options.end()) return true;
  if (!it->is_array()) return false;
  for (const auto& v : *it) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() > 0)) return false;
    out->push_back(v.get<Id>());
  }
  if (present) *present = true;
  return true;
}

bool opt_strings(const Json& options, const char* key, std::vector<std::string>* out, bool* present) {
  auto it = options.find(key);
  if (it == options.end()) return true;
  if (!it->is_array()) return false;
  for (const auto& v : *it) {
    if (!v.is_string()) return false;
    out->push_back(v.get<std::string>());
  }
  if (present) *present = true;
  return true;
}

bool parse_match(const Json& options, MatchPolicy* out) {
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

}  // namespace

Session::Session(Router& router, Transport& transport, Serializer serializer, SessionInfo info,
                 SessionOptions options)
    : router_(router), transport_(transport), serializer_(serializer), info_(std::move(info)),
      options_(options) {
  if (options_.handshake_timeout_ms > 0) {
    handshake_timer_ = router_.env().start_timer(options_.handshake_timeout_ms, [this] {
      handshake_timer_ = 0;
      if (state_ == State::kEstablished || state_ == State::kClosed || closing_) return;
      log::info(kLog, info_.peer_address, ": no HELLO within ", options_.handshake_timeout_ms,
                " ms, closing");
      closing_ = true;
      transport_.close("handshake timeout");
    });
  }
}

Session::~Session() {
  if (handshake_timer_) router_.env().cancel_timer(handshake_timer_);
  leave_realm();
}

Json Session::router_roles() {
  Json broker = {{"features",
                  {{"publisher_exclusion", true},
                   {"publisher_identification", true},
                   {"subscriber_blackwhite_listing", true},
                   {"pattern_based_subscription", true},
                   {"subscription_revocation", true},
                   {"event_retention", true},
                   {"session_meta_api", true},
                   {"subscription_meta_api", true}}}};
  Json dealer = {{"features",
                  {{"progressive_call_results", true},
                   {"call_canceling", true},
                   {"call_timeout", true},
                   {"caller_identification", true},
                   {"pattern_based_registration", true},
                   {"shared_registration", true},
                   {"session_meta_api", true},
                   {"registration_meta_api", true},
                   {"testament_meta_api", true}}}};
  return {{"broker", broker}, {"dealer", dealer}};
}

// ---- inbound -------------------------------------------------------------------------------

void Session::on_message(std::string_view bytes) {
  if (closing_ || state_ == State::kClosed) return;
  DecodeResult decoded = decode(serializer_, bytes);
  if (!decoded) {
    protocol_violation(decoded.error().reason);
    return;
  }
  Message& msg = decoded.message();
  if (state_ == State::kWaitAuthenticate) {
    if (auto* auth = std::get_if<Authenticate>(&msg)) {
      handle(*auth);
    } else {
      protocol_violation(std::string("received ") +
                         std::string(message_name(static_cast<int>(message_type(msg)))) +
                         " while waiting for AUTHENTICATE");
    }
    return;
  }
  if (state_ == State::kWaitHello) {
    if (auto* hello = std::get_if<Hello>(&msg)) {
      handle(*hello);
    } else {
      protocol_violation(std::string("received ") +
                         std::string(message_name(static_cast<int>(message_type(msg)))) +
                         " before HELLO");
    }
    return;
  }
  std::visit(
      [this](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Hello>) {
          protocol_violation("received a second HELLO");
        } else if constexpr (std::is_same_v<T, Abort>) {
          // The client gave up on the session: no reply (WAMP spec), just end it.
          log::info(kLog, info_.peer_address, ": session ", session_id_, " aborted by the client: ",
                    m.reason);
          leave_realm();
          state_ = State::kClosed;
          closing_ = true;
          transport_.close("aborted by the client");
        } else if constexpr (std::is_same_v<T, Goodbye> || std::is_same_v<T, Publish> ||
                             std::is_same_v<T, Subscribe> || std::is_same_v<T, Unsubscribe> ||
                             std::is_same_v<T, Call> || std::is_same_v<T, Cancel> ||
                             std::is_same_v<T, Register> || std::is_same_v<T, Unregister> ||
                             std::is_same_v<T, Yield> || std::is_same_v<T, wamp::Error>) {
          handle(m);
        } else {
          protocol_violation(std::string("a router does not accept ") +
                             std::string(message_name(static_cast<int>(T::kType))));
        }
      },
      msg);
}

Authenticator& Session::authenticator() {
  static AnonymousAuthenticator anonymous;  // stateless: one for every session
  return options_.authenticator ? *options_.authenticator : anonymous;
}

void Session::handle(Hello& m) {
  fox::Error error;
  Realm* realm = router_.realm(m.realm, &error);
  if (!realm) {
    std::string why = "no such realm: " + m.realm;
    if (error.args.is_array() && !error.args.empty() && error.args[0].is_string()) {
      why = error.args[0].get<std::string>();
    }
    abort(error.uri.empty() ? "wamp.error.no_such_realm" : error.uri, why);
    return;
  }
  // WAMP: a router revokes a subscription with UNSUBSCRIBED(0, details) only for subscribers that
  // announced subscription_revocation; for others the subscription just ends.
  const Json* features = &m.details;
  for (const char* key : {"roles", "subscriber", "features"}) {
    auto it = features->is_object() ? features->find(key) : features->end();
    features = (it != features->end()) ? &*it : nullptr;
    if (!features) break;
  }
  if (features && features->is_object()) {
    auto it = features->find("subscription_revocation");
    revocation_ = it != features->end() && it->is_boolean() && it->get<bool>();
  }
  pending_realm_ = realm;
  realm_name_ = m.realm;
  hello_details_ = std::move(m.details);
  apply(authenticator().hello(realm_name_, hello_details_));
}

void Session::handle(Authenticate& m) {
  AuthOutcome outcome =
      authenticator().authenticate(realm_name_, hello_details_, m.signature, m.extra);
  if (outcome.kind == AuthOutcome::Kind::kChallenge) {
    outcome = AuthOutcome::abort("wamp.error.authentication_failed", "a second challenge");
  }
  apply(outcome);
}

void Session::apply(const AuthOutcome& outcome) {
  switch (outcome.kind) {
    case AuthOutcome::Kind::kAbort:
      abort(outcome.reason, outcome.message);
      return;
    case AuthOutcome::Kind::kChallenge: {
      state_ = State::kWaitAuthenticate;
      Challenge c;
      c.authmethod = outcome.challenge_method;
      c.extra = outcome.extra.is_object() ? outcome.extra : Json::object();
      send_message(c);
      return;
    }
    case AuthOutcome::Kind::kWelcome:
      welcome(outcome);
      return;
  }
}

void Session::welcome(const AuthOutcome& outcome) {
  info_.authid = outcome.authid;
  info_.authrole = outcome.authrole;
  info_.authmethod = outcome.authmethod;
  info_.authprovider = outcome.authprovider;
  realm_ = pending_realm_;
  pending_realm_ = nullptr;
  state_ = State::kEstablished;
  if (handshake_timer_) {
    router_.env().cancel_timer(handshake_timer_);
    handshake_timer_ = 0;
  }
  session_id_ = realm_->join(*this, info_);
  Welcome w;
  w.session = session_id_;
  w.details = {{"realm", realm_name_},
               {"authid", info_.authid},
               {"authrole", info_.authrole},
               {"authmethod", info_.authmethod},
               {"authprovider", info_.authprovider},
               {"roles", router_roles()}};
  send_message(w);
  log::debug(kLog, info_.peer_address, ": session ", session_id_, " joined realm ", realm_name_,
             " as ", info_.authid, " (", info_.authrole, ")");
}

void Session::handle(Goodbye&) {
  Goodbye reply;
  reply.reason = "wamp.close.goodbye_and_out";
  send_message(reply);
  leave_realm();
  state_ = State::kClosed;
  closing_ = true;
  transport_.close("goodbye");
}

void Session::handle(Publish& m) {
  // WAMP: a failed publication is answered with ERROR only when the publisher asked for an
  // acknowledgement (a client that did not ask has no pending request to match the ERROR to).
  PublishOptions o;
  opt_bool(m.options, "acknowledge", &o.acknowledge);
  auto fail = [&](const char* uri, const std::string& message) {
    if (o.acknowledge) {
      error_reply(MessageType::kPublish, m.request, uri, message);
    } else {
      log::info(kLog, info_.peer_address, ": session ", session_id_, ": PUBLISH refused (",
                uri, "): ", message);
    }
  };
  if (!valid_wamp_uri(m.topic, /*wildcards=*/true, /*empty_parts=*/false)) {
    fail("wamp.error.invalid_uri", "invalid topic: " + m.topic);
    return;
  }
  // In-band wildcards become markers, so the router refuses them in a publication.
  TopicParts topic = wamp_pattern_parts(m.topic);
  bool ok = opt_bool(m.options, "acknowledge", &o.acknowledge) &&
            opt_bool(m.options, "exclude_me", &o.exclude_me) &&
            opt_bool(m.options, "disclose_me", &o.disclose_me) &&
            opt_ids(m.options, "exclude", &o.exclude, nullptr) &&
            opt_ids(m.options, "eligible", &o.eligible, &o.has_eligible) &&
            opt_strings(m.options, "exclude_authid", &o.exclude_authid, nullptr) &&
            opt_strings(m.options, "eligible_authid", &o.eligible_authid, &o.has_eligible_authid) &&
            opt_strings(m.options, "exclude_authrole", &o.exclude_authrole, nullptr) &&
            opt_strings(m.options, "eligible_authrole", &o.eligible_authrole,
                        &o.has_eligible_authrole);
  if (!ok) {
    fail("wamp.error.invalid_argument", "a publish option has the wrong type");
    return;
  }
  if (!m.payload.is_null()) {
    fail("wamp.error.option_not_supported", "payload passthru mode is not supported");
    return;
  }
  o.raw = std::move(m.options);
  Publication pub;
  pub.topic = std::move(topic);
  // Text without escapes is already the canonical wamp_uri(); otherwise the router makes it.
  if (m.topic.find('%') == std::string::npos) pub.uri = std::move(m.topic);
  pub.args = std::move(m.args);
  pub.kwargs = std::move(m.kwargs);
  // A WAMP publication that asked for an acknowledgement, or retains, is a QoS 1 publication
  // for MQTT subscribers (README: QoS across protocols): queued for offline persistent sessions.
  pub.qos = o.acknowledge || json_true_option(o.raw, "retain") ? 1 : 0;
  realm_->publish(session_id_, m.request, std::move(pub), o);
}

void Session::handle(Subscribe& m) {
  SubscribeOptions o;
  if (!parse_match(m.options, &o.match)) {
    error_reply(MessageType::kSubscribe, m.request, "wamp.error.invalid_argument",
                "match must be exact, prefix or wildcard");
    return;
  }
  bool ok = o.match == MatchPolicy::kPrefix
                ? valid_wamp_prefix(m.topic)
                : valid_wamp_uri(m.topic, o.match == MatchPolicy::kExact,
                            o.match == MatchPolicy::kWildcard);
  // Only the exact policy has in-band wildcards; prefix and wildcard patterns are literal parts.
  TopicParts topic =
      o.match == MatchPolicy::kExact ? wamp_pattern_parts(m.topic) : wamp_topic_parts(m.topic);
  if (ok && o.match == MatchPolicy::kExact) {
    // Each in-band `#` multiplies the work of matching a publication against the pattern:
    // at most kMaxHashParts, never two in a row (`a.#.#` means `a.#`).
    int hashes = 0;
    for (std::size_t i = 0; i < topic.size(); ++i) {
      if (topic[i] != kAnyParts) continue;
      ++hashes;
      if (i > 0 && topic[i - 1] == kAnyParts) ok = false;
    }
    if (hashes > kMaxHashParts) ok = false;
  }
  if (!ok) {
    error_reply(MessageType::kSubscribe, m.request, "wamp.error.invalid_uri",
                "invalid topic: " + m.topic);
    return;
  }
  o.raw = std::move(m.options);
  realm_->subscribe(session_id_, m.request, topic, o);
}

void Session::handle(Unsubscribe& m) { realm_->unsubscribe(session_id_, m.request, m.subscription); }

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
  realm_->register_procedure(session_id_, m.request, procedure, o);
}

void Session::handle(Unregister& m) { realm_->unregister(session_id_, m.request, m.registration); }

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

// ---- outbound ------------------------------------------------------------------------------

void Session::send_bytes(std::shared_ptr<const std::string> bytes, bool replay) {
  if (closing_) return;
  if (transport_.send(std::move(bytes), replay ? SendKind::kReplay : SendKind::kNormal) ==
      SendResult::kOverflow) {
    // A slow consumer: its queue stayed over limits.session_queue / session_queue_bytes (or grew
    // far past them). Cut it off now (a graceful close would wait for a reader that does not
    // read); the session leaves its realm when the transport reports the close, so its
    // registrations and calls end too.
    log::warn(kLog, info_.peer_address, ": session ", session_id_,
              " outbound queue stays over its limits (slow consumer), disconnecting");
    closing_ = true;
    transport_.abort("outbound queue full");
  }
}

void Session::send_message(const Message& message) {
  if (closing_) return;
  send_bytes(std::make_shared<const std::string>(encode(serializer_, message)));
}

void Session::abort(const std::string& reason, const std::string& message) {
  if (closing_) return;
  Abort a;
  a.reason = reason;
  a.details = {{"message", message}};
  send_message(a);
  log::info(kLog, info_.peer_address, ": ABORT ", reason, ": ", message);
  leave_realm();
  state_ = State::kClosed;
  closing_ = true;
  transport_.close(reason);
}

void Session::protocol_violation(const std::string& message) {
  abort("wamp.error.protocol_violation", message);
}

void Session::error_reply(MessageType request_type, Id request, const std::string& uri,
                          const std::string& message) {
  log::info(kLog, info_.peer_address, ": session ", session_id_, ": ERROR ", uri, " for ",
            message_name(static_cast<int>(request_type)), ": ", message);
  wamp::Error e;
  e.request_type = static_cast<int>(request_type);
  e.request = request;
  e.error = uri;
  e.args = Json::array({message});
  send_message(e);
}

void Session::leave_realm() {
  if (!realm_ || session_id_ == 0) return;
  Realm* realm = realm_;
  realm_ = nullptr;
  realm->leave(session_id_);
}

void Session::on_transport_closed() {
  closing_ = true;
  state_ = State::kClosed;
  leave_realm();
}

void Session::send_published(Id request, Id publication) {
  send_message(Published{request, publication});
}

void Session::send_subscribed(Id request, Id subscription) {
  send_message(Subscribed{request, subscription});
}

void Session::send_unsubscribed(Id request) { send_message(Unsubscribed{request, nullptr}); }

void Session::send_event(const fox::Event& event) {
  if (closing_) return;
  // One encoding per (subscription, serializer), shared by every receiver of this Event.
  auto& slot = event.encoded.slot[static_cast<int>(serializer_)];
  if (!slot) {
    const Publication& p = *event.publication;
    if (p.payload && p.args.is_null()) {
      slot = std::make_shared<const std::string>(encode_event(
          serializer_, event.subscription, p.id, event.details, args_from_payload(*p.payload),
          p.kwargs));
    } else {
      slot = std::make_shared<const std::string>(
          encode_event(serializer_, event.subscription, p.id, event.details, p.args, p.kwargs));
    }
  }
  send_bytes(slot, event.replay);
}

void Session::send_subscription_revoked(Id subscription, const std::string& reason) {
  if (!revocation_) return;
  send_message(Unsubscribed{0, {{"subscription", subscription}, {"reason", reason}}});
}

void Session::send_registered(Id request, Id registration) {
  send_message(Registered{request, registration});
}

void Session::send_unregistered(Id request) { send_message(Unregistered{request, nullptr}); }

void Session::send_registration_revoked(Id registration, const std::string& reason) {
  send_message(Unregistered{0, {{"registration", registration}, {"reason", reason}}});
}

void Session::send_invocation(const fox::Invocation& inv) {
  wamp::Invocation m;
  m.request = inv.request;
  m.registration = inv.registration;
  m.details = inv.details;
  m.args = inv.args;
  m.kwargs = inv.kwargs;
  send_message(m);
}

void Session::send_interrupt(Id invocation, const std::string& mode) {
  send_message(Interrupt{invocation, {{"mode", mode}}});
}

void Session::send_result(Id call_request, const fox::Result& result) {
  wamp::Result m;
  m.request = call_request;
  m.details = result.details.is_object() ? result.details : Json::object();
  m.args = result.args;
  m.kwargs = result.kwargs;
  send_message(m);
}

void Session::send_error(RequestType type, Id request, const fox::Error& error) {
  wamp::Error m;
  m.request_type = static_cast<int>(type);
  m.request = request;
  m.details = error.details.is_object() ? error.details : Json::object();
  m.error = error.uri;
  m.args = error.args;
  m.kwargs = error.kwargs;
  send_message(m);
}

}  // namespace fox::wamp
