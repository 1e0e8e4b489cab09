#include "net/ws_server.hpp"

#include <arpa/inet.h>
#include <libwebsockets.h>

#include <cstring>

#include "core/log.hpp"

namespace fox::net {

struct WsServer::Protocol {
  WsServer* server = nullptr;
  std::size_t endpoint = 0;      // index into endpoints_, or kHttp
  std::string name;
};

namespace {
constexpr std::size_t kHttp = static_cast<std::size_t>(-1);
// At most this many messages are written per WRITEABLE wake-up, so one busy connection cannot
// starve the others; lws_send_pipe_choked() stops earlier when the socket is full.
constexpr int kWritesPerWakeup = 64;

int lws_callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                 size_t len) {
  const struct lws_protocols* p = lws_get_protocol(wsi);
  if (!p || !p->user) return lws_callback_http_dummy(wsi, reason, user, in, len);
  auto* proto = static_cast<WsServer::Protocol*>(p->user);
  if (proto->endpoint == kHttp) return proto->server->on_http(wsi, reason, user, in, len);
  return proto->server->on_ws(wsi, reason, user, in, len, proto->endpoint, proto->name);
}

void lws_log_emit(int level, const char* line) {
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  // lws refuses an upgrade offering only unknown subprotocols before any callback of ours runs;
  // its notice is the only trace, so it becomes fox's log line for that refusal.
  auto unsupported = text.find("No supported protocol");
  if (unsupported != std::string::npos) {
    log::info("http", "refused a WebSocket upgrade offering only unsupported subprotocols ",
              text.substr(unsupported + 22));
  } else if (level & LLL_ERR) {
    log::error("lws", text);
  } else {
    // lws warnings repeat what fox already logged ("User code denied connection") or are
    // routine; they are there for debugging.
    log::debug("lws", text);
  }
}

bool is_ipv4_literal(const std::string& addr) {
  unsigned char buf[4];
  return inet_pton(AF_INET, addr.c_str(), buf) == 1;
}

std::string uri_of(struct lws* wsi) {
  int n = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI);
  if (n <= 0) return {};
  std::string uri(static_cast<std::size_t>(n) + 1, '\0');
  lws_hdr_copy(wsi, uri.data(), n + 1, WSI_TOKEN_GET_URI);
  uri.resize(static_cast<std::size_t>(n));
  return uri;
}
}  // namespace

bool WsConnection::send(Frame frame, bool binary, bool force) {
  if (closing_ || !wsi_) return true;
  if (!force && out_.size() >= max_queue_) return false;
  out_.push_back({std::move(frame), binary});
  if (out_.size() == 1) lws_callback_on_writable(wsi_);
  return true;
}

void WsConnection::close(int code, std::string reason) {
  if (closing_ || !wsi_) return;
  closing_ = true;
  close_code_ = code;
  close_reason_ = std::move(reason);
  if (close_reason_.size() > 120) close_reason_.resize(120);  // control frames are ≤125 bytes
  lws_callback_on_writable(wsi_);
  lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, 5);
}

void WsConnection::abort() {
  if (!wsi_) return;
  closing_ = true;
  out_.clear();
  lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

WsServer::WsServer(uv_loop_t* loop, WsServerOptions options)
    : loop_(loop), options_(std::move(options)) {}

WsServer::~WsServer() {
  if (context_) lws_context_destroy(context_);
  delete[] static_cast<lws_protocols*>(protocols_);
}

void WsServer::add_endpoint(WsEndpoint endpoint) { endpoints_.push_back(std::move(endpoint)); }

bool WsServer::start(std::string* error) {
  lws_set_log_level(LLL_ERR | LLL_WARN | LLL_NOTICE, lws_log_emit);

  // Protocol 0 is plain HTTP; it is also what lws binds a WebSocket upgrade without any
  // subprotocol to, and on_http refuses such upgrades.
  auto add = [&](std::size_t endpoint, const std::string& name) {
    auto p = std::make_unique<Protocol>();
    p->server = this;
    p->endpoint = endpoint;
    p->name = name;
    protocol_info_.push_back(std::move(p));
  };
  add(kHttp, "http");
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    for (const auto& sp : endpoints_[i].subprotocols) add(i, sp);
  }
  auto* protocols = new lws_protocols[protocol_info_.size() + 1];
  std::memset(protocols, 0, sizeof(lws_protocols) * (protocol_info_.size() + 1));
  for (std::size_t i = 0; i < protocol_info_.size(); ++i) {
    protocols[i].name = protocol_info_[i]->name.c_str();
    protocols[i].callback = lws_callback;
    protocols[i].per_session_data_size = sizeof(WsConnection*);
    protocols[i].rx_buffer_size = 0;
    protocols[i].user = protocol_info_[i].get();
  }
  protocols_ = protocols;

  struct lws_context_creation_info info;
  std::memset(&info, 0, sizeof info);
  void* foreign_loops[1] = {loop_};
  info.foreign_loops = foreign_loops;
  info.options = LWS_SERVER_OPTION_LIBUV;
  info.port = options_.port;
  info.protocols = protocols;
  info.pcontext = &context_;
  info.pt_serv_buf_size = 32 * 1024;
  info.max_http_header_data = 4096;
  info.timeout_secs = 10;
  info.gid = -1;
  info.uid = -1;
  // lws 4.1 built with IPv6 binds an IPv4-literal interface such as 127.0.0.1 to every address
  // (ARCHITECTURE.md pitfall 1): IPv4 literals therefore run with IPv6 disabled.
  std::string iface;
  if (is_ipv4_literal(options_.bind)) {
    info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (options_.bind != "0.0.0.0") iface = options_.bind;
  } else if (options_.bind != "::") {
    iface = options_.bind;
  }
  info.iface = iface.empty() ? nullptr : iface.c_str();

  context_ = lws_create_context(&info);
  if (!context_) {
    *error = "cannot listen on " + options_.bind + ":" + std::to_string(options_.port) +
             " (address in use, or not an address of this host)";
    return false;
  }
  struct lws_vhost* vh = lws_get_vhost_by_name(context_, "default");
  // lws creates the context even when the default vhost could not bind its port.
  bound_port_ = vh ? lws_get_vhost_listen_port(vh) : -1;
  if (bound_port_ <= 0) {
    *error = "cannot listen on " + options_.bind + ":" + std::to_string(options_.port) +
             " (address in use, or not an address of this host)";
    // Destroying this half-made context crashes lws 4.1.6 (a wsi freed twice); the process is
    // about to exit 1 anyway, so it is left alone.
    context_ = nullptr;
    return false;
  }
  return true;
}

void WsServer::stop() {
  if (!context_) return;
  struct lws_context* ctx = context_;
  // lws writes nullptr through info.pcontext once the context is fully gone.
  lws_context_destroy(ctx);
}

int WsServer::on_http(struct lws* wsi, int reason, void* user, void* in, std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      // A WebSocket upgrade that offered no subprotocol at all: WAMP and MQTT both require one.
      log::info("http", "refused a WebSocket upgrade without a supported subprotocol at ",
                uri_of(wsi));
      return -1;
    case LWS_CALLBACK_HTTP: {
      std::string path(static_cast<const char*>(in), len);
      if (path.empty()) path = uri_of(wsi);
      bool found = path == "/" || path == "/index.html";
      const std::string& body = options_.status_page;
      unsigned char buf[LWS_PRE + 1024];
      unsigned char* start = buf + LWS_PRE;
      unsigned char* p = start;
      unsigned char* end = buf + sizeof buf - 1;
      static const char kNotFound[] = "not found\n";
      std::size_t body_len = found ? body.size() : sizeof kNotFound - 1;
      if (lws_add_http_common_headers(wsi, found ? HTTP_STATUS_OK : HTTP_STATUS_NOT_FOUND,
                                      found ? "text/html; charset=utf-8" : "text/plain",
                                      body_len, &p, end) ||
          lws_finalize_write_http_header(wsi, start, &p, end)) {
        return 1;
      }
      std::string out(found ? body : std::string(kNotFound));
      std::vector<unsigned char> wbuf(LWS_PRE + out.size());
      std::memcpy(wbuf.data() + LWS_PRE, out.data(), out.size());
      if (lws_write(wsi, wbuf.data() + LWS_PRE, out.size(), LWS_WRITE_HTTP_FINAL) !=
          static_cast<int>(out.size())) {
        return 1;
      }
      if (lws_http_transaction_completed(wsi)) return -1;
      return 0;
    }
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, static_cast<enum lws_callback_reasons>(reason), user, in,
                                 len);
}

int WsServer::on_ws(struct lws* wsi, int reason, void* user, void* in, std::size_t len,
                    std::size_t endpoint_index, const std::string& subprotocol) {
  auto** slot = static_cast<WsConnection**>(user);
  const WsEndpoint& endpoint = endpoints_[endpoint_index];
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
      std::string uri = uri_of(wsi);
      auto q = uri.find('?');
      if (q != std::string::npos) uri.resize(q);
      if (uri != endpoint.path) {
        log::info("http", "refused subprotocol ", subprotocol, " at ", uri, " (it is served at ",
                  endpoint.path, ")");
        return -1;
      }
      return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
      auto* conn = new WsConnection();
      conn->wsi_ = wsi;
      conn->subprotocol_ = subprotocol;
      conn->max_queue_ = options_.max_queue;
      conn->max_message_ = options_.max_message_size;
      char peer[128] = {0};
      lws_get_peer_simple(wsi, peer, sizeof peer);
      conn->peer_ = peer;
      *slot = conn;
      if (options_.limits) {
        std::string why;
        if (!options_.limits->admit(conn->peer_, &why)) {
          log::warn("http", conn->peer_, ": WebSocket refused, ", why);
          *slot = nullptr;
          delete conn;
          return -1;
        }
        conn->admitted_ = true;
      }
      conn->handler_ = endpoint.make_handler(*conn);
      if (!conn->handler_) return -1;
      return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
      WsConnection* conn = slot ? *slot : nullptr;
      if (!conn || !conn->handler_ || conn->closing_) return 0;
      const bool first = lws_is_first_fragment(wsi);
      const bool final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
      const bool binary = lws_frame_is_binary(wsi);
      if (first) conn->rx_.clear();
      // Enforce the size bound before the buffer grows: the message is refused with 1009.
      if (conn->rx_.size() + len > conn->max_message_) {
        log::warn("ws", conn->peer_, ": message over ", conn->max_message_,
                  " bytes, closing the connection");
        conn->rx_.clear();
        conn->rx_.shrink_to_fit();
        conn->close(1009, "message too big");
        return 0;
      }
      if (first && final) {
        conn->handler_->on_message(std::string_view(static_cast<const char*>(in), len), binary);
        return 0;
      }
      conn->rx_.append(static_cast<const char*>(in), len);
      if (final) {
        std::string msg;
        msg.swap(conn->rx_);
        conn->handler_->on_message(msg, binary);
      }
      return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
      WsConnection* conn = slot ? *slot : nullptr;
      if (!conn) return 0;
      if (conn->closing_ && conn->out_.empty()) {
        lws_close_reason(wsi, static_cast<enum lws_close_status>(conn->close_code_),
                         reinterpret_cast<unsigned char*>(conn->close_reason_.data()),
                         conn->close_reason_.size());
        return -1;
      }
      for (int n = 0; n < kWritesPerWakeup && !conn->out_.empty(); ++n) {
        if (lws_send_pipe_choked(wsi)) break;
        WsConnection::Out& o = conn->out_.front();
        const std::string& f = *o.frame;
        // lws writes the frame header into LWS_PRE bytes before the payload: copy into a
        // per-connection scratch buffer, since the frame bytes are shared between connections.
        if (conn->scratch_.size() < LWS_PRE + f.size()) conn->scratch_.resize(LWS_PRE + f.size());
        std::memcpy(conn->scratch_.data() + LWS_PRE, f.data(), f.size());
        const int size = static_cast<int>(f.size());
        int w = lws_write(wsi, conn->scratch_.data() + LWS_PRE, f.size(),
                          o.binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        conn->out_.pop_front();  // `f` and `o` are gone from here on
        if (w < size) return -1;
      }
      if (conn->scratch_.size() > 64 * 1024) {
        conn->scratch_.clear();
        conn->scratch_.shrink_to_fit();
      }
      if (!conn->out_.empty() || conn->closing_) lws_callback_on_writable(wsi);
      return 0;
    }
    case LWS_CALLBACK_CLOSED: {
      WsConnection* conn = slot ? *slot : nullptr;
      if (!conn) return 0;
      *slot = nullptr;
      conn->wsi_ = nullptr;
      conn->out_.clear();
      if (conn->admitted_ && options_.limits) options_.limits->release(conn->peer_);
      if (conn->handler_) conn->handler_->on_close();
      delete conn;
      return 0;
    }
    default:
      break;
  }
  return 0;
}

}  // namespace fox::net
