// A minimal MQTT 3.1.1 client over net::TcpClient (net/tcp_client.hpp: resolve, connect, the
// coalesced writes), for `fox pub/sub --mqtt HOST[:PORT]`:
// CONNECT (clean session, optional user name and password), PUBLISH QoS 0/1/2, SUBSCRIBE,
// PINGREQ keep-alive, DISCONNECT. Incoming QoS 1 PUBLISHes are acknowledged (PUBACK), incoming
// QoS 2 ones go through PUBREC/PUBREL/PUBCOMP and are delivered once. Errors are reported once
// through the ErrorFn.
#pragma once
#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "cli/client_common.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/packet.hpp"
#include "net/client.hpp"
#include "net/tls.hpp"

namespace fox::net {
class TcpClient;
}

namespace fox::cli {

// CONNECT's user name and password (both optional; a password needs a user name).
struct MqttLogin {
  std::optional<std::string> username;
  std::optional<std::string> password;
};

class MqttClient {
public:
  using ErrorFn = std::function<void(const std::string& why)>;
  using MessageFn = std::function<void(const mqtt::Publish& publish)>;

  MqttClient(uv_loop_t* loop, net::UvEnv& timers);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // Resolves HOST, connects, sends CONNECT; on_connected after CONNACK 0. Every failure, also of
  // the connection, goes to on_error (always from a later loop turn).
  // TLS for the next connect(): the broker's certificate must chain to a CA of `ca_file` and
  // name the host. False with *error when the file holds no certificate.
  bool use_tls(const std::string& ca_file, std::string* error);
  void connect(const std::string& host, int port, const std::string& client_id,
               std::uint16_t keep_alive_s, const MqttLogin& login,
               std::function<void()> on_connected, ErrorFn on_error);
  // QoS 0: done once queued (a later disconnect() still writes it first); QoS 1: done on PUBACK;
  // QoS 2: PUBREC is answered with PUBREL, done on PUBCOMP.
  void publish(const std::string& topic, std::string payload, std::uint8_t qos, bool retain,
               std::function<void()> done);
  // on_suback gets the granted QoS (or 0x80 = refused).
  void subscribe(const std::string& filter, std::uint8_t qos,
                 std::function<void(std::uint8_t)> on_suback, MessageFn on_message);
  // DISCONNECT, then closes the connection once what is queued is written; done afterwards. QoS 2
  // messages already delivered wait (at most 1 s) for their PUBREL first, so the broker sees
  // those flows complete.
  void disconnect(std::function<void()> done);
  // Closes the socket now (from ClientLoop::on_shutdown); no callback runs afterwards.
  void shutdown();

private:
  using Link = net::ClientLink<MqttClient>;   // the connection's handler
  // Queues one packet; false when there is no connection or it cannot be encoded.
  bool write(const mqtt::Packet& packet);
  void on_bytes(std::string_view bytes);
  void on_packet(mqtt::Packet& packet);
  void on_connection_closed(std::optional<net::ClientFailure> failure);
  void fail(const std::string& why);
  void send_disconnect();
  void finish_disconnect();
  void close_tcp();
  void schedule_ping();
  std::uint16_t next_packet_id();

  uv_loop_t* loop_;
  net::UvEnv& timers_;
  net::TcpClient* conn_ = nullptr;   // valid until Link::on_close
  Link* link_ = nullptr;             // owned by conn_
  std::unique_ptr<net::TlsConfig> tls_;
  bool connected_ = false;
  bool failed_ = false;
  bool disconnecting_ = false;
  bool shut_down_ = false;
  std::string where_;  // "HOST:PORT" for messages
  mqtt::Connect connect_packet_;
  std::function<void()> on_connected_;
  ErrorFn on_error_;
  std::function<void()> disconnect_done_;
  mqtt::StreamDecoder decoder_{mqtt::kDefaultMaxPacketSize, mqtt::Direction::kFromServer};
  std::uint16_t packet_id_ = 0;
  std::map<std::uint16_t, std::function<void()>> puback_;   // QoS 1 sent, waiting for PUBACK
  std::map<std::uint16_t, std::function<void()>> pubrec_;   // QoS 2 sent, waiting for PUBREC
  std::map<std::uint16_t, std::function<void()>> pubcomp_;  // PUBREL sent, waiting for PUBCOMP
  std::set<std::uint16_t> received_qos2_;  // delivered QoS 2 messages whose PUBREL is due
  std::map<std::uint16_t, std::function<void(std::uint8_t)>> suback_;
  MessageFn on_message_;
  Env::TimerId ping_timer_ = 0;
  Env::TimerId connect_timer_ = 0;
  Env::TimerId disconnect_timer_ = 0;
};

}  // namespace fox::cli
