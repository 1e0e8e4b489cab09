// The MQTT 3.1.1 broker side of fox: a Server (one per `fox serve`) accepts connections and keeps
// the registry of sessions by (realm, client id). A Connection (connection.hpp) speaks the
// protocol for one network connection; a Session (session.hpp) is the MQTT session state that
// outlives its connection when the client asked for clean session = 0.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mqtt/session_store.hpp"
#include "net/connection.hpp"
#include "router/router.hpp"

namespace fox::mqtt {

class Connection;
class Session;

struct ServerOptions {
  std::string default_realm = "realm1";
  std::uint64_t max_packet_size = 16u * 1024 * 1024;
  std::uint64_t session_queue = 10000;   // queued QoS>=1 messages per session (see README)
  unsigned inflight_window = 32;         // unacknowledged QoS>=1 PUBLISHes per session
  SessionStore* store = nullptr;         // persistent sessions and wills; nullptr: --memory
};

class Server {
public:
  Server(Router& router, ServerOptions options);
  ~Server();
  Router& router() { return router_; }
  const ServerOptions& options() const { return options_; }
  SessionStore* store() const { return options_.store; }
  std::unique_ptr<Connection> accept(net::Connection& connection, std::string transport_name);

  // Registry of sessions by (realm, client id).
  std::shared_ptr<Session> find(const std::string& realm, const std::string& client_id);
  void add(const std::shared_ptr<Session>& session);
  void remove(const Session& session);
  std::size_t session_count() const { return sessions_.size(); }
  // QoS 1/2 messages queued in every session, not in flight yet (for /metrics).
  std::size_t queued_total() const;
  // At start: the persistent sessions of the previous process. Returns how many were restored.
  std::size_t restore(const std::vector<StoredSession>& sessions);
  // At start, after restore(): the CONNECT wills of clients that were connected when the previous
  // process ended are published (once: each row is deleted in the same transaction).
  std::size_t publish_stale_wills(const std::vector<StoredConnectWill>& wills);

  void count_drop() { ++dropped_total_; }
  std::uint64_t dropped_total() const { return dropped_total_; }
  void count_qos0_drop() { ++dropped_qos0_total_; }
  std::uint64_t dropped_qos0_total() const { return dropped_qos0_total_; }

private:
  Router& router_;
  ServerOptions options_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Session>> sessions_;
  std::uint64_t dropped_total_ = 0;
  std::uint64_t dropped_qos0_total_ = 0;
};

// MQTT topic filter matching on levels (+ one level, # the rest including the parent; a topic
// starting with '$' is not matched by a wildcard in the first level).
bool filter_matches(const TopicParts& filter, const TopicParts& topic);

}  // namespace fox::mqtt
