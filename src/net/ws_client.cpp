#include "net/ws_client.hpp"

#include <libwebsockets.h>

#include <cstring>

#include "core/log.hpp"

namespace fox::net {
namespace {

// Every client wsi carries its WsClient as its user pointer (ci.userdata); the client clears it
// when the wsi ends, so the callbacks lws still makes while it tears the wsi and the context down
// reach nobody. The table is static: lws keeps pointing at it until the context is freed, after
// the WsClient is gone.
//
// Only the reasons of a client wsi carry that pointer: with TLS lws also calls this protocol for
// its vhost (LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS with the SSL_CTX as `user`, ...).
bool client_wsi_reason(enum lws_callback_reasons reason) {
  switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
    case LWS_CALLBACK_CLIENT_RECEIVE:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
      return true;
    default:
      return false;
  }
}

int client_callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                    size_t len) {
  if (auto* self = client_wsi_reason(reason) ? static_cast<WsClient*>(user) : nullptr) {
    int r = self->on_lws(wsi, static_cast<int>(reason), in, len);
    if (r != 0) return r;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

// The name the client's wsi is bound to locally; what it offers is the caller's subprotocol.
constexpr const char* kLocalProtocol = "fox-ws-client";

const struct lws_protocols kProtocols[] = {
    {kLocalProtocol, client_callback, 0, 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

void emit_debug(int, const char* line) {
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  log::debug("lws", text);
}

}  // namespace

void lws_logs_to_debug() { lws_set_log_level(LLL_ERR | LLL_WARN, emit_debug); }

WsClient::WsClient(uv_loop_t* loop, WsClientOptions options)
    : loop_(loop), options_(std::move(options)) {}

WsClient* WsClient::connect(uv_loop_t* loop, WsClientOptions options,
                            std::unique_ptr<ClientHandler> handler, std::string* error) {
  auto* c = new WsClient(loop, std::move(options));
  c->env_ = c->options_.env;
  c->budget_.set_limits(c->options_.outbound);
  c->max_message_ = c->options_.max_message_size;
  c->binary_ = c->options_.binary;
  c->peer_ = c->options_.host + ":" + std::to_string(c->options_.port);
  c->handler_ = std::move(handler);

  struct lws_context_creation_info info;
  std::memset(&info, 0, sizeof info);
  void* foreign_loops[1] = {loop};
  info.foreign_loops = foreign_loops;
  info.options = LWS_SERVER_OPTION_LIBUV;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = kProtocols;
  info.gid = -1;
  info.uid = -1;
  info.timeout_secs = static_cast<unsigned>(c->options_.connect_timeout_s);
  if (!c->options_.ca_file.empty()) {
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = c->options_.ca_file.c_str();
  }
  c->context_ = lws_create_context(&info);
  if (!c->context_) {
    *error = "cannot start the WebSocket client";
    delete c;
    return nullptr;
  }
  uv_timer_init(loop, &c->finisher_);
  c->finisher_.data = c;

  struct lws_client_connect_info ci;
  std::memset(&ci, 0, sizeof ci);
  ci.context = c->context_;
  ci.address = c->options_.host.c_str();
  ci.port = c->options_.port;
  ci.path = c->options_.path.c_str();
  ci.host = c->options_.host.c_str();
  ci.origin = c->options_.host.c_str();
  ci.protocol = c->options_.subprotocol.c_str();
  ci.local_protocol_name = kLocalProtocol;
  ci.ietf_version_or_minus_one = -1;
  ci.userdata = c;
  if (!c->options_.ca_file.empty()) ci.ssl_connection = LCCSCF_USE_SSL;
  struct lws* wsi = lws_client_connect_via_info(&ci);
  // A failure found at once may or may not have been reported through CONNECTION_ERROR.
  if (!c->ended_) {
    if (wsi) {
      c->wsi_ = wsi;
    } else {
      c->ended(nullptr, ClientFailure{ClientFailure::Kind::kConnect, {}});
    }
  }
  return c;
}

std::optional<ClientFailure> WsClient::end_failure() const {
  if (write_failed_) return ClientFailure{ClientFailure::Kind::kWrite, "write failed"};
  if (too_big_) {
    return ClientFailure{ClientFailure::Kind::kRead, "a message over the size limit"};
  }
  if (closing_) return std::nullopt;
  if (!open_) return ClientFailure{ClientFailure::Kind::kConnect, {}};   // never upgraded
  return ClientFailure{ClientFailure::Kind::kPeerClosed, {}};
}

int WsClient::on_lws(struct lws* wsi, int reason, void* in, std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
      // `in` is a C string (len is not its length).
      std::string why = in ? std::string(static_cast<const char*>(in)) : std::string();
      while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
      if (closing_) {
        ended(wsi, std::nullopt);   // this side gave up on the connection
      } else {
        ended(wsi, ClientFailure{ClientFailure::Kind::kConnect, std::move(why)});
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      wsi_ = wsi;
      open_ = true;
      if (!out_.empty()) lws_callback_on_writable(wsi);
      if (handler_ && !closing_) static_cast<ClientHandler*>(handler_.get())->on_connected();
      return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
      receive(wsi, in, len);
      return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      return writeable(wsi);
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
      ended(wsi, end_failure());
      return 0;
    default:
      return 0;
  }
}

void WsClient::ended(struct lws* wsi, std::optional<ClientFailure> failure) {
  if (ended_) return;
  ended_ = true;
  if (wsi) lws_set_wsi_user(wsi, nullptr);
  wsi_ = nullptr;   // send(), close() and abort() do nothing from here on
  open_ = false;
  out_.clear();
  budget_.clear();
  failure_ = std::move(failure);
  uv_timer_start(&finisher_, [](uv_timer_t* t) { static_cast<WsClient*>(t->data)->finish(); }, 0,
                 0);
}

void WsClient::finish() {
  std::unique_ptr<Handler> handler = std::move(handler_);
  if (handler) {
    auto* h = static_cast<ClientHandler*>(handler.get());
    if (failure_) h->on_failure(*failure_);
    h->on_close();
  }
  handler.reset();
  // On a foreign loop lws 4.1 destroys a context in two calls (its foreign-loop example calls it
  // in the loop and once more after): the first, outside lws's callbacks, closes its uv handles;
  // the second frees the context and must wait until libuv has closed them (they live in its
  // memory: called at once, it crashes). They close within two closing phases of the loop; the
  // timer ticks at most once a loop turn, so three ticks are past them. Called only once, the
  // context would never be freed.
  lws_context_destroy(context_);
  uv_timer_start(
      &finisher_,
      [](uv_timer_t* t) {
        auto* self = static_cast<WsClient*>(t->data);
        if (++self->ticks_ < 3) return;
        lws_context_destroy(self->context_);
        self->context_ = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<WsClient*>(h->data); });
      },
      1, 1);
}

}  // namespace fox::net
