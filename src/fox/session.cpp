#include "fox/session.hpp"

#include <algorithm>
#include <cmath>

#include "core/auth.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/topic.hpp"
#include "fox/body.hpp"
#include "net/crypto.hpp"

namespace fox::foxp {
namespace {

constexpr const char* kLog = "fox";

// `uri` as FOX sends it: a list of parts (the reference client splits "a.b.c"); a dotted
// string is taken too. `*` and `#` parts are wildcards (kAnyPart, kAnyParts), as in fox-wamp.
bool read_uri(const Json& m, TopicParts* out, bool wildcards = true) {
  auto it = m.find("uri");
  if (it == m.end()) return false;
  out->clear();
  if (it->is_string()) {
    *out = split_topic(it->get_ref<const std::string&>());
  } else if (it->is_array() && !it->empty()) {
    for (const Json& part : *it) {
      if (!part.is_string()) return false;
      out->push_back(part.get<std::string>());
    }
  } else {
    return false;
  }
  for (std::string& part : *out) {
    if (part.find('\0') != std::string::npos) return false;   // NUL marks wildcards inside
    if (!wildcards) continue;
    if (part == "*") part = kAnyPart;
    else if (part == "#") part = kAnyParts;
  }
  return true;
}

Json uri_json(const TopicParts& parts) {
  Json out = Json::array();
  for (const std::string& p : parts) {
    out.push_back(p == kAnyPart ? std::string("*") : p == kAnyParts ? std::string("#") : p);
  }
  return out;
}

const Json& object_field(const Json& m, const char* key) {
  static const Json empty = Json::object();
  auto it = m.find(key);
  return it != m.end() && it->is_object() ? *it : empty;
}

std::string error_text(const Error& error) {
  if (error.args.is_array() && !error.args.empty() && error.args[0].is_string()) {
    return error.args[0].get<std::string>();
  }
  return error.uri;
}

}  // namespace

Session::Session(Router& router, net::Connection& connection, std::string transport)
    : router_(router), conn_(connection), transport_(std::move(transport)) {}

Session::~Session() { leave(); }

void Session::leave(const char* why) {
  if (!realm_) return;
  log::info(kLog, conn_.peer_address(), ": session ", session_id_, " left realm ",
            realm_->name(), " (", why, ")");
  Realm* realm = realm_;
  realm_ = nullptr;
  realm->leave(session_id_);
}

void Session::on_transport_closed() {
  closing_ = true;
  leave();
}

void Session::on_drain() {
  if (realm_) realm_->drained(session_id_);
}

void Session::send(Json message) {
  if (closing_) return;
  out_.clear();
  encode_message(message, out_);
  if (conn_.send(out_) == SendResult::kQueued) ++metrics::traffic(metrics::kFox).messages_sent;
}

void Session::reply_error(Id id, const std::string& code, const std::string& message) {
  send(Json{{"id", id}, {"rsp", "ERR"}, {"data", {{"code", code}, {"message", message}}}});
}

bool Session::protocol_violation(const std::string& why) {
  log::info(kLog, conn_.peer_address(), ": protocol violation: ", why, ", closing");
  closing_ = true;
  // Over WebSocket with 1003 (unsupported data), as a message the decoder refuses
  // (transports.cpp): a client sees one close code for every bad message.
  conn_.close_unsupported("protocol violation");
  leave("protocol violation");
  return false;
}

bool Session::on_message(const Json& m) {
  if (closing_) return false;
  auto ft_it = m.find("ft");
  if (ft_it == m.end() || !ft_it->is_string()) return protocol_violation("a message without ft");
  const std::string& ft = ft_it->get_ref<const std::string&>();
  metrics::Traffic& traffic = metrics::traffic(metrics::kFox);
  ++traffic.messages_received;
  if (ft == "PUSH") ++traffic.publications_received;
  if (ft == "GOODBYE") {
    closing_ = true;
    conn_.close("goodbye");
    leave("GOODBYE");
    return false;
  }
  if (ft == "CONFIRM") return true;
  if (ft == "YIELD") {
    if (!realm_) return true;   // nothing was invoked on a session that is not logged in
    yield(m);
    return !closing_;
  }
  static const char* const kCommands[] = {"LOGIN", "ECHO", "TRACE", "UNTRACE", "PUSH",
                                          "REG", "UNREG", "CALL"};
  if (std::none_of(std::begin(kCommands), std::end(kCommands),
                   [&](const char* c) { return ft == c; })) {
    return protocol_violation("unknown ft " + ft.substr(0, 64));
  }
  Id id = 0;
  auto id_it = m.find("id");
  if (id_it == m.end() || !read_id(*id_it, &id)) {
    return protocol_violation(ft + " without a valid id");
  }
  if (ft == "LOGIN") {
    login(id, m);
    return !closing_;
  }
  if (!realm_) {
    reply_error(id, "wamp.error.not_authorized", "LOGIN first");
    return true;
  }
  if (ft == "ECHO") echo(id, m);
  else if (ft == "TRACE") trace(id, m);
  else if (ft == "UNTRACE") untrace(id, m);
  else if (ft == "PUSH") push(id, m);
  else if (ft == "REG") reg(id, m);
  else if (ft == "UNREG") unreg(id, m);
  else call(id, m);
  return !closing_;
}

void Session::login(Id id, const Json& m) {
  if (realm_) {
    reply_error(id, "fox.error.already_logged_in", "already logged in to realm " + realm_->name());
    return;
  }
  const Json& data = object_field(m, "data");
  auto realm_it = data.find("realm");
  if (realm_it == data.end() || !realm_it->is_string()) {
    reply_error(id, "wamp.error.invalid_argument", "LOGIN data must be {realm: name}");
    return;
  }
  Error error;
  Realm* realm = router_.realm(realm_it->get<std::string>(), &error);
  if (!realm) {
    reply_error(id, error.uri.empty() ? "wamp.error.no_such_realm" : error.uri, error_text(error));
    return;
  }
  SessionInfo info;
  info.transport = transport_;
  info.serializer = "msgpack";
  info.peer_address = conn_.peer_address();
  // A secured realm (SPEC §6): data.auth {authid, secret} as a WAMP ticket; without it the
  // realm's anonymous role (the reference client's LOGIN has none).
  const auth::Policy* policy = router_.auth_policy();
  if (const auth::RealmPolicy* p = policy ? policy->find(realm->name()) : nullptr) {
    const Json& cred = object_field(data, "auth");
    const auto authid = cred.find("authid");
    const auto secret = cred.find("secret");
    if (authid != cred.end() || secret != cred.end()) {
      // Too many failed logins from this address: refused unchecked (core/login_limiter.hpp).
      if (const std::uint64_t ms = router_.login_blocked(info.peer_address)) {
        reply_error(id, "wamp.error.authentication_failed",
                    "too many failed logins from this address; try again in " +
                        std::to_string((ms + 999) / 1000) + " s");
        return;
      }
      const auth::User* user = authid != cred.end() && authid->is_string()
                                   ? p->user(authid->get<std::string>()) : nullptr;
      if (!user || secret == cred.end() || !secret->is_string() ||
          !net::secret_matches(user->secret, secret->get<std::string>())) {
        log::info("fox", conn_.peer_address(), ": LOGIN to realm ", realm->name(),
                  ": bad credentials");
        router_.login_failed(info.peer_address);
        reply_error(id, "wamp.error.authentication_failed", "bad authid or secret");
        return;
      }
      info.authid = authid->get<std::string>();
      info.authrole = user->role;
      info.authmethod = "ticket";
    } else if (p->anonymous_allowed) {
      info.authrole = p->anonymous_role;
    } else {
      reply_error(id, "wamp.error.no_auth_method",
                  "realm " + realm->name() + " admits no anonymous clients");
      return;
    }
  }
  realm_ = realm;
  const std::string who = info.authid.empty() ? std::string("anonymous") : info.authid;
  const std::string role = info.authrole;
  session_id_ = realm->join(*this, std::move(info));
  log::info(kLog, conn_.peer_address(), ": session ", session_id_, " joined realm ",
            realm->name(), " over ", transport_, " as ", who, ", role ", role);
  conn_.established();
  send(Json{{"id", id}, {"rsp", "OK"}});
}

void Session::echo(Id id, const Json& m) {
  auto data = m.find("data");
  send(Json{{"id", id}, {"rsp", "OK"}, {"data", data == m.end() ? Json(nullptr) : *data}});
}

void Session::trace(Id id, const Json& m) {
  SubscribeOptions o;
  o.raw = object_field(m, "opt");
  if (!parse_match(o.raw, &o.match)) {
    reply_error(id, "wamp.error.invalid_argument", "match must be exact, prefix or wildcard");
    return;
  }
  // As for WAMP: only an exact pattern has the in-band wildcards `*` and `#`.
  TopicParts topic;
  if (!read_uri(m, &topic, o.match == MatchPolicy::kExact)) {
    reply_error(id, "wamp.error.invalid_uri", "uri must be a list of parts");
    return;
  }
  // The reference client writes an event id beyond 32 bits back as float64 (`after: id`).
  if (auto after = o.raw.find("after"); after != o.raw.end() && after->is_number_float()) {
    if (Id event = 0; read_id(*after, &event)) *after = event;
  }
  SubscribeOutcome outcome = realm_->subscribe(session_id_, topic, o);
  if (!outcome.ok()) {
    reply_error(id, outcome.error.uri, error_text(outcome.error));
    return;
  }
  const Id qid = ++next_trace_;
  traces_[qid] = Trace{id, outcome.subscription};
  traces_of_[outcome.subscription].push_back(qid);
  // Two TRACEs of one topic share the router's subscription: a replay (retained values,
  // history) is for the TRACE that asked for it, the latest one, not for the others.
  if (outcome.replay.any()) replay_to_[outcome.subscription] = qid;
  send(Json{{"id", id}, {"rsp", "ACK"}, {"qid", qid}});
  realm_->replay(session_id_, outcome);
}

void Session::end_trace(Id qid, const Trace& t) {
  send(Json{{"id", t.command}, {"rsp", "OK"}, {"qid", qid}});
}

void Session::untrace(Id id, const Json& m) {
  Id qid = 0;
  auto unr = m.find("unr");
  auto it = unr != m.end() && read_id(*unr, &qid) ? traces_.find(qid) : traces_.end();
  if (it == traces_.end()) {
    reply_error(id, "wamp.error.no_such_subscription", "no such subscription");
    return;
  }
  const Trace t = it->second;
  traces_.erase(it);
  end_trace(qid, t);
  auto& qids = traces_of_[t.subscription];
  qids.erase(std::remove(qids.begin(), qids.end(), qid), qids.end());
  if (qids.empty()) {
    traces_of_.erase(t.subscription);
    replay_to_.erase(t.subscription);
    realm_->unsubscribe(session_id_, t.subscription);
  }
  send(Json{{"id", id}, {"rsp", "OK"}});
}

void Session::push(Id id, const Json& m) {
  const Json& opt = object_field(m, "opt");
  PublishOptions o;
  auto ack = m.find("ack");
  o.acknowledge = (ack != m.end() && ack->is_boolean() && ack->get<bool>()) || opt.contains("acknowledge");
  if (!optional_bool(opt, "exclude_me", &o.exclude_me) ||
      !optional_bool(opt, "disclose_me", &o.disclose_me)) {
    if (o.acknowledge) reply_error(id, "wamp.error.invalid_argument", "exclude_me and disclose_me are booleans");
    return;
  }
  Publication pub;
  std::string why;
  Body body;
  if (!read_uri(m, &pub.topic)) why = "uri must be a list of parts";
  else if (!read_body(m.contains("data") ? m["data"] : Json(nullptr), &body, &why)) {}
  if (!why.empty()) {
    if (o.acknowledge) reply_error(id, "wamp.error.invalid_argument", why);
    return;
  }
  pub.args = std::move(body.args);
  pub.kwargs = std::move(body.kwargs);
  pub.payload = std::move(body.payload);
  // A FOX value of nil (fox-wamp's publish(null)) is MQTT's "no value": an empty payload (with
  // retain it deletes the retained value), no args for WAMP, nil for FOX (reference doc §3.5).
  if (pub.args.is_null() && pub.kwargs.is_null() && !pub.payload) pub.payload.emplace();
  o.raw = opt;
  o.raw.erase("acknowledge");
  if (const Json& hdr = object_field(m, "hdr"); !hdr.empty()) {
    o.raw["headers"] = hdr;
    // send_event() reads the headers from the publication: the router keeps the options as
    // the publication's only where the publisher put them there.
    pub.options["headers"] = hdr;
  }
  // As for WAMP: acknowledged or retained publications are QoS 1 for MQTT subscribers.
  bool retain = false;
  optional_bool(opt, "retain", &retain);
  pub.qos = o.acknowledge || retain ? 1 : 0;
  realm_->publish(session_id_, id, std::move(pub), std::move(o));
}

void Session::reg(Id id, const Json& m) {
  TopicParts procedure;
  if (!read_uri(m, &procedure)) {
    reply_error(id, "wamp.error.invalid_uri", "uri must be a list of parts");
    return;
  }
  const Json& opt = object_field(m, "opt");
  RegisterOptions o;
  o.raw = opt;
  o.concurrency = 1;   // fox-wamp: one task at a time unless simultaneousTaskLimit says more
  if (auto limit = opt.find("simultaneousTaskLimit"); limit != opt.end()) {
    const double n = limit->is_number() ? limit->get<double>() : std::nan("");
    if (std::isnan(n)) {
      reply_error(id, "wamp.error.invalid_argument", "simultaneousTaskLimit must be a number");
      return;
    }
    // Below 1 (0, negative): no limit.
    o.concurrency = n < 1 ? 0 : static_cast<unsigned>(std::min(n, 1e9));
  }
  RegisterOutcome outcome = realm_->register_procedure(session_id_, procedure, o);
  if (!outcome.ok()) {
    reply_error(id, outcome.error.uri, error_text(outcome.error));
    return;
  }
  registrations_[outcome.registration] = Registration{id, procedure};
  send(Json{{"id", id}, {"rsp", "ACK"}, {"qid", outcome.registration}});
  realm_->registered(session_id_, outcome.registration);
}

void Session::unreg(Id id, const Json& m) {
  Id registration = 0;
  auto unr = m.find("unr");
  if (unr == m.end() || !read_id(*unr, &registration) || !registrations_.count(registration) ||
      !realm_->unregister(session_id_, registration)) {
    reply_error(id, "wamp.error.no_such_registration", "no such registration");
    return;
  }
  registrations_.erase(registration);
  send(Json{{"id", id}, {"rsp", "OK"}});
}

void Session::call(Id id, const Json& m) {
  TopicParts procedure;
  if (!read_uri(m, &procedure)) {
    reply_error(id, "wamp.error.invalid_uri", "uri must be a list of parts");
    return;
  }
  Body body;
  std::string why;
  if (!read_body(m.contains("data") ? m["data"] : Json(nullptr), &body, &why)) {
    reply_error(id, "wamp.error.invalid_argument", why);
    return;
  }
  if (body.payload) body.args = Json::array({Json::binary({body.payload->begin(), body.payload->end()})});
  const Json& opt = object_field(m, "opt");
  CallOptions o;
  o.raw = opt;
  o.receive_progress = true;   // the reference forwards progress (EMIT) to FOX callers unasked
  if (auto t = opt.find("timeout"); t != opt.end() && t->is_number() && t->get<double>() > 0) {
    o.timeout_ms = static_cast<std::uint64_t>(std::min(t->get<double>(), 1e12));
  }
  realm_->call(session_id_, id, procedure, std::move(body.args), std::move(body.kwargs), o);
}

void Session::yield(const Json& m) {
  Id invocation = 0;
  auto qid = m.find("qid");
  if (qid == m.end() || !read_id(*qid, &invocation)) {
    protocol_violation("YIELD without a valid qid");
    return;
  }
  auto rqt_it = m.find("rqt");
  const std::string rqt = rqt_it != m.end() && rqt_it->is_string() ? rqt_it->get<std::string>() : "OK";
  const Json data = m.contains("data") ? m["data"] : Json(nullptr);
  if (rqt == "ERR") {
    Error error;
    auto err = m.find("err");
    // A callee's own error uri, when it is one; WAMP callers validate what they get.
    const bool valid = err != m.end() && err->is_string() &&
                       valid_wamp_uri(err->get_ref<const std::string&>(), false, false);
    error.uri = valid ? err->get<std::string>() : "error.callee_failure";
    if (data.is_string()) {
      error.args = Json::array({data});   // the reference sends the message as a plain string
    } else {
      Body body;
      std::string ignored;
      if (read_body(data, &body, &ignored)) {
        error.args = std::move(body.args);
        error.kwargs = std::move(body.kwargs);
      }
    }
    realm_->invocation_error(session_id_, invocation, std::move(error));
    return;
  }
  if (rqt != "OK" && rqt != "EMIT") {
    protocol_violation("YIELD with rqt " + rqt.substr(0, 16));
    return;
  }
  Body body;
  std::string why;
  Result result;
  if (!read_body(data, &body, &why)) {
    Error error;
    error.uri = "wamp.error.invalid_argument";
    error.args = Json::array({"the callee's result: " + why});
    realm_->invocation_error(session_id_, invocation, std::move(error));
    return;
  }
  if (body.payload) body.args = Json::array({Json::binary({body.payload->begin(), body.payload->end()})});
  result.args = std::move(body.args);
  result.kwargs = std::move(body.kwargs);
  if (rqt == "EMIT") result.details["progress"] = true;
  realm_->yield(session_id_, invocation, std::move(result));
}

// ---- Peer ---------------------------------------------------------------------------------

void Session::send_published(Id request, Id publication) {
  send(Json{{"id", request}, {"rsp", "OK"}, {"qid", publication}});
}

void Session::send_event(const Delivery& delivery) {
  auto found = traces_of_.find(delivery.subscription);
  if (found == traces_of_.end()) return;
  const Publication& p = *delivery.publication;
  Json event = Json::object();
  event["rsp"] = "EVENT";
  event["uri"] = uri_json(p.topic);
  event["qid"] = p.id;
  event["opt"] = delivery.retained_replay ? Json{{"retained", true}} : Json::object();
  event["hdr"] = object_field(p.options, "headers");
  if (auto publisher = delivery.details.find("publisher"); publisher != delivery.details.end()) {
    event["sid"] = *publisher;
  }
  event["data"] = p.payload ? body_of_payload(*p.payload) : body_of(p.args, p.kwargs);
  if (delivery.replay) {
    auto target = replay_to_.find(delivery.subscription);
    auto t = target == replay_to_.end() ? traces_.end() : traces_.find(target->second);
    if (t == traces_.end()) return;   // the TRACE that asked for it is gone
    event["id"] = t->second.command;
    if (!closing_) ++metrics::traffic(metrics::kFox).publications_sent;
    send(event);
    return;
  }
  for (Id qid : found->second) {
    event["id"] = traces_[qid].command;
    if (!closing_) ++metrics::traffic(metrics::kFox).publications_sent;
    send(event);
  }
}

void Session::send_subscription_revoked(Id subscription, const std::string& reason) {
  auto found = traces_of_.find(subscription);
  if (found == traces_of_.end()) return;
  log::debug(kLog, conn_.peer_address(), ": subscription ", subscription, " ended: ", reason);
  for (Id qid : found->second) {
    auto t = traces_.find(qid);
    if (t == traces_.end()) continue;
    end_trace(qid, t->second);
    traces_.erase(t);
  }
  traces_of_.erase(found);
  replay_to_.erase(subscription);
}

void Session::send_registration_revoked(Id registration, const std::string& reason) {
  auto found = registrations_.find(registration);
  if (found == registrations_.end()) return;
  log::debug(kLog, conn_.peer_address(), ": registration ", registration, " ended: ", reason);
  send(Json{{"id", found->second.command}, {"rsp", "OK"}});
  registrations_.erase(found);
}

void Session::send_invocation(const Invocation& invocation) {
  auto found = registrations_.find(invocation.registration);
  if (found == registrations_.end()) return;
  TopicParts procedure = found->second.procedure;
  if (auto name = invocation.details.find("procedure");
      name != invocation.details.end() && name->is_string()) {
    procedure = wamp_topic_parts(name->get_ref<const std::string&>());
  }
  send(Json{{"id", found->second.command},
            {"rsp", "TASK"},
            {"uri", uri_json(procedure)},
            {"qid", invocation.request},
            {"opt", Json::object()},
            {"data", body_of(invocation.args, invocation.kwargs)}});
}

void Session::send_interrupt(Id invocation, const std::string& mode) {
  // FOX has no INTERRUPT: the callee's answer will be dropped by the router.
  log::debug(kLog, conn_.peer_address(), ": invocation ", invocation, " canceled (", mode, ")");
}

void Session::send_result(Id call_request, const Result& result) {
  auto flag = result.details.find("progress");
  const bool progress = flag != result.details.end() && flag->is_boolean() && flag->get<bool>();
  send(Json{{"id", call_request},
            {"rsp", progress ? "EMIT" : "OK"},
            {"data", body_of(result.args, result.kwargs)}});
}

void Session::send_error(RequestType, Id request, const Error& error) {
  reply_error(request, error.uri, error_text(error));
}

}  // namespace fox::foxp
