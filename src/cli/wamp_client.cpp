#include "cli/wamp_client.hpp"

#include <libwebsockets.h>

#include <cstring>

#include "build_info.hpp"
#include "core/log.hpp"
#include "wamp/codec.hpp"

namespace fox::cli {

namespace {
constexpr std::uint64_t kConnectTimeoutMs = 10'000;
constexpr std::uint64_t kLeaveTimeoutMs = 2'000;
constexpr std::size_t kMaxMessage = 16u * 1024 * 1024;

int client_callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                    size_t len) {
  struct lws_context* ctx = wsi ? lws_get_context(wsi) : nullptr;
  auto* self = ctx ? static_cast<WampClient*>(lws_context_user(ctx)) : nullptr;
  if (self) {
    int r = self->on_lws(wsi, static_cast<int>(reason), in, len);
    if (r != 0) return r;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

void lws_log_emit(int, const char* line) {
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  log::debug("lws", text);
}

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

WampClient::WampClient(uv_loop_t* loop, UvRouterEnv& timers) : loop_(loop), timers_(timers) {}

WampClient::~WampClient() {
  shutdown();
  delete[] protocols_;
}

bool WampClient::connect(const WsUrl& url, const std::string& realm, WelcomeFn on_welcome,
                         CloseFn on_close, std::string* error) {
  url_ = url;
  realm_ = realm;
  on_welcome_ = std::move(on_welcome);
  on_close_ = std::move(on_close);
  lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);

  protocols_ = new lws_protocols[2];
  std::memset(protocols_, 0, sizeof(lws_protocols) * 2);
  protocols_[0].name = "wamp.2.json";
  protocols_[0].callback = client_callback;
  protocols_[0].rx_buffer_size = 0;

  struct lws_context_creation_info info;
  std::memset(&info, 0, sizeof info);
  void* foreign_loops[1] = {loop_};
  info.foreign_loops = foreign_loops;
  info.options = LWS_SERVER_OPTION_LIBUV;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols_;
  info.user = this;
  info.gid = -1;
  info.uid = -1;
  info.timeout_secs = 10;
  info.pcontext = &context_;
  context_ = lws_create_context(&info);
  if (!context_) {
    *error = "cannot start the WebSocket client";
    return false;
  }

  struct lws_client_connect_info ci;
  std::memset(&ci, 0, sizeof ci);
  ci.context = context_;
  ci.address = url_.host.c_str();
  ci.port = url_.port;
  ci.path = url_.path.c_str();
  ci.host = url_.host.c_str();
  ci.origin = url_.host.c_str();
  ci.protocol = "wamp.2.json";
  ci.local_protocol_name = "wamp.2.json";
  ci.ietf_version_or_minus_one = -1;
  ci.pwsi = &wsi_;
  if (!lws_client_connect_via_info(&ci)) {
    // lws has already reported CONNECTION_ERROR in most cases; make sure the failure is seen.
    wsi_ = nullptr;
    connect_timer_ = timers_.start_timer(0, [this] {
      connect_timer_ = 0;
      fail("cannot connect to " + url_.text);
    });
    return true;
  }
  connect_timer_ = timers_.start_timer(kConnectTimeoutMs, [this] {
    connect_timer_ = 0;
    if (!joined_) fail("no WELCOME from " + url_.text + " within 10 s");
  });
  return true;
}

void WampClient::send(const wamp::Message& message) {
  if (failed_ || closing_ || shut_down_) return;
  out_.push_back(wamp::encode(wamp::Serializer::kJson, message));
  if (wsi_) lws_callback_on_writable(wsi_);
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
  if (!joined_ || failed_ || !wsi_ || shut_down_) {
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
  if (closing_ || !wsi_) return;
  closing_ = true;
  lws_callback_on_writable(wsi_);
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
  if (context_) {
    // lws finishes closing its uv handles on the next loop turns and then frees the context.
    struct lws_context* ctx = context_;
    lws_context_destroy(ctx);
  }
  wsi_ = nullptr;
}

int WampClient::on_lws(struct lws* wsi, int reason, void* in, std::size_t len) {
  if (shut_down_) return 0;
  switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      wsi_ = nullptr;
      // `in` is a C string (len is not its length).
      std::string why = in ? std::string(static_cast<const char*>(in)) : std::string();
      while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
      fail("cannot connect to " + url_.text + (why.empty() ? "" : " (" + why + ")"));
      return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
      wsi_ = wsi;
      wamp::Hello hello;
      hello.realm = realm_;
      hello.details = {
          {"agent", std::string("fox ") + FOX_VERSION},
          {"roles",
           {{"publisher", {{"features", {{"publisher_exclusion", true}}}}},
            {"subscriber",
             {{"features", {{"pattern_based_subscription", true},
                            {"subscription_revocation", true}}}}},
            {"caller", {{"features", Json::object()}}},
            {"callee", {{"features", Json::object()}}}}}};
      // HELLO goes first, before anything a command queued early.
      out_.insert(out_.begin() + static_cast<std::ptrdiff_t>(out_pos_),
                  wamp::encode(wamp::Serializer::kJson, hello));
      lws_callback_on_writable(wsi);
      return 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE: {
      if (closing_ || failed_) return 0;
      const bool first = lws_is_first_fragment(wsi);
      const bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
      if (first) rx_.clear();
      if (rx_.size() + len > kMaxMessage) {
        fail("a message from the router is over 16 MB");
        return 0;
      }
      rx_.append(static_cast<const char*>(in), len);
      if (final) {
        std::string msg;
        msg.swap(rx_);
        on_message(msg);
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
      if (out_pos_ < out_.size() && !lws_send_pipe_choked(wsi)) {
        const std::string& f = out_[out_pos_];
        if (scratch_.size() < LWS_PRE + f.size()) scratch_.resize(LWS_PRE + f.size());
        std::memcpy(scratch_.data() + LWS_PRE, f.data(), f.size());
        int w = lws_write(wsi, scratch_.data() + LWS_PRE, f.size(), LWS_WRITE_TEXT);
        ++out_pos_;
        if (out_pos_ == out_.size()) {
          out_.clear();
          out_pos_ = 0;
        }
        if (w < static_cast<int>(f.size())) {
          fail("write to " + url_.text + " failed");
          return -1;
        }
      }
      if (out_pos_ < out_.size()) {
        lws_callback_on_writable(wsi);
      } else if (closing_) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, nullptr, 0);
        return -1;
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
      wsi_ = nullptr;
      if (leaving_) {
        finish_leave();
      } else {
        fail("the router closed the connection");
      }
      return 0;
    case LWS_CALLBACK_WSI_DESTROY:
      if (wsi == wsi_) wsi_ = nullptr;
      return 0;
    default:
      return 0;
  }
}

void WampClient::on_message(const std::string& text) {
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
