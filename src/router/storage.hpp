// What the router (and the MQTT sessions) need from a persistent engine (store/). Without one
// (--memory) the router uses its memory engines (kv_store.hpp) and every "after commit" action
// runs at once. No SQLite here: store/ implements these interfaces, the loop glue (cli/serve)
// commits once per loop turn by calling the engine's flush().
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "router/kv_store.hpp"
#include "router/types.hpp"

namespace fox {

// Acknowledgements that must wait until the writes made so far are durable. `fn(true)` runs after
// the transaction holding every write made before the call committed; `fn(false)` when that
// transaction failed (the writes are lost: answer with an error, never with a success).
class CommitGate {
public:
  virtual ~CommitGate() = default;
  virtual void after_commit(std::function<void(bool ok)> fn) = 0;
};

// A `will` registration (publish option `will`, SPEC §5) as stored: applied when its session
// leaves, or at the next start when the process died first.
struct StoredWill {
  std::string realm;
  std::string key;          // dotted topic
  TopicParts topic;
  Json value;               // null = delete the key
  Id owner = 0;             // session id that registered it
  bool disclose = false;
  std::string authid, authrole;
};

// One QoS>=1 message of a persistent MQTT session: queued (packet_id 0) or in flight.
struct StoredMqttMessage {
  std::uint64_t seq = 0;    // order within the session
  std::string topic;        // slashed MQTT topic
  std::string payload;
  int qos = 1;
  bool retain = false;
  std::uint16_t packet_id = 0;  // 0 = still queued
  int stage = 0;                // 0 wait PUBACK, 1 wait PUBREC, 2 wait PUBCOMP
};

struct StoredMqttSession {
  std::string realm, client_id;
  std::vector<std::pair<std::string, int>> subscriptions;  // MQTT filter, granted QoS
  std::vector<StoredMqttMessage> messages;                 // in seq order
  std::vector<std::uint16_t> qos2_received;                // inbound QoS 2 ids awaiting PUBREL
};

// The will of a connected MQTT client (CONNECT will flag): kept while the connection lives, so a
// crash of fox does not lose it (published at the next start).
struct StoredMqttWill {
  std::string realm, client_id;
  std::string topic;        // slashed MQTT topic
  std::string payload;
  int qos = 0;
  bool retain = false;
};

// A WAMP testament (wamp.session.add_testament) of a joined session: applied when the session
// leaves, or at the next start when the process died first.
struct StoredTestament {
  std::string realm;
  Id owner = 0;             // session id that added it
  std::uint64_t seq = 0;    // order among the owner's testaments
  std::string scope;        // "destroyed" or "detached"
  std::string topic;        // WAMP text (wamp_uri)
  Json args = nullptr, kwargs = nullptr;
  Json options = Json::object();  // publish options
  std::string authid, authrole;
  bool disclose = false;
};

// MQTT clean-session=false state. Every call is one row write in the current transaction.
class MqttSessionStore {
public:
  virtual ~MqttSessionStore() = default;
  virtual void save_session(const std::string& realm, const std::string& client_id,
                            const std::vector<std::pair<std::string, int>>& subscriptions) = 0;
  virtual void delete_session(const std::string& realm, const std::string& client_id) = 0;
  virtual void save_message(const std::string& realm, const std::string& client_id,
                            const StoredMqttMessage& message) = 0;
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
  virtual std::vector<StoredMqttSession> load_mqtt_sessions() = 0;
  // CONNECT wills of connected clients (any session kind).
  virtual void save_will(const StoredMqttWill& will) = 0;
  virtual void delete_will(const std::string& realm, const std::string& client_id) = 0;
  virtual std::vector<StoredMqttWill> load_mqtt_wills() = 0;
};

// A persistent engine: per-realm retained/history engines, wills, MQTT sessions, commit gate.
class Storage : public CommitGate {
public:
  virtual std::unique_ptr<RetainedStore> retained_store(const std::string& realm) = 0;
  virtual std::unique_ptr<HistoryStore> history_store(const std::string& realm) = 0;
  virtual void put_will(const StoredWill& will) = 0;
  virtual void erase_will(const std::string& realm, const std::string& key) = 0;
  // Every will stored by a previous process (at start every session is gone).
  virtual std::vector<StoredWill> load_wills() = 0;
  virtual void put_testament(const StoredTestament& testament) = 0;
  // The owner's testaments of that scope ("" = every scope).
  virtual void erase_testaments(const std::string& realm, Id owner, const std::string& scope) = 0;
  virtual std::vector<StoredTestament> load_testaments() = 0;
  virtual MqttSessionStore* mqtt_sessions() = 0;
};

}  // namespace fox
