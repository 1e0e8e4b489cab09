// PUBLISH, SUBSCRIBE (then the replays it asked for), UNSUBSCRIBE.
#include "core/log.hpp"
#include "core/topic.hpp"
#include "wamp/session.hpp"
#include "wamp/options.hpp"

namespace fox::wamp {
namespace {
constexpr const char* kLog = "wamp";
constexpr int kMaxHashParts = 3;  // in-band `#` parts in one subscription
}  // namespace

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
  realm_->publish(session_id_, m.request, std::move(pub), std::move(o));
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
  SubscribeOutcome outcome = realm_->subscribe(session_id_, topic, o);
  if (!outcome.ok()) {
    send_router_error(MessageType::kSubscribe, m.request, outcome.error);
    return;
  }
  send_message(Subscribed{m.request, outcome.subscription});
  // Only now that the client knows the subscription id may its replays reach it.
  realm_->replay(session_id_, outcome);
}

void Session::handle(Unsubscribe& m) {
  if (!realm_->unsubscribe(session_id_, m.subscription)) {
    send_router_error(MessageType::kUnsubscribe, m.request,
                      fox::Error{"wamp.error.no_such_subscription", nullptr, nullptr, Json::object()});
    return;
  }
  send_message(Unsubscribed{m.request, nullptr});
}

}  // namespace fox::wamp
