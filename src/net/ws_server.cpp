#include "net/ws_server.hpp"

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <strings.h>

#include <algorithm>
#include <cstring>

#include "core/log.hpp"

namespace fox::net {

namespace {

// What lws hands over per RECEIVE callback, and the buffer it holds for each connection for
// that: 4 KiB by default. A message is assembled from its pieces (ws_stream.cpp) whatever their
// size, so a smaller piece costs a callback per KiB of a large message and saves 3 KiB of every
// idle connection.
constexpr std::size_t kRxChunk = 1024;
// What lws writes at once (the context's service buffer size, as before kRxChunk was set).
constexpr std::size_t kTxChunk = 32 * 1024;

}  // namespace

struct WsServer::Protocol {
  WsServer* server = nullptr;
  std::size_t endpoint = 0;      // index into endpoints_, or kHttp
  std::string name;
  // The name lws matches offered subprotocols against (lws_protocols::name points here); its
  // first byte is zeroed while it is hidden (hide_protocols_not_at).
  std::string lws_name;
};

// lws binds a WebSocket upgrade that offers no subprotocol to the vhost's "default" protocol,
// named by a per-vhost option; the endpoint that takes such upgrades is that protocol.
struct WsServer::DefaultProtocol {
  lws_protocol_vhost_options option{};     // {name: "default"}
  lws_protocol_vhost_options protocol{};   // {name: the protocol's lws name, options: option}
};

namespace {
constexpr std::size_t kHttp = static_cast<std::size_t>(-1);
// The lws name of the endpoint without subprotocol (it is never offered by a client that reaches
// it: such an offer at that path is refused).
constexpr const char* kNoSubprotocol = "fox-no-subprotocol";

// lws_process_ws_upgrade() copies the offered subprotocol list into char buf[1024] (with
// third_party/patches/libwebsockets-ws-protocol-list.patch; 128 without) and drops the
// connection without an answer when it does not fit: fox answers a longer list with 400.
constexpr std::size_t kMaxSubprotocolList = 1022;
// ... and each offered name into char name[64], giving up on a longer one the same way.
constexpr std::size_t kMaxSubprotocolName = 63;
// The tokenizer flags lws_process_ws_upgrade() reads the list with: fox reads it the same way.
constexpr int kSubprotocolListFlags = LWS_TOKENIZE_F_COMMA_SEP_LIST | LWS_TOKENIZE_F_MINUS_NONTERM |
                                      LWS_TOKENIZE_F_DOT_NONTERM | LWS_TOKENIZE_F_RFC7230_DELIMS;

// While lws_create_context() runs, lws's error lines are collected here instead of logged: when
// it cannot bind, lws logs three of its own that fox's one "cannot listen" line says better.
std::vector<std::string>* held_lws_errors = nullptr;

bool is_websocket_reason(int reason) {
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_RECEIVE_PONG:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    case LWS_CALLBACK_CLOSED:
      return true;
    default:
      return false;
  }
}

int lws_callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                 size_t len) {
  const struct lws_protocols* p = lws_get_protocol(wsi);
  if (!p || !p->user) return lws_callback_http_dummy(wsi, reason, user, in, len);
  auto* proto = static_cast<WsServer::Protocol*>(p->user);
  proto->server->show_protocol_names();
  // Every new connection is bound to the default protocol first: while it is HTTP, its
  // callbacks are the HTTP ones even when the default is the endpoint without subprotocol.
  const bool http = proto->endpoint == kHttp ||
                    (proto->name == kNoSubprotocol && !is_websocket_reason(reason));
  if (http) return proto->server->on_http(wsi, reason, user, in, len);
  return proto->server->on_ws(wsi, reason, user, in, len, proto->endpoint, proto->name);
}

void lws_log_emit(int level, const char* line) {
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  // confirm_upgrade() answers and logs upgrades without a usable subprotocol before lws looks;
  // should lws still find none (fox and lws reading the list differently), its notice is the
  // only trace, so it becomes fox's log line for that refusal.
  auto unsupported = text.find("No supported protocol");
  if (unsupported != std::string::npos) {
    log::info("http", "refused a WebSocket upgrade offering only unsupported subprotocols ",
              text.substr(unsupported + 22));
  } else if ((level & LLL_ERR) && held_lws_errors) {
    held_lws_errors->push_back(text);
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

// The whole value of a request header (all its lines, joined with commas as lws does).
std::string header_of(struct lws* wsi, enum lws_token_indexes token) {
  int n = lws_hdr_total_length(wsi, token);
  if (n <= 0) return {};
  std::string value(static_cast<std::size_t>(n) + 1, '\0');
  if (lws_hdr_copy(wsi, value.data(), n + 1, token) < 0) return {};
  value.resize(static_cast<std::size_t>(n));
  return value;
}

std::string uri_of(struct lws* wsi) { return header_of(wsi, WSI_TOKEN_GET_URI); }

// The request path without its query.
std::string path_of(struct lws* wsi) {
  std::string uri = uri_of(wsi);
  auto q = uri.find('?');
  if (q != std::string::npos) uri.resize(q);
  return uri;
}

std::string peer_of(struct lws* wsi) {
  char peer[128] = {0};
  lws_get_peer_simple(wsi, peer, sizeof peer);
  return peer;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// The offered list as a log line shows it: quoted, a very long one cut short.
std::string offer_for_log(const std::string& offered) {
  if (offered.empty()) return "no subprotocol";
  constexpr std::size_t kShown = 200;
  if (offered.size() <= kShown) return "\"" + offered + "\"";
  return "\"" + offered.substr(0, kShown) + "...\" (" + std::to_string(offered.size()) + " bytes)";
}

// The first offered subprotocol that is one of `served`, reading the list exactly as
// lws_process_ws_upgrade() does (so it is the one lws binds once the others are hidden). Empty
// when there is none; `problem` then says why, if lws would give up before reaching one.
std::string first_served(const std::string& offered, const std::vector<std::string>& served,
                         std::string* problem) {
  struct lws_tokenize ts;
  lws_tokenize_init(&ts, offered.c_str(), kSubprotocolListFlags);
  ts.len = offered.size();
  for (;;) {
    switch (lws_tokenize(&ts)) {
      case LWS_TOKZE_DELIMITER:
        continue;
      case LWS_TOKZE_ENDED:
        return {};
      case LWS_TOKZE_TOKEN: {
        std::string name(ts.token, ts.token_len);
        if (std::find(served.begin(), served.end(), name) != served.end()) return name;
        if (name.size() > kMaxSubprotocolName) {
          *problem = "an offered subprotocol name is over " + std::to_string(kMaxSubprotocolName) +
                     " bytes";
          return {};
        }
        continue;
      }
      default:
        *problem = "the subprotocol list is malformed";
        return {};
    }
  }
}

// A whole HTTP response, headers and body; false when lws could not send it.
bool write_http_response(struct lws* wsi, unsigned status, const char* content_type,
                         const std::string& body) {
  unsigned char buf[LWS_PRE + 1024];
  unsigned char* start = buf + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = buf + sizeof buf - 1;
  if (lws_add_http_common_headers(wsi, status, content_type, body.size(), &p, end) ||
      lws_finalize_write_http_header(wsi, start, &p, end)) {
    return false;
  }
  std::vector<unsigned char> wbuf(LWS_PRE + body.size());
  std::memcpy(wbuf.data() + LWS_PRE, body.data(), body.size());
  return lws_write(wsi, wbuf.data() + LWS_PRE, body.size(), LWS_WRITE_HTTP_FINAL) ==
         static_cast<int>(body.size());
}
}  // namespace

WsServer::WsServer(uv_loop_t* loop, WsServerOptions options)
    : loop_(loop), options_(std::move(options)) {}

WsServer::~WsServer() {
  if (context_) lws_context_destroy(context_);
  delete[] static_cast<lws_protocols*>(protocols_);
}

void WsServer::add_endpoint(WsEndpoint endpoint) { endpoints_.push_back(std::move(endpoint)); }

bool WsServer::start(std::string* error) {
  lws_set_log_level(LLL_ERR | LLL_WARN | LLL_NOTICE, lws_log_emit);

  // Protocol 0 is plain HTTP. A WebSocket upgrade without any subprotocol goes to the
  // protocol named by the per-vhost "default" option: kNoSubprotocol, of the (one) endpoint that
  // takes no subprotocol (/fox); without such an endpoint it stays with protocol 0, whose on_http
  // refuses it. confirm_upgrade checks the path either way.
  auto add = [&](std::size_t endpoint, const std::string& name) {
    auto p = std::make_unique<Protocol>();
    p->server = this;
    p->endpoint = endpoint;
    p->name = name;
    p->lws_name = name;
    protocol_info_.push_back(std::move(p));
  };
  add(kHttp, "http");
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    for (const auto& sp : endpoints_[i].subprotocols) add(i, sp);
    if (endpoints_[i].subprotocols.empty() && default_protocol_) {
      *error = "only one WebSocket endpoint may take upgrades without a subprotocol";
      return false;
    }
    if (endpoints_[i].subprotocols.empty()) {
      add(i, kNoSubprotocol);
      default_protocol_ = std::make_unique<DefaultProtocol>();
      default_protocol_->option.name = "default";
      default_protocol_->option.value = "";
      default_protocol_->protocol.name = kNoSubprotocol;
      default_protocol_->protocol.value = "";
      default_protocol_->protocol.options = &default_protocol_->option;
    }
  }
  auto* protocols = new lws_protocols[protocol_info_.size() + 1];
  std::memset(protocols, 0, sizeof(lws_protocols) * (protocol_info_.size() + 1));
  for (std::size_t i = 0; i < protocol_info_.size(); ++i) {
    protocols[i].name = protocol_info_[i]->lws_name.c_str();
    protocols[i].callback = lws_callback;
    protocols[i].per_session_data_size = sizeof(WsConnection*);
    protocols[i].rx_buffer_size = kRxChunk;
    // lws caps a send at rx_buffer_size unless tx_packet_size says otherwise: 1 KiB sends would
    // split every larger message into a write per POLLOUT wake-up.
    protocols[i].tx_packet_size = kTxChunk;
    protocols[i].user = protocol_info_[i].get();
  }
  protocols_ = protocols;

  struct lws_context_creation_info info;
  std::memset(&info, 0, sizeof info);
  void* foreign_loops[1] = {loop_};
  info.foreign_loops = foreign_loops;
  info.options = LWS_SERVER_OPTION_LIBUV;
  info.port = options_.port;
  if (!options_.tls_cert.empty()) {
    // TLS 1.2 at least: mbedTLS is built without 1.0 and 1.1 (third_party/patches).
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = options_.tls_cert.c_str();
    info.ssl_private_key_filepath = options_.tls_key.c_str();
  }
  info.protocols = protocols;
  if (default_protocol_) info.pvo = &default_protocol_->protocol;
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

  std::vector<std::string> lws_errors;
  held_lws_errors = &lws_errors;
  context_ = lws_create_context(&info);
  held_lws_errors = nullptr;
  struct lws_vhost* vh = context_ ? lws_get_vhost_by_name(context_, "default") : nullptr;
  // lws creates the context even when the default vhost could not bind its port.
  bound_port_ = vh ? lws_get_vhost_listen_port(vh) : -1;
  const bool listening = bound_port_ > 0;
  // Failing, lws's lines are the details of fox's one line (debug); an error lws logged while
  // the context did come up is not explained by anything else, so it stays an error.
  for (const auto& line : lws_errors) {
    if (listening) {
      log::error("lws", line);
    } else {
      log::debug("lws", line);
    }
  }
  if (!listening) {
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

void WsServer::hide_protocols_not_at(const std::string& path) {
  for (auto& p : protocol_info_) {
    const bool here = p->endpoint != kHttp && endpoints_[p->endpoint].path == path;
    if (!here && !p->lws_name.empty()) p->lws_name[0] = '\0';
  }
  names_hidden_ = true;
}

void WsServer::show_protocol_names() {
  if (!names_hidden_) return;
  for (auto& p : protocol_info_) {
    if (!p->lws_name.empty()) p->lws_name[0] = p->name[0];
  }
  names_hidden_ = false;
}

// fox decides a WebSocket upgrade before lws does, so that every refusal gets an HTTP answer
// (lws itself just closes the connection) and one log line naming the peer.
//
// lws then binds the first offered subprotocol it knows anywhere on the vhost, whatever the path:
// "mqtt, wamp.2.json" at /wamp would be bound to mqtt and refused. Answering 400 would be correct
// but leaves the client without a connection although it offered one the path speaks. So for
// the moment lws picks (right after this callback returns, with no other callback in between)
// the lws names of the protocols not served at this path are hidden, and lws binds exactly the
// subprotocol chosen here; the next callback shows them again. This works because lws copies the
// lws_protocols entries but keeps pointing at fox's name strings (test_ws_upgrade.py checks it).
int WsServer::confirm_upgrade(struct lws* wsi, const char* upgrade) {
  if (!upgrade || strcasecmp(upgrade, "websocket") != 0) return 0;  // lws deals with the others
  const std::string path = path_of(wsi);
  const std::string offered = header_of(wsi, WSI_TOKEN_PROTOCOL);
  auto refuse = [&](unsigned status, const std::string& why) {
    log::info("http", peer_of(wsi), ": refused a WebSocket upgrade at ", path, " offering ",
              offer_for_log(offered), ": ", why, " (", status, ")");
    return write_http_response(wsi, status, "text/plain; charset=utf-8", why + "\n") ? 1 : -1;
  };
  const WsEndpoint* endpoint = nullptr;
  for (const auto& e : endpoints_) {
    if (e.path == path) {
      endpoint = &e;
      break;
    }
  }
  if (!endpoint) return refuse(HTTP_STATUS_NOT_FOUND, "no WebSocket endpoint at " + path);
  if (endpoint->subprotocols.empty()) {
    // lws binds it to the default protocol, which is this endpoint's.
    if (offered.empty()) return 0;
    return refuse(HTTP_STATUS_BAD_REQUEST, path + " takes no subprotocol");
  }
  const std::string speaks = path + " speaks " + joined(endpoint->subprotocols);
  if (lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) > static_cast<int>(kMaxSubprotocolList)) {
    return refuse(HTTP_STATUS_BAD_REQUEST, "the subprotocol list is over " +
                                               std::to_string(kMaxSubprotocolList) +
                                               " bytes; " + speaks);
  }
  std::string problem;
  if (first_served(offered, endpoint->subprotocols, &problem).empty()) {
    if (problem.empty()) {
      problem = offered.empty() ? "no subprotocol offered" : "no subprotocol offered is served here";
    }
    return refuse(HTTP_STATUS_BAD_REQUEST, problem + "; " + speaks);
  }
  hide_protocols_not_at(path);
  return 0;
}

int WsServer::on_http(struct lws* wsi, int reason, void* user, void* in, std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      return confirm_upgrade(wsi, static_cast<const char*>(in));
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      // lws bound an upgrade to plain HTTP (no subprotocol, or "http"); confirm_upgrade() lets
      // none of those through, this is the last guard.
      log::info("http", peer_of(wsi), ": refused a WebSocket upgrade without a supported "
                "subprotocol at ", uri_of(wsi));
      return -1;
    case LWS_CALLBACK_HTTP: {
      std::string path(static_cast<const char*>(in), len);
      if (path.empty()) path = uri_of(wsi);
      unsigned status = HTTP_STATUS_OK;
      std::string type = "text/html; charset=utf-8", body;
      if (path == "/" || path == "/index.html") {
        body = options_.status_page;
      } else if (!options_.pages || !options_.pages(path, &status, &type, &body)) {
        status = HTTP_STATUS_NOT_FOUND;
        type = "text/plain";
        body = "not found\n";
      }
      if (!write_http_response(wsi, status, type.c_str(), body)) return 1;
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
      // confirm_upgrade() made lws bind a subprotocol of this path; this is the last guard.
      std::string path = path_of(wsi);
      if (path != endpoint.path) {
        log::info("http", peer_of(wsi), ": refused subprotocol ", subprotocol, " at ", path,
                  " (it is served at ", endpoint.path, ")");
        return -1;
      }
      return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
      auto* conn = new WsConnection();
      conn->wsi_ = wsi;
      conn->open_ = true;
      conn->subprotocol_ = subprotocol;
      conn->budget_.set_limits(options_.outbound);
      conn->env_ = options_.env;
      conn->max_message_ = options_.max_message_size;
      conn->peer_ = peer_of(wsi);
      conn->endpoint_ = static_cast<std::uint8_t>(endpoint_index);
      *slot = conn;
      if (options_.limits) {
        std::string why;
        if (!options_.limits->admit(conn->peer_, &why)) {
          log::warn("http", conn->peer_, ": WebSocket refused, ", why);
          ++metrics::counters().connections_refused;
          *slot = nullptr;
          delete conn;
          return -1;
        }
        conn->admitted_ = true;
      }
      conn->traffic_ = endpoint.traffic;
      ++endpoints_[endpoint_index].open;
      conn->handler_ = endpoint.make_handler(*conn);
      if (!conn->handler_) return -1;
      if (options_.handshake_timeout_ms > 0) {
        const std::uint64_t timeout = options_.handshake_timeout_ms;
        conn->handshake_timer_ = options_.env->start_timer(timeout, [conn, timeout] {
          conn->handshake_timer_ = 0;
          if (conn->closing_ || !conn->wsi_) return;
          log::info("ws", conn->peer_, ": no ", conn->handler_->waiting_for(), " within ", timeout,
                    " ms, closing");
          conn->close("handshake timeout");
        });
      }
      return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
      WsConnection* conn = slot ? *slot : nullptr;
      if (conn) conn->receive(wsi, in, len);
      return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
      WsConnection* conn = slot ? *slot : nullptr;
      return conn ? conn->writeable(wsi) : 0;
    }
    case LWS_CALLBACK_CLOSED: {
      WsConnection* conn = slot ? *slot : nullptr;
      if (!conn) return 0;
      *slot = nullptr;
      conn->established();   // no handshake deadline for a closed connection
      conn->wsi_ = nullptr;
      conn->out_.clear();
      if (conn->admitted_ && options_.limits) options_.limits->release(conn->peer_);
      --endpoints_[conn->endpoint_].open;
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
