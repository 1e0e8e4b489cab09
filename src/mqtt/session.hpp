// One MQTT session: subscriptions, outbound QoS flows, the in-flight window and the queue. It is
// the router Peer: a clean-session=0 session stays joined to its realm while its client is away,
// so QoS>=1 messages queue for it (bounded, see README).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/fifo.hpp"
#include "mqtt/packet.hpp"
#include "mqtt/server.hpp"
#include "router/peer.hpp"

namespace fox::mqtt {

// One outgoing application message, as this session will send it.
struct Outgoing {
  std::string topic;                     // slashed MQTT topic
  std::shared_ptr<const std::string> payload;
  std::uint8_t qos = 0;
  bool retain = false;
  std::uint64_t seq = 0;                 // row of a persistent session's message (0 = not stored)
  bool replay = false;                   // a retained replay the client asked for (never dropped)
};

class Session final : public Peer, public std::enable_shared_from_this<Session> {
public:
  Session(Server& server, Realm& realm, std::string client_id, bool clean, SessionInfo info);
  ~Session() override;

  const std::string& client_id() const { return client_id_; }
  const std::string& realm_name() const { return realm_name_; }
  bool clean() const { return clean_; }
  Id id() const { return session_id_; }
  Connection* connection() const { return conn_; }
  std::size_t queued() const { return queue_.size(); }

  // A connection takes over this session: in-flight messages are sent again (DUP), then the
  // queue drains.
  void attach(Connection* conn);
  void detach();
  // A persistent session read back from the store at start: subscriptions active again (no
  // retained replay), queued and in-flight messages restored; detached until its client returns.
  void restore(const StoredSession& stored);

  // Inbound (from the client). publish() with QoS 1/2 is acknowledged (PUBACK/PUBREC) through
  // send_published once the publication is durable.
  void publish(Publish&& p);
  // A cluster: the will of its connection kept as last words (Realm::keep_last_words), so the
  // other nodes publish it should this node be lost; 0 when nothing was kept.
  std::uint64_t keep_will(const Will& will);
  void drop_will(std::uint64_t token);
  // SUBACK codes; then replay() once the SUBACK went out.
  std::vector<std::uint8_t> subscribe(const std::vector<SubscribeTopic>& topics,
                                      std::vector<SubscribeOutcome>* outcomes);
  void replay(const std::vector<SubscribeOutcome>& outcomes);
  void unsubscribe(const std::vector<std::string>& filters);
  void on_puback(std::uint16_t id);
  void on_pubrec(std::uint16_t id);
  void on_pubcomp(std::uint16_t id);
  // QoS 2 inbound (method: deliver on PUBLISH, remember the id until PUBREL). A persistent
  // session stores the ids, so a retransmission after a restart is not delivered again.
  bool qos2_first_time(std::uint16_t id);
  void qos2_release(std::uint16_t id);
  // The connection drained, or the session queue went down: paused replays go on.
  void drained();

  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t dropped_qos0() const { return dropped_qos0_; }

  // Peer
  void send_published(Id request, Id publication) override;
  void send_event(const fox::Delivery& delivery) override;
  void send_subscription_revoked(Id subscription, const std::string& reason) override;
  bool congested() const override;
  void send_registration_revoked(Id, const std::string&) override {}
  void send_invocation(const fox::Invocation&) override {}
  void send_interrupt(Id, const std::string&) override {}
  void send_result(Id, const fox::Result&) override {}
  void send_error(RequestType type, Id request, const fox::Error& error) override;
  void kick(const std::string& reason) override;

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
  void note_qos0_drop();
  // A PUBLISH handed to the connection: counted as sent (core/metrics.hpp), or as a drop.
  void count_sent(SendResult result, std::uint8_t qos);
  // Persistent session rows (no-ops for a clean session or without a store).
  void store_subscriptions();
  void store_message(const Outgoing& msg, std::uint16_t packet_id, int stage);
  void store_update(const Outgoing& msg, std::uint16_t packet_id, int stage);
  void store_delete(const Outgoing& msg);

  Server& server_;
  Realm* realm_;
  std::string realm_name_;
  std::string client_id_;
  bool clean_;
  SessionStore* store_ = nullptr;   // set for a persistent session when there is a store
  std::uint64_t next_seq_ = 0;
  Id session_id_ = 0;
  Connection* conn_ = nullptr;
  std::map<std::string, Subscription> subs_;       // by filter text
  std::unordered_map<Id, std::string> sub_by_id_;  // router subscription id → filter text
  std::vector<Inflight> inflight_;   // at most options().inflight_window (32): erase is cheap
  Fifo<Outgoing> queue_;             // nothing allocated while it never held a message
  std::unordered_set<std::uint16_t> qos2_in_;
  std::uint16_t last_packet_id_ = 0;
  Id last_publication_ = 0;          // overlapping subscriptions deliver once
  mutable bool told_congested_ = false;   // congested() said true: drained() follows
  std::uint64_t dropped_ = 0;        // QoS>=1 messages dropped from a full session queue
  std::uint64_t dropped_qos0_ = 0;   // QoS 0 messages dropped for a slow reader
};

}  // namespace fox::mqtt
