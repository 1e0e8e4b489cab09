#include "cli/wamp_client.hpp"

#include "build_info.hpp"
#include "core/log.hpp"
#include "net/ws_client.hpp"
#include "wamp/codec.hpp"

namespace fox::cli {

namespace {
constexpr std::uint64_t kConnectTimeoutMs = 10'000;
constexpr std::uint64_t kLeaveTimeoutMs = 2'000;
constexpr std::size_t kMaxMessage = 16u * 1024 * 1024;
constexpr const char* kHelloDetails =
    R"({"agent":"fox )" FOX_VERSION R"(","roles":{)"
    R"("publisher":{"features":{"publisher_exclusion":true}},)"
    R"("subscriber":{"features":{"pattern_based_subscription":true,"subscription_revocation":true}},)"
    R"("caller":{"features":{}},"callee":{"features":{}}}})";
}  // namespace

std::string WampError::text() const {
  std::string out = uri;
  if (args.is_array() && !args.empty()) {
    out += ": ";
    out += args[0].is_string() ? args[0].get<std::string>() : dump_json(args);
  }
  if (kwargs.is_object() && !kwargs.empty()) out += " " + dump_json(kwargs);
  return out;
}

WampClient::WampClient(uv_loop_t* loop, net::UvEnv& timers) : loop_(loop), timers_(timers) {}

WampClient::~WampClient() { shutdown(); }

bool WampClient::connect(const WsUrl& url, const std::string& realm, WelcomeFn on_welcome,
                         CloseFn on_close, std::string* error) {
  url_ = url;
  realm_ = realm;
  on_welcome_ = std::move(on_welcome);
  on_close_ = std::move(on_close);
  net::lws_logs_to_debug();

  net::WsClientOptions o;
  o.host = url_.host;
  o.port = url_.port;
  o.path = url_.path;
  o.subprotocol = "wamp.2.json";
  o.binary = false;
  o.max_message_size = kMaxMessage;
  o.env = &timers_;
  o.connect_timeout_s = static_cast<int>(kConnectTimeoutMs / 1000);
  if (url_.tls) o.ca_file = url_.ca_file;
  auto link = std::make_unique<Link>(this, &WampClient::on_message, &WampClient::on_connection_closed);
  Link* link_ptr = link.get();
  conn_ = net::WsClient::connect(loop_, std::move(o), std::move(link), error);
  if (!conn_) return false;
  link_ = link_ptr;

  wamp::Hello hello;
  hello.realm = realm_;
  // Parsed from text: an initializer-list Json of this shape costs ~4 KB of code.
  parse_json(JsonFormat::kJson, kHelloDetails, &hello.details);
  // Queued before anything a command sends; the connection sends it once the upgrade is done.
  send(hello);
  connect_timer_ = timers_.start_timer(kConnectTimeoutMs, [this] {
    connect_timer_ = 0;
    if (!joined_) fail("no WELCOME from " + url_.text + " within 10 s");
  });
  return true;
}

void WampClient::send(const wamp::Message& message) {
  if (failed_ || closing_ || shut_down_ || !conn_) return;
  conn_->send(wamp::encode(wamp::Serializer::kJson, message));
}

void WampClient::publish(const std::string& topic, Json args, Json kwargs, Json options,
                         PublishedFn done) {
  wamp::Publish m;
  m.request = next_request();
  m.topic = topic;
  m.options = options.is_object() ? std::move(options) : Json::object();
  m.args = std::move(args);
  m.kwargs = std::move(kwargs);
  if (json_true(m.options, "acknowledge") && done) publishing_[m.request] = std::move(done);
  send(m);
}

void WampClient::subscribe(const std::string& topic, Json options, EventFn on_event,
                           SubscribedFn done, RevokedFn on_revoked) {
  wamp::Subscribe m;
  m.request = next_request();
  m.topic = topic;
  m.options = options.is_object() ? std::move(options) : Json::object();
  subscribing_[m.request] = {{std::move(on_event), std::move(on_revoked)}, std::move(done)};
  send(m);
}

void WampClient::call(const std::string& procedure, Json args, Json kwargs, Json options,
                      ResultFn done) {
  wamp::Call m;
  m.request = next_request();
  m.procedure = procedure;
  m.options = options.is_object() ? std::move(options) : Json::object();
  m.args = std::move(args);
  m.kwargs = std::move(kwargs);
  calling_[m.request] = std::move(done);
  send(m);
}

void WampClient::register_procedure(const std::string& procedure, Json options,
                                    InvocationFn on_invocation, RegisteredFn done) {
  wamp::Register m;
  m.request = next_request();
  m.procedure = procedure;
  m.options = options.is_object() ? std::move(options) : Json::object();
  registering_[m.request] = {std::move(on_invocation), std::move(done)};
  send(m);
}

void WampClient::yield(Id invocation, Json args, Json kwargs) {
  wamp::Yield m;
  m.request = invocation;
  m.args = std::move(args);
  m.kwargs = std::move(kwargs);
  send(m);
}

void WampClient::error(Id invocation, const std::string& uri, Json args, Json kwargs) {
  wamp::Error m;
  m.request_type = static_cast<int>(wamp::MessageType::kInvocation);
  m.request = invocation;
  m.error = uri;
  m.args = std::move(args);
  m.kwargs = std::move(kwargs);
  send(m);
}

void WampClient::leave(std::function<void()> done) {
  if (leaving_) return;
  leaving_ = true;
  leave_done_ = std::move(done);
  if (!joined_ || failed_ || !conn_ || shut_down_) {
    finish_leave();
    return;
  }
  wamp::Goodbye m;
  m.reason = "wamp.close.close_realm";
  send(m);
  leave_timer_ = timers_.start_timer(kLeaveTimeoutMs, [this] {
    leave_timer_ = 0;
    finish_leave();
  });
}

void WampClient::finish_leave() {
  if (leave_timer_) {
    timers_.cancel_timer(leave_timer_);
    leave_timer_ = 0;
  }
  auto done = std::move(leave_done_);
  leave_done_ = nullptr;
  if (done) done();
}

void WampClient::close_socket() {
  if (closing_ || !conn_) return;
  closing_ = true;
  conn_->close();   // a close frame (1000) after what is queued
}

void WampClient::fail(const std::string& why) {
  if (failed_ || shut_down_) return;
  failed_ = true;
  if (connect_timer_) {
    timers_.cancel_timer(connect_timer_);
    connect_timer_ = 0;
  }
  close_socket();
  if (leaving_) {
    finish_leave();
    return;
  }
  auto fn = std::move(on_close_);
  on_close_ = nullptr;
  if (fn) fn(why);
}

void WampClient::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (auto* id : {&connect_timer_, &leave_timer_}) {
    if (*id) timers_.cancel_timer(*id);
    *id = 0;
  }
  if (link_) link_->detach();
  if (conn_) conn_->abort();
  conn_ = nullptr;
  link_ = nullptr;
}

void WampClient::on_connection_closed(std::optional<net::ClientFailure> failure) {
  conn_ = nullptr;
  link_ = nullptr;
  if (leaving_) {
    finish_leave();
    return;
  }
  using Kind = net::ClientFailure::Kind;
  if (!failure || failure->kind == Kind::kPeerClosed) {
    fail("the router closed the connection");
  } else if (failure->kind == Kind::kRead || failure->kind == Kind::kWrite) {
    fail((failure->kind == Kind::kRead ? "reading from " : "writing to ") + url_.text +
         " failed: " + failure->detail);
  } else {
    fail("cannot connect to " + url_.text +
         (failure->detail.empty() ? "" : " (" + failure->detail + ")"));
  }
}

void WampClient::on_message(std::string_view text) {
  wamp::DecodeResult r = wamp::decode(wamp::Serializer::kJson, text);
  if (!r) {
    fail("protocol error from the router: " + r.error().reason);
    return;
  }
  wamp::Message& msg = r.message();
  if (auto* m = std::get_if<wamp::Welcome>(&msg)) {
    if (joined_) return;
    joined_ = true;
    if (connect_timer_) {
      timers_.cancel_timer(connect_timer_);
      connect_timer_ = 0;
    }
    if (on_welcome_) on_welcome_(m->session);
  } else if (auto* m = std::get_if<wamp::Abort>(&msg)) {
    WampError e{m->reason, nullptr, nullptr};
    if (m->details.contains("message")) e.args = Json::array({m->details["message"]});
    fail("session aborted by the router: " + e.text());
  } else if (auto* m = std::get_if<wamp::Goodbye>(&msg)) {
    if (leaving_) {
      close_socket();
      return;
    }
    wamp::Goodbye reply;
    reply.reason = "wamp.close.goodbye_and_out";
    send(reply);
    close_socket();
    fail("the router closed the session: " + m->reason);
  } else if (auto* m = std::get_if<wamp::Error>(&msg)) {
    WampError e{m->error, m->args, m->kwargs};
    switch (static_cast<wamp::MessageType>(m->request_type)) {
      case wamp::MessageType::kPublish: {
        auto it = publishing_.find(m->request);
        if (it == publishing_.end()) return;
        auto fn = std::move(it->second);
        publishing_.erase(it);
        fn(0, &e);
        break;
      }
      case wamp::MessageType::kSubscribe: {
        auto it = subscribing_.find(m->request);
        if (it == subscribing_.end()) return;
        auto fn = std::move(it->second.done);
        subscribing_.erase(it);
        if (fn) fn(0, &e);
        break;
      }
      case wamp::MessageType::kCall: {
        auto it = calling_.find(m->request);
        if (it == calling_.end()) return;
        auto fn = std::move(it->second);
        calling_.erase(it);
        if (fn) fn(nullptr, &e);
        break;
      }
      case wamp::MessageType::kRegister: {
        auto it = registering_.find(m->request);
        if (it == registering_.end()) return;
        auto fn = std::move(it->second.done);
        registering_.erase(it);
        if (fn) fn(0, &e);
        break;
      }
      default:
        log::debug("wamp", "ERROR ", e.text(), " for request type ", m->request_type);
        break;
    }
  } else if (auto* m = std::get_if<wamp::Published>(&msg)) {
    auto it = publishing_.find(m->request);
    if (it == publishing_.end()) return;
    auto fn = std::move(it->second);
    publishing_.erase(it);
    fn(m->publication, nullptr);
  } else if (auto* m = std::get_if<wamp::Subscribed>(&msg)) {
    auto it = subscribing_.find(m->request);
    if (it == subscribing_.end()) return;
    auto pending = std::move(it->second);
    subscribing_.erase(it);
    subscriptions_[m->subscription] = std::move(pending.sub);
    if (pending.done) pending.done(m->subscription, nullptr);
  } else if (auto* m = std::get_if<wamp::Unsubscribed>(&msg)) {
    if (!m->details.is_object()) return;  // the answer to an UNSUBSCRIBE we never send
    Id sub = 0;
    auto s = m->details.find("subscription");
    if (s != m->details.end() && s->is_number_unsigned()) sub = s->get<Id>();
    auto it = subscriptions_.find(sub);
    if (it == subscriptions_.end()) return;
    auto fn = std::move(it->second.on_revoked);
    subscriptions_.erase(it);
    if (fn) fn(m->details);
  } else if (auto* m = std::get_if<wamp::Event>(&msg)) {
    auto it = subscriptions_.find(m->subscription);
    if (it == subscriptions_.end() || !it->second.on_event) return;
    EventFn fn = it->second.on_event;  // a copy: the callback may end the subscription
    fn(*m);
  } else if (auto* m = std::get_if<wamp::Result>(&msg)) {
    if (json_true(m->details, "progress")) return;
    auto it = calling_.find(m->request);
    if (it == calling_.end()) return;
    auto fn = std::move(it->second);
    calling_.erase(it);
    if (fn) fn(m, nullptr);
  } else if (auto* m = std::get_if<wamp::Registered>(&msg)) {
    auto it = registering_.find(m->request);
    if (it == registering_.end()) return;
    auto pending = std::move(it->second);
    registering_.erase(it);
    registrations_[m->registration] = std::move(pending.on_invocation);
    if (pending.done) pending.done(m->registration, nullptr);
  } else if (auto* m = std::get_if<wamp::Invocation>(&msg)) {
    auto it = registrations_.find(m->registration);
    if (it == registrations_.end() || !it->second) {
      error(m->request, "wamp.error.no_such_registration", nullptr, nullptr);
      return;
    }
    InvocationFn fn = it->second;
    fn(*m);
  } else {
    // UNREGISTERED, INTERRUPT, CHALLENGE, ...: not used by the tools.
    log::debug("wamp", "ignored ", wamp::message_name(static_cast<int>(wamp::message_type(msg))));
  }
}

}  // namespace fox::cli
