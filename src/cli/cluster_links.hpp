// The node links of a cluster node (SPEC §9): FOX framing (MessagePack maps, fox/codec.hpp) over
// TCP, every connection authenticated by the cluster secret first (cluster/link_auth.hpp:
// LINK / CHALLENGE / PROOF / LINKED; the secret never on the wire).
//
// One connection per direction: a node dials each peer it sends to and only writes on that
// connection; what it receives comes on the connections its peers dialed. So there is nothing to
// arbitrate when two nodes dial each other at once. Messages are coalesced: what a turn sends to
// a peer goes out in one write at the end of the turn (flush()). A message for a peer whose link
// is down, or behind writes the kernel has not taken, waits in a bounded buffer (max_queue_bytes,
// written and pending together; beyond it the message is dropped and counted — the roles
// retransmit, and nothing acknowledged depends on one message); the dialer reconnects with
// backoff (reconnect_min_ms doubling to reconnect_max_ms). A link that does not finish its
// handshake within handshake_timeout_ms, sends something malformed or too large, or fails
// authentication is closed with one log line.
//
// The sync group's raft traffic uses connections of its own, authenticated the same way: a LINK
// with {for: "raft"} is handed, once LINKED, as a plain uv stream to raft's transport
// (cluster_raft.hpp), which then owns it.
//
// With the cluster file's `tls` every connection is TLS first (net/tls.hpp, mutual: each end
// presents its node's certificate and requires the other's to chain to the cluster CA; the dialer
// also that it names the peer's host), then the same handshake and messages inside. A raft link
// over TLS cannot be handed over as the TCP stream: raft gets one end of a socketpair and the
// link relays between the other end and its TLS session (bounded both ways: a side whose writes
// pile up past kRelayMaxQueue stops being read until they drain).
#pragma once
#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "cluster/config.hpp"
#include "core/json.hpp"
#include "net/tls.hpp"

namespace fox::cli {

struct LinkOptions {
  std::uint64_t handshake_timeout_ms = 5000;
  std::uint64_t reconnect_min_ms = 100;
  std::uint64_t reconnect_max_ms = 2000;
  std::size_t max_queue_bytes = 64u << 20;     // per peer, written and not yet sent
  // One message on an authenticated link: a KEEP carries one publication (limits.max_message_size,
  // 16 MiB) and its envelope; a HISTORY is cut at Ndb::kMaxHistoryBytes.
  std::size_t max_message_size = 20u << 20;
};

class NodeLinks {
public:
  using OnMessage = std::function<void(const std::string& from, Json&& message)>;
  // An authenticated raft connection from `from`; the callee owns `stream` (raft_malloc()ed).
  using OnRaftStream = std::function<void(const std::string& from, uv_stream_t* stream)>;
  // A raft connection dialed by dial_raft(): the stream (raft_malloc()ed, owned by the callee),
  // or nullptr when it could not be made.
  using OnDialed = std::function<void(uv_stream_t* stream)>;

  NodeLinks(uv_loop_t* loop, const cluster::ClusterConfig& config, std::string self,
            LinkOptions options, OnMessage on_message);
  ~NodeLinks();
  NodeLinks(const NodeLinks&) = delete;
  NodeLinks& operator=(const NodeLinks&) = delete;

  // Listens on the node's host:fox. False with *error when it cannot.
  bool start(std::string* error);
  void stop();   // closes everything; no callback after it

  // Queues the message for `to`; flush() writes what each peer got this turn in one write.
  void send(const std::string& to, const Json& message);
  // A message already framed (foxp::encode_message), e.g. one encoding for several peers.
  void send_frame(const std::string& to, std::string_view frame);
  void flush();   // the end of every loop turn
  void on_raft_stream(OnRaftStream fn) { on_raft_ = std::move(fn); }
  // Dials `to` for raft; `done` is called exactly once (also on stop(), with nullptr).
  void dial_raft(const std::string& to, OnDialed done);

  bool up(const std::string& peer) const;
  std::uint64_t dropped() const { return dropped_; }

  struct Conn;
  struct Peer;

private:
  enum class Handled { kGoOn, kClose, kGone };
  static void on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf);
  static void on_relay_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf);
  // Writes on the connection, through its TLS session when it has one. False with *why when
  // TLS failed (the caller closes the connection).
  bool write(Conn& c, std::string bytes, std::shared_ptr<std::size_t> inflight, std::string* why);
  void send_hello(Conn& c);   // a dialed connection is ready for the link handshake
  void hand_over_tls(Conn& c);   // a raft link over TLS: raft gets a socketpair's end
  Handled handle(Conn& c, Json& message, std::string* why);   // may consume it
  void accept();
  void tick();
  void dial(Peer& peer);
  // A connection being made to `peer` (nullptr when it failed at once: conn_closed ran).
  Conn* start_dial(const std::string& peer, const sockaddr_storage& addr, bool raft, OnDialed done);
  void conn_up(Conn& c);
  void conn_closed(Conn& c, const std::string& why);
  void flush(Peer& peer);

  uv_loop_t* loop_;
  const cluster::ClusterConfig& config_;
  std::string self_;
  LinkOptions options_;
  OnMessage on_message_;
  OnRaftStream on_raft_;
  std::unique_ptr<net::TlsConfig> tls_server_, tls_client_;   // the cluster file's `tls`
  uv_tcp_t* listener_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  std::map<std::string, std::unique_ptr<Peer>> peers_;
  std::map<Conn*, std::unique_ptr<Conn>> conns_;
  std::uint64_t dropped_ = 0;
  std::uint64_t refused_handshakes_ = 0;
  bool stopped_ = false;
};

}  // namespace fox::cli
