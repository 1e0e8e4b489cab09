#include "wamp/session.hpp"

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/payload.hpp"

namespace fox::wamp {
namespace {
constexpr const char* kLog = "wamp";
}  // namespace

Session::Session(Router& router, net::Connection& connection, Serializer serializer,
                 SessionInfo info, SessionOptions options)
    : router_(router), conn_(connection), serializer_(serializer), info_(std::move(info)),
      options_(options) {}

Session::~Session() { leave_realm(); }

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
  metrics::Traffic& traffic = metrics::traffic(metrics::kWamp);
  ++traffic.messages_received;
  if (std::holds_alternative<Publish>(msg)) ++traffic.publications_received;
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
          leave_realm("ABORT by the client");
          state_ = State::kClosed;
          closing_ = true;
          conn_.close("aborted by the client");
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

// ---- outbound ------------------------------------------------------------------------------

void Session::send_bytes(std::shared_ptr<const std::string> bytes) {
  if (closing_) return;
  // A slow consumer is cut off by the connection itself (net/connection.hpp); the session leaves
  // its realm when the connection reports the close, so its registrations and calls end too.
  const SendResult r = conn_.send(std::move(bytes));
  if (r == SendResult::kQueued) ++metrics::traffic(metrics::kWamp).messages_sent;
  if (r == SendResult::kOverflow) closing_ = true;
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
  leave_realm("ABORT by the router");
  state_ = State::kClosed;
  closing_ = true;
  conn_.close(reason);
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

void Session::leave_realm(const char* why) {
  if (!realm_ || session_id_ == 0) return;
  log::info(kLog, info_.peer_address, ": session ", session_id_, " left realm ", realm_name_,
            " (", why, ")");
  Realm* realm = realm_;
  realm_ = nullptr;
  realm->leave(session_id_);
}

void Session::on_transport_closed() {
  closing_ = true;
  state_ = State::kClosed;
  leave_realm();
}

void Session::on_drain() {
  if (realm_ && session_id_ != 0 && !closing_) realm_->drained(session_id_);
}

// An error the router returned for a request (a refused subscribe or register).
void Session::send_router_error(MessageType request_type, Id request, const fox::Error& error) {
  send_error(static_cast<RequestType>(request_type), request, error);
}

void Session::send_published(Id request, Id publication) {
  send_message(Published{request, publication});
}

void Session::send_event(const fox::Delivery& event) {
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
  send_bytes(slot);
  if (!closing_) ++metrics::traffic(metrics::kWamp).publications_sent;
}

void Session::send_subscription_revoked(Id subscription, const std::string& reason) {
  if (!revocation_) return;
  send_message(Unsubscribed{0, {{"subscription", subscription}, {"reason", reason}}});
}

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
