// The MQTT 3.1.1 broker side of fox: a Broker (per `fox serve`) accepts connections; each
// Connection speaks the protocol for one network connection; a Session is the MQTT session state
// (subscriptions, in-flight and queued messages) that outlives its connection when the client
// asked for clean session = false. The Session is the router Peer: it stays joined to its realm
// while the client is away, so QoS>=1 messages queue for it.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/outbound.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/packet.hpp"
#include "router/peer.hpp"
#include "router/router.hpp"
#include "router/storage.hpp"

namespace fox::mqtt {

class Broker;
class Connection;

// What a Connection needs from its network connection.
class Transport {
public:
  virtual ~Transport() = default;
  // Sends the bytes of one or more packets (possibly shared with other connections), within the
  // connection's outbound budget (core/outbound.hpp): QoS 0 PUBLISHes are kDroppable, replays
  // the client asked for kReplay, everything else kNormal.
  virtual SendResult send(std::shared_ptr<const std::string> bytes, SendKind kind) = 0;
  virtual void close() = 0;   // after what is queued; asynchronous: on_transport_closed() follows
  virtual void abort() = 0;   // now, dropping what is queued (a slow consumer)
};

struct BrokerOptions {
  std::string default_realm = "realm1";
  std::uint64_t max_packet_size = 16u * 1024 * 1024;
  std::uint64_t session_queue = 10000;   // queued QoS>=1 messages per session (see README)
  std::uint64_t handshake_timeout_ms = 10000;
  unsigned inflight_window = 32;         // unacknowledged QoS>=1 PUBLISHes per session
};

// One outgoing application message, as this session will send it.
struct Outgoing {
  std::string topic;                     // slashed MQTT topic
  std::shared_ptr<const std::string> payload;
  std::uint8_t qos = 0;
  bool retain = false;
  std::uint64_t seq = 0;                 // row of a persistent session's message (0 = not stored)
  bool replay = false;                   // part of a retained replay burst (not queue-bounded)
};

class Session final : public Peer, public std::enable_shared_from_this<Session> {
public:
  Session(Broker& broker, Realm& realm, std::string client_id, bool clean, SessionInfo info);
  ~Session() override;

  const std::string& client_id() const { return client_id_; }
  const std::string& realm_name() const { return realm_name_; }
  bool clean() const { return clean_; }
  Id id() const { return session_id_; }
  Connection* connection() const { return conn_; }

  // A connection takes over this session: in-flight messages are sent again (DUP), then the
  // queue drains.
  void attach(Connection* conn);
  void detach();
  // A persistent session read back from the store at start: subscriptions active again (no
  // retained replay), queued and in-flight messages restored; detached until its client returns.
  void restore(const StoredMqttSession& stored);

  // Inbound (from the client).
  void publish(Publish&& p);
  std::vector<std::uint8_t> subscribe(const std::vector<SubscribeTopic>& topics);
  void unsubscribe(const std::vector<std::string>& filters);
  void on_puback(std::uint16_t id);
  void on_pubrec(std::uint16_t id);
  void on_pubcomp(std::uint16_t id);
  // QoS 2 inbound (method: deliver on PUBLISH, remember the id until PUBREL). A persistent
  // session stores the ids, so a retransmission after a restart is not delivered again.
  bool qos2_first_time(std::uint16_t id);
  void qos2_release(std::uint16_t id);
  // Flushes messages held back while a SUBACK was being prepared.
  void release_held();

  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t dropped_qos0() const { return dropped_qos0_; }

  // Peer
  void send_published(Id, Id) override {}
  void send_subscribed(Id request, Id subscription) override;
  void send_unsubscribed(Id) override {}
  void send_event(const fox::Event& event) override;
  void send_subscription_revoked(Id subscription, const std::string& reason) override;
  void send_registered(Id, Id) override {}
  void send_unregistered(Id) override {}
  void send_registration_revoked(Id, const std::string&) override {}
  void send_invocation(const fox::Invocation&) override {}
  void send_interrupt(Id, const std::string&) override {}
  void send_result(Id, const fox::Result&) override {}
  void send_error(RequestType type, Id request, const fox::Error& error) override;

private:
  struct Subscription {
    TopicParts filter;       // MQTT levels as sent (with + and #)
    std::uint8_t qos = 0;
    Id id = 0;               // router subscription id
  };
  enum class Stage { kWaitAck, kWaitRec, kWaitComp };
  struct Inflight {
    std::uint16_t packet_id;
    Outgoing msg;
    Stage stage;
  };

  void deliver(Outgoing msg);
  void send_publish(const Outgoing& msg, std::uint16_t packet_id, bool dup);
  void fill_window();
  std::uint16_t next_packet_id();
  std::uint8_t granted_for(const TopicParts& topic) const;
  // Persistent session rows (no-ops for a clean session or without a store).
  void store_subscriptions();
  void store_message(const Outgoing& msg, std::uint16_t packet_id, int stage);
  void store_update(const Outgoing& msg, std::uint16_t packet_id, int stage);
  void store_delete(const Outgoing& msg);

  Broker& broker_;
  Realm* realm_;
  std::string realm_name_;
  std::string client_id_;
  bool clean_;
  MqttSessionStore* store_ = nullptr;   // set for a persistent session when there is a store
  std::uint64_t next_seq_ = 0;
  Id session_id_ = 0;
  Connection* conn_ = nullptr;
  std::map<std::string, Subscription> subs_;       // by filter text
  std::unordered_map<Id, std::string> sub_by_id_;  // router subscription id → filter text
  std::deque<Inflight> inflight_;
  std::deque<Outgoing> queue_;
  std::unordered_set<std::uint16_t> qos2_in_;
  std::uint16_t last_packet_id_ = 0;
  Id last_publication_ = 0;          // overlapping subscriptions deliver once
  bool holding_ = false;             // inside SUBSCRIBE: deliveries wait for the SUBACK
  std::vector<Outgoing> held_;
  Id pending_subscription_ = 0;      // answer of the router to the current subscribe()
  std::string current_filter_;       // the filter subscribe() is adding
  bool pending_failed_ = false;
  std::uint64_t dropped_ = 0;        // QoS>=1 messages dropped from a full session queue
  std::uint64_t dropped_qos0_ = 0;   // QoS 0 messages dropped for a slow reader
  void note_qos0_drop();
};

class Connection {
public:
  Connection(Broker& broker, Transport& transport, std::string transport_name,
             std::string peer_address);
  ~Connection();
  void on_data(std::string_view bytes);
  void on_transport_closed();

  bool send_packet(const Packet& packet);
  SendResult send_bytes(std::string bytes, SendKind kind = SendKind::kNormal) {
    return send_shared(std::make_shared<const std::string>(std::move(bytes)), kind);
  }
  // kOverflow disconnects the slow consumer here; kDropped is the caller's to count.
  SendResult send_shared(std::shared_ptr<const std::string> bytes,
                         SendKind kind = SendKind::kNormal);
  void close(const std::string& why);   // protocol error / takeover: the will is published
  const std::string& peer() const { return peer_; }

private:
  friend class Session;
  void handle(Packet& packet);
  void handle_connect(Connect& c);
  void handle_publish(Publish& p);
  void handle_subscribe(Subscribe& s);
  void handle_unsubscribe(Unsubscribe& u);
  void start_keepalive();
  void check_keepalive();
  void publish_will();
  // The will as armed for this connection, written through to the store (a crash keeps it).
  void arm_will(std::optional<Will> will);
  void disarm_will();
  // PUBACK / PUBREC once the publication is committed (SPEC §8); a failed commit closes the
  // connection (MQTT 3.1.1 has no negative acknowledgement: the client sends it again).
  void ack_after_commit(Packet ack);

  Broker& broker_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for callbacks that outlive us
  Transport& transport_;
  std::string transport_name_;
  std::string peer_;
  StreamDecoder decoder_;
  std::shared_ptr<Session> session_;
  std::optional<Will> will_;
  std::uint16_t keep_alive_s_ = 0;
  std::uint64_t last_rx_ms_ = 0;
  RouterEnv::TimerId timer_ = 0;
  bool connected_ = false, closing_ = false, closed_ = false;
};

class Broker {
public:
  Broker(Router& router, BrokerOptions options);
  ~Broker();
  Router& router() { return router_; }
  const BrokerOptions& options() const { return options_; }
  std::unique_ptr<Connection> accept(Transport& transport, std::string transport_name,
                                     std::string peer_address);

  // Registry of sessions by (realm, client id).
  std::shared_ptr<Session> find(const std::string& realm, const std::string& client_id);
  void add(const std::shared_ptr<Session>& session);
  void remove(const Session& session);
  std::size_t session_count() const { return sessions_.size(); }
  // The store of persistent sessions (nullptr in --memory mode).
  MqttSessionStore* store() const;
  // At start: the persistent sessions of the previous process. Returns how many were restored.
  std::size_t restore(const std::vector<StoredMqttSession>& sessions);
  // At start, after restore(): the CONNECT wills of clients that were connected when the previous
  // process ended are published (once: each row is deleted in the same transaction).
  std::size_t publish_stale_wills(const std::vector<StoredMqttWill>& wills);
  void count_drop() { ++dropped_total_; }
  std::uint64_t dropped_total() const { return dropped_total_; }
  void count_qos0_drop() { ++dropped_qos0_total_; }
  std::uint64_t dropped_qos0_total() const { return dropped_qos0_total_; }

private:
  Router& router_;
  BrokerOptions options_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Session>> sessions_;
  std::uint64_t dropped_total_ = 0;
  std::uint64_t dropped_qos0_total_ = 0;
};

// MQTT topic filter matching on levels (+ one level, # the rest including the parent; a topic
// starting with '$' is not matched by a wildcard in the first level).
bool filter_matches(const TopicParts& filter, const TopicParts& topic);

}  // namespace fox::mqtt
