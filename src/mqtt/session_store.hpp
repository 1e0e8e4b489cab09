// What the MQTT broker keeps across restarts (SPEC §7): clean-session=0 sessions (subscriptions,
// queued and in-flight QoS>=1 messages, inbound QoS 2 ids awaiting PUBREL) and the CONNECT wills
// of connected clients. store/ implements it (SQLite); serve injects it; without one (--memory)
// nothing is kept. Every call is one write in the store's current transaction.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace fox::mqtt {

// One QoS>=1 message of a persistent MQTT session: queued (packet_id 0) or in flight.
struct StoredMessage {
  std::uint64_t seq = 0;    // order within the session
  std::string topic;        // slashed MQTT topic
  std::string payload;
  int qos = 1;
  bool retain = false;
  std::uint16_t packet_id = 0;  // 0 = still queued
  int stage = 0;                // 0 wait PUBACK, 1 wait PUBREC, 2 wait PUBCOMP
};

struct StoredSession {
  std::string realm, client_id;
  std::vector<std::pair<std::string, int>> subscriptions;  // MQTT filter, granted QoS
  std::vector<StoredMessage> messages;                     // in seq order
  std::vector<std::uint16_t> qos2_received;                // inbound QoS 2 ids awaiting PUBREL
};

// The will of a connected MQTT client (CONNECT will flag): kept while the connection lives, so a
// crash of fox does not lose it (published at the next start).
struct StoredConnectWill {
  std::string realm, client_id;
  std::string topic;        // slashed MQTT topic
  std::string payload;
  int qos = 0;
  bool retain = false;
};

class SessionStore {
public:
  virtual ~SessionStore() = default;
  virtual void save_session(const std::string& realm, const std::string& client_id,
                            const std::vector<std::pair<std::string, int>>& subscriptions) = 0;
  virtual void delete_session(const std::string& realm, const std::string& client_id) = 0;
  virtual void save_message(const std::string& realm, const std::string& client_id,
                            const StoredMessage& message) = 0;
  virtual void update_message(const std::string& realm, const std::string& client_id,
                              std::uint64_t seq, std::uint16_t packet_id, int stage) = 0;
  virtual void delete_message(const std::string& realm, const std::string& client_id,
                              std::uint64_t seq) = 0;
  // Inbound QoS 2 packet ids delivered and not yet released (PUBREL): a retransmission after a
  // restart is recognised and not delivered twice.
  virtual void save_qos2(const std::string& realm, const std::string& client_id,
                         std::uint16_t packet_id) = 0;
  virtual void delete_qos2(const std::string& realm, const std::string& client_id,
                           std::uint16_t packet_id) = 0;
  virtual std::vector<StoredSession> load_sessions() = 0;
  // CONNECT wills of connected clients (any session kind).
  virtual void save_connect_will(const StoredConnectWill& will) = 0;
  virtual void delete_connect_will(const std::string& realm, const std::string& client_id) = 0;
  virtual std::vector<StoredConnectWill> load_connect_wills() = 0;
  // fn(true) once every write made so far is committed; fn(false) when that commit failed.
  virtual void after_commit(std::function<void(bool ok)> fn) = 0;
};

}  // namespace fox::mqtt
