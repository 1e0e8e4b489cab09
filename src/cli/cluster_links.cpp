#include "cli/cluster_links.hpp"

extern "C" {
#include <raft.h>
}

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <deque>
#include <optional>
#include <set>

#include "cluster/link_auth.hpp"
#include "core/log.hpp"
#include "fox/codec.hpp"

namespace fox::cli {
namespace {

std::uint64_t now_ms(uv_loop_t* loop) { return uv_now(loop); }

// A handle raft can take over: allocated with raft_malloc, freed with raft_free after uv_close.
uv_tcp_t* new_tcp(uv_loop_t* loop) {
  auto* tcp = static_cast<uv_tcp_t*>(raft_malloc(sizeof(uv_tcp_t)));
  if (!tcp) return nullptr;
  uv_tcp_init(loop, tcp);
  tcp->data = nullptr;
  return tcp;
}

void close_tcp(uv_tcp_t* tcp) {
  tcp->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(tcp), [](uv_handle_t* h) { raft_free(h); });
}

bool resolve(const std::string& host, int port, sockaddr_storage* out) {
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (uv_ip4_addr(host.c_str(), port, v4) == 0) return true;
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  return uv_ip6_addr(host.c_str(), port, v6) == 0;
}

struct WriteReq {
  uv_write_t req;
  std::string bytes;
  std::shared_ptr<std::size_t> inflight;
};

template <typename Handle>
void write_bytes(Handle* handle, std::string bytes, std::shared_ptr<std::size_t> inflight) {
  auto* w = new WriteReq;
  w->bytes = std::move(bytes);
  w->inflight = std::move(inflight);
  if (w->inflight) *w->inflight += w->bytes.size();
  w->req.data = w;
  uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(handle), &buf, 1, [](uv_write_t* req, int) {
    auto* w = static_cast<WriteReq*>(req->data);
    if (w->inflight) *w->inflight -= w->bytes.size();
    delete w;
  });
  if (rc != 0) {
    if (w->inflight) *w->inflight -= w->bytes.size();
    delete w;
  }
}

std::string frame(const Json& message) {
  std::string out;
  foxp::encode_message(message, out);
  return out;
}

char g_read_buffer[64 * 1024];   // one loop, one thread: every connection reads into it

// Until a connection is authenticated its messages are the handshake's (under 200 bytes): a
// stranger can make it hold no more than this, and only kMaxHandshakes of them at once.
constexpr std::size_t kHandshakeMessageMax = 4096;
constexpr std::size_t kMaxHandshakes = 64;

// A raft link over TLS: the writes one side of the relay may have queued before the other side
// stops being read (raft's messages are small; a snapshot is the largest).
constexpr std::size_t kRelayMaxQueue = 8u << 20;

std::size_t queued(void* handle) {
  return uv_stream_get_write_queue_size(static_cast<uv_stream_t*>(handle));
}

void close_pipe(uv_pipe_t* pipe) {
  pipe->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(pipe), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
}

// A peer that stops acknowledging what is sent to it (a host gone, a cable cut) is dropped
// after this long, not after TCP's ~15 minutes of retransmissions.
void set_timeouts(uv_tcp_t* tcp) {
  uv_tcp_nodelay(tcp, 1);
  uv_tcp_keepalive(tcp, 1, 5);
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd) == 0) {
    unsigned int ms = 10000;
    ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
  }
}

}  // namespace

struct NodeLinks::Peer {
  std::string name, host;
  int port = 0;
  Conn* out = nullptr;      // the connection this node writes on
  bool up = false;
  bool ever_up = false;
  bool failure_logged = false;
  std::string last_failure;        // why the last dial failed (logged when it changes)
  std::string pending;             // whole frames not yet written: this turn's, or while down
  std::shared_ptr<std::size_t> inflight = std::make_shared<std::size_t>(0);
  std::uint64_t next_dial_ms = 0;
  std::uint64_t backoff_ms = 0;
};

struct NodeLinks::Conn {
  NodeLinks* links = nullptr;
  uv_tcp_t* tcp = nullptr;
  uv_connect_t* connect = nullptr;   // pending; its data cleared when the Conn goes first
  bool outgoing = false;
  bool raft = false;
  bool up = false;
  std::string peer;                // known at once when dialing, after LINK when accepting
  std::optional<cluster::LinkDialer> dialer;
  std::optional<cluster::LinkListener> listener;
  foxp::StreamDecoder decoder{kHandshakeMessageMax};   // raised once LINKED
  std::uint64_t deadline_ms = 0;   // the handshake must be done by then
  OnDialed dialed;                 // a raft dial
  std::unique_ptr<net::TlsSession> tls;   // with the cluster file's `tls`
  uv_pipe_t* relay = nullptr;      // a raft link over TLS: fox's end of raft's socketpair
  bool tcp_paused = false, relay_paused = false;   // not read while the other side drains
};

NodeLinks::NodeLinks(uv_loop_t* loop, const cluster::ClusterConfig& config, std::string self,
                     LinkOptions options, OnMessage on_message)
    : loop_(loop), config_(config), self_(std::move(self)), options_(options),
      on_message_(std::move(on_message)) {
  for (const cluster::NodeConfig& n : config_.nodes) {
    if (n.name == self_) continue;
    auto p = std::make_unique<Peer>();
    p->name = n.name;
    p->host = n.host;
    p->port = n.fox;
    p->backoff_ms = options_.reconnect_min_ms;
    peers_[n.name] = std::move(p);
  }
}

NodeLinks::~NodeLinks() { stop(); }

bool NodeLinks::start(std::string* error) {
  const cluster::NodeConfig* me = config_.find(self_);
  sockaddr_storage addr{};
  if (!me || !resolve(me->host, me->fox, &addr)) {
    *error = "node links: cannot use the address " + (me ? me->host : std::string("?")) +
             " (a numeric IPv4 or IPv6 address)";
    return false;
  }
  if (config_.tls.on()) {
    const std::string cert = cluster::ClusterTls::for_node(config_.tls.cert, self_);
    const std::string key = cluster::ClusterTls::for_node(config_.tls.key, self_);
    tls_server_ = std::make_unique<net::TlsConfig>();
    tls_client_ = std::make_unique<net::TlsConfig>();
    std::string why;
    if (!tls_server_->load_mutual(cert, key, config_.tls.ca, false, &why) ||
        !tls_client_->load_mutual(cert, key, config_.tls.ca, true, &why)) {
      *error = "node links: TLS: " + why;
      return false;
    }
  }
  listener_ = new_tcp(loop_);
  listener_->data = this;
  int rc = uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 64, [](uv_stream_t* s, int status) {
      auto* self = static_cast<NodeLinks*>(s->data);
      if (self && status == 0) self->accept();
    });
  }
  if (rc != 0) {
    *error = "node links: cannot listen on " + me->host + ":" + std::to_string(me->fox) + ": " +
             uv_strerror(rc);
    close_tcp(listener_);
    listener_ = nullptr;
    return false;
  }
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(timer_, [](uv_timer_t* t) { static_cast<NodeLinks*>(t->data)->tick(); }, 50, 50);
  log::info("cluster", "node links listening on ", me->host, ":", me->fox,
            tls_server_ ? " (TLS, CA " + config_.tls.ca + ")" : std::string(" (plain TCP)"));
  tick();
  return true;
}

void NodeLinks::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (listener_) close_tcp(listener_);
  listener_ = nullptr;
  if (timer_) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  auto conns = std::move(conns_);
  for (auto& [raw, c] : conns) {
    if (c->connect) c->connect->data = nullptr;
    if (c->dialed) {
      OnDialed done = std::move(c->dialed);
      done(nullptr);
    }
    if (c->tcp) close_tcp(c->tcp);
    if (c->relay) close_pipe(c->relay);
  }
  for (auto& [name, p] : peers_) p->out = nullptr;
}

bool NodeLinks::up(const std::string& peer) const {
  auto it = peers_.find(peer);
  return it != peers_.end() && it->second->up;
}

void NodeLinks::send(const std::string& to, const Json& message) {
  if (stopped_) return;
  auto it = peers_.find(to);
  if (it == peers_.end()) return;
  Peer& p = *it->second;
  const std::size_t before = p.pending.size();
  foxp::encode_message(message, p.pending);
  if (p.pending.size() + *p.inflight > options_.max_queue_bytes) {
    // Over the bound: this message is dropped (the roles send again); what waits stays, the
    // oldest first, which is what the peer lacks first.
    p.pending.resize(before);
    ++dropped_;
    return;
  }
  if (!p.out && now_ms(loop_) >= p.next_dial_ms) dial(p);
}

void NodeLinks::send_frame(const std::string& to, std::string_view frame) {
  if (stopped_) return;
  auto it = peers_.find(to);
  if (it == peers_.end()) return;
  Peer& p = *it->second;
  if (p.pending.size() + *p.inflight + frame.size() > options_.max_queue_bytes) {
    ++dropped_;
    return;
  }
  p.pending.append(frame);
  if (!p.out && now_ms(loop_) >= p.next_dial_ms) dial(p);
}

void NodeLinks::flush() {
  for (auto& [name, p] : peers_) flush(*p);
}

void NodeLinks::flush(Peer& p) {
  if (!p.up || !p.out || p.pending.empty()) return;
  // Everything this turn sent to the peer in one write.
  std::string bytes, why;
  bytes.swap(p.pending);
  if (!write(*p.out, std::move(bytes), p.inflight, &why)) conn_closed(*p.out, why);
}

bool NodeLinks::write(Conn& c, std::string bytes, std::shared_ptr<std::size_t> inflight,
                      std::string* why) {
  if (!c.tls) {
    write_bytes(c.tcp, std::move(bytes), std::move(inflight));
    return true;
  }
  if (c.tls->write(bytes, why) != net::TlsSession::Result::kOk) return false;
  std::string cipher;
  cipher.swap(c.tls->out());
  write_bytes(c.tcp, std::move(cipher), std::move(inflight));
  return true;
}

void NodeLinks::send_hello(Conn& c) {
  Json hello = c.dialer->hello();
  if (c.raft) hello["for"] = "raft";
  std::string why;
  if (!write(c, frame(hello), nullptr, &why)) conn_closed(c, why);
}

namespace {

void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  *buf = uv_buf_init(g_read_buffer, sizeof g_read_buffer);
}

}  // namespace

void NodeLinks::dial(Peer& p) {
  sockaddr_storage addr{};
  p.next_dial_ms = now_ms(loop_) + p.backoff_ms;
  p.backoff_ms = std::min(p.backoff_ms * 2, options_.reconnect_max_ms);
  if (!resolve(p.host, p.port, &addr)) {
    if (!p.failure_logged) log::error("cluster", "link to ", p.name, ": bad address ", p.host);
    p.failure_logged = true;
    return;
  }
  p.out = start_dial(p.name, addr, false, nullptr);
}

void NodeLinks::dial_raft(const std::string& to, OnDialed done) {
  auto it = peers_.find(to);
  sockaddr_storage addr{};
  if (stopped_ || it == peers_.end() || !resolve(it->second->host, it->second->port, &addr)) {
    done(nullptr);
    return;
  }
  start_dial(to, addr, true, std::move(done));
}

NodeLinks::Conn* NodeLinks::start_dial(const std::string& peer, const sockaddr_storage& addr,
                                       bool raft, OnDialed done) {
  auto c = std::make_unique<Conn>();
  c->links = this;
  c->outgoing = true;
  c->raft = raft;
  c->peer = peer;
  c->dialed = std::move(done);
  c->tcp = new_tcp(loop_);
  c->tcp->data = c.get();
  c->connect = new uv_connect_t;
  c->connect->data = c.get();
  c->deadline_ms = now_ms(loop_) + options_.handshake_timeout_ms;
  c->dialer.emplace(config_.secret, self_, peer, cluster::fresh_nonce());
  Conn* raw = c.get();
  conns_[raw] = std::move(c);
  int rc = uv_tcp_connect(raw->connect, raw->tcp, reinterpret_cast<const sockaddr*>(&addr),
                          [](uv_connect_t* req, int status) {
    auto* c = static_cast<Conn*>(req->data);
    delete req;
    if (!c || !c->links) return;
    c->connect = nullptr;
    if (status != 0) {
      c->links->conn_closed(*c, std::string("connect: ") + uv_strerror(status));
      return;
    }
    set_timeouts(c->tcp);
    NodeLinks* links = c->links;
    if (links->tls_client_) {
      // TLS first (the ClientHello); the link handshake once it is established (on_read).
      auto peer = links->peers_.find(c->peer);
      c->tls = std::make_unique<net::TlsSession>(*links->tls_client_, peer->second->host);
      std::string plain, why;
      if (c->tls->feed({}, &plain, &why) != net::TlsSession::Result::kOk) {
        links->conn_closed(*c, why);
        return;
      }
      std::string hello;
      hello.swap(c->tls->out());
      write_bytes(c->tcp, std::move(hello), nullptr);
    } else {
      links->send_hello(*c);
      if (!links->conns_.count(c)) return;
    }
    uv_read_start(reinterpret_cast<uv_stream_t*>(c->tcp), on_alloc, &NodeLinks::on_read);
  });
  if (rc != 0) {
    delete raw->connect;
    raw->connect = nullptr;
    conn_closed(*raw, std::string("connect: ") + uv_strerror(rc));
    return nullptr;
  }
  return raw;
}

void NodeLinks::accept() {
  auto c = std::make_unique<Conn>();
  c->links = this;
  c->tcp = new_tcp(loop_);
  c->tcp->data = c.get();
  if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_), reinterpret_cast<uv_stream_t*>(c->tcp)) != 0) {
    close_tcp(c->tcp);
    return;
  }
  std::size_t handshakes = 0;
  for (const auto& [raw, other] : conns_) handshakes += !other->up && !other->outgoing;
  if (handshakes >= kMaxHandshakes) {
    ++refused_handshakes_;
    if (refused_handshakes_ == 1 || refused_handshakes_ % 1000 == 0) {
      log::warn("cluster", "node links: ", handshakes, " connections have not authenticated yet: "
                "refusing more (", refused_handshakes_, " so far)");
    }
    close_tcp(c->tcp);
    return;
  }
  std::set<std::string> known;
  for (const auto& [name, p] : peers_) known.insert(name);
  c->listener.emplace(config_.secret, self_, std::move(known), cluster::fresh_nonce());
  c->deadline_ms = now_ms(loop_) + options_.handshake_timeout_ms;
  if (tls_server_) c->tls = std::make_unique<net::TlsSession>(*tls_server_);
  set_timeouts(c->tcp);
  Conn* raw = c.get();
  conns_[raw] = std::move(c);
  uv_read_start(reinterpret_cast<uv_stream_t*>(raw->tcp), on_alloc, &NodeLinks::on_read);
}

void NodeLinks::on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(stream->data);
  if (!c || !c->links) return;
  NodeLinks* links = c->links;
  if (n < 0) {
    links->conn_closed(*c, n == UV_EOF ? "closed by the peer" : uv_strerror(static_cast<int>(n)));
    return;
  }
  if (n == 0) return;
  std::string_view bytes(buf->base, static_cast<std::size_t>(n));
  std::string plain;
  if (c->tls) {
    const bool was = c->tls->established();
    std::string why;
    const net::TlsSession::Result r = c->tls->feed(bytes, &plain, &why);
    if (!c->tls->out().empty()) {   // handshake records, alerts
      std::string records;
      records.swap(c->tls->out());
      write_bytes(c->tcp, std::move(records), nullptr);
    }
    if (r != net::TlsSession::Result::kOk) {
      if (c->relay && !plain.empty()) write_bytes(c->relay, std::move(plain), nullptr);
      links->conn_closed(*c, why);
      return;
    }
    if (!was && c->tls->established() && c->outgoing) {
      links->send_hello(*c);
      if (!links->conns_.count(c)) return;
    }
    if (c->relay) {   // a raft link's bytes: to raft, as they are
      if (plain.empty()) return;
      write_bytes(c->relay, std::move(plain), nullptr);
      if (queued(c->relay) > kRelayMaxQueue) {
        uv_read_stop(stream);
        c->tcp_paused = true;
      }
      return;
    }
    bytes = plain;
  }
  c->decoder.feed(bytes);
  for (;;) {
    Json m;
    std::string error;
    foxp::Next next = c->decoder.next(&m, &error);
    if (next == foxp::Next::kNeedMore) return;
    if (next == foxp::Next::kError) {
      links->conn_closed(*c, "malformed: " + error);
      return;
    }
    std::string why;
    switch (links->handle(*c, m, &why)) {
      case Handled::kGoOn: break;
      case Handled::kClose: links->conn_closed(*c, why); return;
      case Handled::kGone: return;
    }
  }
}

NodeLinks::Handled NodeLinks::handle(Conn& c, Json& m, std::string* why) {
  if (c.up) {
    if (!c.outgoing) {
      const std::string from = c.peer;   // the callback may close this connection
      on_message_(from, std::move(m));
    }
    return stopped_ ? Handled::kGone : Handled::kGoOn;
  }
  Json reply;
  std::string error;
  if (c.outgoing) {
    cluster::AuthStep step = c.dialer->on_message(m, &reply, &error);
    if (step == cluster::AuthStep::kFailed) {
      *why = error;
      return Handled::kClose;
    }
    if (!reply.is_null() && !write(c, frame(reply), nullptr, why)) return Handled::kClose;
    if (!c.dialer->confirmed()) return Handled::kGoOn;
    if (c.decoder.buffered() != 0) {
      *why = "bytes after LINKED";
      return Handled::kClose;
    }
    const bool handed_over = c.raft;   // as below
    conn_up(c);
    return handed_over || !conns_.count(&c) ? Handled::kGone : Handled::kGoOn;
  }
  bool raft = false;
  if (m.is_object()) {
    auto it = m.find("for");
    raft = it != m.end() && it->is_string() && it->get<std::string>() == "raft";
    if (raft) c.raft = true;
  }
  cluster::AuthStep step = c.listener->on_message(m, &reply, &error);
  if (step == cluster::AuthStep::kFailed) {
    *why = error;
    return Handled::kClose;
  }
  if (!reply.is_null() && !write(c, frame(reply), nullptr, why)) return Handled::kClose;
  if (step == cluster::AuthStep::kReply) return Handled::kGoOn;
  c.peer = c.listener->peer();
  if (c.raft && c.decoder.buffered() != 0) {
    *why = "bytes after the PROOF";
    return Handled::kClose;
  }
  // conn_up hands a raft link over (and frees `c`, or makes it a relay: no more messages); its
  // first flush may close a link whose TLS write failed.
  const bool handed_over = c.raft;
  conn_up(c);
  return handed_over || !conns_.count(&c) ? Handled::kGone : Handled::kGoOn;
}

void NodeLinks::conn_up(Conn& c) {
  c.up = true;
  c.deadline_ms = 0;
  // Authenticated: messages up to the cluster's limit now (nothing is buffered past the
  // handshake: checked by handle()).
  c.decoder = foxp::StreamDecoder(options_.max_message_size);
  if (c.raft && c.tls) {
    hand_over_tls(c);
    return;
  }
  if (c.raft) {
    // Raft takes the stream over as it is: no more reads here, the handle is raft's now.
    uv_read_stop(reinterpret_cast<uv_stream_t*>(c.tcp));
    uv_tcp_t* tcp = c.tcp;
    tcp->data = nullptr;
    c.tcp = nullptr;
    OnDialed dialed = std::move(c.dialed);
    const std::string peer = c.peer;
    conns_.erase(&c);
    if (dialed) {
      dialed(reinterpret_cast<uv_stream_t*>(tcp));
    } else if (on_raft_) {
      on_raft_(peer, reinterpret_cast<uv_stream_t*>(tcp));
    } else {
      close_tcp(tcp);
    }
    return;
  }
  if (!c.outgoing) {
    log::debug("cluster", "link from ", c.peer, " accepted");
    return;
  }
  auto it = peers_.find(c.peer);
  if (it == peers_.end()) return;
  Peer& p = *it->second;
  p.up = true;
  p.backoff_ms = options_.reconnect_min_ms;
  p.failure_logged = false;
  log::info("cluster", "link to ", p.name, " up");
  p.ever_up = true;
  flush(p);
}

void NodeLinks::hand_over_tls(Conn& c) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    conn_closed(c, std::string("socketpair: ") + std::strerror(errno));
    return;
  }
  auto* theirs = static_cast<uv_pipe_t*>(raft_malloc(sizeof(uv_pipe_t)));
  if (!theirs) {
    ::close(fds[0]);
    ::close(fds[1]);
    conn_closed(c, "out of memory");
    return;
  }
  c.relay = new uv_pipe_t;
  uv_pipe_init(loop_, theirs, 0);
  uv_pipe_init(loop_, c.relay, 0);
  theirs->data = nullptr;
  c.relay->data = &c;
  const bool theirs_open = uv_pipe_open(theirs, fds[0]) == 0;
  if (!theirs_open || uv_pipe_open(c.relay, fds[1]) != 0) {
    // A handle that did not open leaves its fd to us; one that did closes it with itself.
    if (!theirs_open) ::close(fds[0]);
    ::close(fds[1]);
    uv_close(reinterpret_cast<uv_handle_t*>(theirs), [](uv_handle_t* h) { raft_free(h); });
    conn_closed(c, "socketpair: cannot open it");   // closes the relay handle
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(c.relay), on_alloc, &NodeLinks::on_relay_read);
  auto* stream = reinterpret_cast<uv_stream_t*>(theirs);
  OnDialed dialed = std::move(c.dialed);
  c.dialed = nullptr;
  if (dialed) {
    dialed(stream);
  } else if (on_raft_) {
    on_raft_(c.peer, stream);
  } else {
    uv_close(reinterpret_cast<uv_handle_t*>(stream), [](uv_handle_t* h) { raft_free(h); });
  }
}

void NodeLinks::on_relay_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(stream->data);
  if (!c || !c->links) return;
  NodeLinks* links = c->links;
  if (n < 0) {
    links->conn_closed(*c, "raft closed the link");
    return;
  }
  if (n == 0) return;
  std::string why;
  if (!links->write(*c, std::string(buf->base, static_cast<std::size_t>(n)), nullptr, &why)) {
    links->conn_closed(*c, why);
    return;
  }
  if (queued(c->tcp) > kRelayMaxQueue) {
    uv_read_stop(stream);
    c->relay_paused = true;
  }
}

void NodeLinks::conn_closed(Conn& c, const std::string& why) {
  if (c.connect) c.connect->data = nullptr;   // its callback (ECANCELED) frees it
  c.connect = nullptr;
  if (c.dialed) {
    OnDialed done = std::move(c.dialed);
    log::debug("cluster", "raft link to ", c.peer, " failed: ", why);
    if (c.tcp) close_tcp(c.tcp);
    c.tcp = nullptr;
    conns_.erase(&c);
    done(nullptr);
    return;
  }
  if (c.outgoing) {
    auto it = peers_.find(c.peer);
    if (it != peers_.end() && it->second->out == &c) {
      Peer& p = *it->second;
      p.out = nullptr;
      // Logged once per reason: a peer refused at first and then failing TLS says both.
      if (p.up) {
        log::warn("cluster", "link to ", p.name, " down: ", why);
      } else if (!p.failure_logged || why != p.last_failure) {
        log::info("cluster", "link to ", p.name, " not up yet: ", why, " (retrying)");
      }
      p.failure_logged = true;
      p.last_failure = why;
      p.up = false;
      // The writes still pending are cancelled with the handle: their callbacks (ECANCELED)
      // take their bytes off `inflight`.
    }
  } else if (!c.up || !c.peer.empty()) {
    if (!c.up) log::warn("cluster", "link from ", c.peer.empty() ? "an unknown peer" : c.peer,
                         " refused: ", why);
  }
  if (c.relay) {
    log::debug("cluster", "raft link ", c.outgoing ? "to " : "from ", c.peer, " closed: ", why);
    // What the peer sent is written to raft first, then raft reads the end of its side (and
    // closes it); the handle closes once the shutdown is done (or cancelled by stop()).
    c.relay->data = nullptr;
    auto* req = new uv_shutdown_t;
    if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(c.relay), [](uv_shutdown_t* r, int) {
          auto* h = reinterpret_cast<uv_handle_t*>(r->handle);
          delete r;
          if (!uv_is_closing(h)) close_pipe(reinterpret_cast<uv_pipe_t*>(h));
        }) != 0) {
      delete req;
      close_pipe(c.relay);
    }
    c.relay = nullptr;
  }
  if (c.tcp) close_tcp(c.tcp);
  c.tcp = nullptr;
  conns_.erase(&c);
}

void NodeLinks::tick() {
  if (stopped_) return;
  const std::uint64_t now = now_ms(loop_);
  std::vector<Conn*> late;
  for (auto& [raw, c] : conns_) {
    if (c->deadline_ms != 0 && now >= c->deadline_ms) late.push_back(raw);
  }
  for (Conn* c : late) conn_closed(*c, "no handshake within the time limit");
  for (auto& [raw, c] : conns_) {   // relays whose other side drained read again
    if (c->tcp_paused && queued(c->relay) <= kRelayMaxQueue / 2) {
      c->tcp_paused = false;
      uv_read_start(reinterpret_cast<uv_stream_t*>(c->tcp), on_alloc, &NodeLinks::on_read);
    }
    if (c->relay_paused && queued(c->tcp) <= kRelayMaxQueue / 2) {
      c->relay_paused = false;
      uv_read_start(reinterpret_cast<uv_stream_t*>(c->relay), on_alloc, &NodeLinks::on_relay_read);
    }
  }
  for (auto& [name, p] : peers_) {
    if (!p->out && now >= p->next_dial_ms) dial(*p);
  }
}

}  // namespace fox::cli
