// One MQTT network connection: packet dispatch, keep-alive, the will, close. The packet families
// are handled in handle_connect.cpp, handle_publish.cpp and handle_subscribe.cpp.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mqtt/codec.hpp"
#include "mqtt/packet.hpp"
#include "mqtt/server.hpp"
#include "net/connection.hpp"

namespace fox::mqtt {

class Connection {
public:
  Connection(Server& server, net::Connection& connection, std::string transport_name);
  ~Connection();
  void on_data(std::string_view bytes);
  void on_transport_closed();
  void on_drain();
  const char* waiting_for() const { return "CONNECT"; }

  bool send_packet(const Packet& packet);
  // Still sending: not closing or closed (what it is handed now goes out).
  bool sending() const { return !closing_ && !closed_; }
  SendResult send_bytes(std::string bytes, SendKind kind = SendKind::kNormal) {
    return send_shared(std::make_shared<const std::string>(std::move(bytes)), kind);
  }
  // kOverflow: the connection cut the slow consumer off itself; kDropped is the caller's to count.
  SendResult send_shared(std::shared_ptr<const std::string> bytes,
                         SendKind kind = SendKind::kNormal);
  bool congested() const { return !closing_ && !closed_ && conn_.congested(); }
  void close(const std::string& why);   // protocol error / takeover: the will is published
  const std::string& peer() const { return conn_.peer_address(); }

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
  // PUBCOMP (for a PUBREL) once the id's release is committed; a failed commit closes the
  // connection (MQTT 3.1.1 has no negative acknowledgement: the client sends it again).
  void ack_after_commit(Packet ack);

  Server& server_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for callbacks that outlive us
  net::Connection& conn_;
  std::string transport_name_;
  StreamDecoder decoder_;
  std::shared_ptr<Session> session_;
  std::optional<Will> will_;
  std::uint64_t will_token_ = 0;   // a cluster: the will kept as last words (Session::keep_will)
  std::uint16_t keep_alive_s_ = 0;
  std::uint64_t last_rx_ms_ = 0;
  Env::TimerId timer_ = 0;
  bool connected_ = false, closing_ = false, closed_ = false;
  bool said_disconnect_ = false;   // the client sent DISCONNECT (for the log line)
};

}  // namespace fox::mqtt
