#include "cli/mqtt_client.hpp"

#include "net/tcp_client.hpp"

namespace fox::cli {

namespace {
constexpr std::uint64_t kConnectTimeoutMs = 10'000;
constexpr std::uint64_t kDisconnectWaitMs = 1'000;

// CONNACK return codes 1..5 (MQTT 3.1.1 §3.2.2.3), for the error line.
std::string connack_reason(std::uint8_t code) {
  switch (code) {
    case mqtt::kConnackUnacceptableProtocolVersion: return "unacceptable protocol version";
    case mqtt::kConnackIdentifierRejected: return "client id rejected";
    case mqtt::kConnackServerUnavailable: return "server unavailable";
    // fox also answers 4 for a realm (USER@REALM) it does not have.
    case mqtt::kConnackBadUsernameOrPassword: return "bad user name or password, or no such realm";
    case mqtt::kConnackNotAuthorized: return "not authorized";
    default: return "unknown reason";
  }
}
}  // namespace

MqttClient::MqttClient(uv_loop_t* loop, net::UvEnv& timers) : loop_(loop), timers_(timers) {}

MqttClient::~MqttClient() { shutdown(); }

bool MqttClient::use_tls(const std::string& ca_file, std::string* error) {
  tls_ = std::make_unique<net::TlsConfig>();
  if (tls_->load_client(ca_file, error)) return true;
  tls_.reset();
  return false;
}

void MqttClient::connect(const std::string& host, int port, const std::string& client_id,
                         std::uint16_t keep_alive_s, const MqttLogin& login,
                         std::function<void()> on_connected, ErrorFn on_error) {
  where_ = host + ":" + std::to_string(port);
  on_connected_ = std::move(on_connected);
  on_error_ = std::move(on_error);
  connect_packet_.protocol_level = mqtt::kProtocolLevel311;
  connect_packet_.clean_session = true;
  connect_packet_.keep_alive = keep_alive_s;
  connect_packet_.client_id = client_id;
  connect_packet_.username = login.username;
  connect_packet_.password = login.password;
  decoder_.set_protocol_level(mqtt::kProtocolLevel311);
  connect_timer_ = timers_.start_timer(kConnectTimeoutMs, [this] {
    connect_timer_ = 0;
    if (!connected_) fail("no CONNACK from " + where_ + " within 10 s");
  });

  net::TcpClientOptions o;
  o.name = "mqtt";
  o.host = host;
  o.port = port;
  o.env = &timers_;
  o.connect_timeout_ms = kConnectTimeoutMs;
  o.tls = tls_.get();
  auto link = std::make_unique<Link>(this, &MqttClient::on_bytes, &MqttClient::on_connection_closed);
  link_ = link.get();
  conn_ = net::TcpClient::connect(loop_, std::move(o), std::move(link));
  // Queued now, written once the connection is up.
  write(connect_packet_);
}

std::uint16_t MqttClient::next_packet_id() {
  packet_id_ = static_cast<std::uint16_t>(packet_id_ == 65535 ? 1 : packet_id_ + 1);
  return packet_id_;
}

bool MqttClient::write(const mqtt::Packet& packet) {
  if (!conn_ || failed_ || shut_down_) return false;
  std::string bytes = mqtt::encode(packet);
  if (bytes.empty()) {
    fail("cannot encode an MQTT packet (too large?)");
    return false;
  }
  // A connection whose broker stops reading cuts itself off; on_connection_closed says so.
  conn_->send(std::move(bytes));
  return true;
}

void MqttClient::publish(const std::string& topic, std::string payload, std::uint8_t qos,
                         bool retain, std::function<void()> done) {
  mqtt::Publish p;
  p.topic = topic;
  p.payload = std::move(payload);
  p.qos = qos;
  p.retain = retain;
  if (qos == 0) {
    if (write(p) && done) done();
    return;
  }
  p.packet_id = next_packet_id();
  (qos == 1 ? puback_ : pubrec_)[p.packet_id] = std::move(done);
  write(p);
}

void MqttClient::subscribe(const std::string& filter, std::uint8_t qos,
                           std::function<void(std::uint8_t)> on_suback, MessageFn on_message) {
  mqtt::Subscribe s;
  s.packet_id = next_packet_id();
  s.topics.push_back({filter, qos});
  suback_[s.packet_id] = std::move(on_suback);
  on_message_ = std::move(on_message);
  write(s);
}

void MqttClient::disconnect(std::function<void()> done) {
  if (disconnecting_) return;
  disconnecting_ = true;
  disconnect_done_ = std::move(done);
  if (!connected_ || failed_ || !conn_) {
    finish_disconnect();
    return;
  }
  if (received_qos2_.empty()) {
    send_disconnect();
    return;
  }
  // The PUBRELs are due any moment; on_packet sends DISCONNECT when the last one came.
  disconnect_timer_ = timers_.start_timer(kDisconnectWaitMs, [this] {
    disconnect_timer_ = 0;
    send_disconnect();
  });
}

void MqttClient::send_disconnect() {
  if (disconnect_timer_) timers_.cancel_timer(disconnect_timer_);
  disconnect_timer_ = 0;
  if (!write(mqtt::Disconnect{})) {
    finish_disconnect();
    return;
  }
  // The connection ends once DISCONNECT is written; on_connection_closed finishes then.
  conn_->close();
}

void MqttClient::finish_disconnect() {
  if (disconnect_timer_) timers_.cancel_timer(disconnect_timer_);
  disconnect_timer_ = 0;
  close_tcp();
  auto fn = std::move(disconnect_done_);
  disconnect_done_ = nullptr;
  if (fn) fn();
}

void MqttClient::close_tcp() {
  if (!conn_) return;
  link_->detach();
  conn_->abort();
  conn_ = nullptr;
  link_ = nullptr;
}

void MqttClient::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (auto* id : {&ping_timer_, &connect_timer_, &disconnect_timer_}) {
    if (*id) timers_.cancel_timer(*id);
    *id = 0;
  }
  close_tcp();
}

void MqttClient::fail(const std::string& why) {
  if (failed_ || shut_down_) return;
  failed_ = true;
  for (auto* id : {&ping_timer_, &connect_timer_, &disconnect_timer_}) {
    if (*id) timers_.cancel_timer(*id);
    *id = 0;
  }
  if (disconnecting_) {
    finish_disconnect();
    return;
  }
  close_tcp();
  auto fn = std::move(on_error_);
  on_error_ = nullptr;
  if (fn) fn(why);
}

void MqttClient::on_connection_closed(std::optional<net::ClientFailure> failure) {
  conn_ = nullptr;
  link_ = nullptr;
  if (shut_down_ || failed_) return;
  if (disconnecting_) {
    finish_disconnect();
    return;
  }
  if (!failure || failure->kind == net::ClientFailure::Kind::kPeerClosed) {
    fail("the broker at " + where_ + " closed the connection");
    return;
  }
  fail(net::describe(*failure, where_));
}

void MqttClient::schedule_ping() {
  if (connect_packet_.keep_alive == 0) return;
  // Half the keep-alive: the broker allows 1.5 × keep-alive of silence.
  ping_timer_ = timers_.start_timer(connect_packet_.keep_alive * 500u, [this] {
    ping_timer_ = 0;
    write(mqtt::Pingreq{});
    schedule_ping();
  });
}

void MqttClient::on_bytes(std::string_view bytes) {
  if (shut_down_ || failed_) return;
  decoder_.feed(bytes.data(), bytes.size());
  while (!failed_ && !shut_down_) {
    mqtt::DecodeResult r = decoder_.next();
    if (std::holds_alternative<mqtt::NeedMore>(r)) break;
    if (auto* e = std::get_if<mqtt::DecodeError>(&r)) {
      fail("bad packet from the broker: " + e->reason);
      return;
    }
    on_packet(std::get<mqtt::Packet>(r));
  }
}

void MqttClient::on_packet(mqtt::Packet& packet) {
  if (auto* c = std::get_if<mqtt::Connack>(&packet)) {
    if (c->return_code != mqtt::kConnackAccepted) {
      fail("the broker at " + where_ + " refused the connection (CONNACK " +
           std::to_string(c->return_code) + ": " + connack_reason(c->return_code) + ")");
      return;
    }
    connected_ = true;
    if (connect_timer_) timers_.cancel_timer(connect_timer_);
    connect_timer_ = 0;
    schedule_ping();
    if (on_connected_) on_connected_();
  } else if (auto* p = std::get_if<mqtt::Publish>(&packet)) {
    if (p->qos == 1) write(mqtt::Puback{p->packet_id});
    if (p->qos == 2) {
      write(mqtt::Pubrec{p->packet_id});
      // The same id again before its PUBREL is the broker sending it again (it missed our
      // PUBREC): acknowledged, not delivered twice (MQTT 4.3.3, exactly once).
      if (!received_qos2_.insert(p->packet_id).second) return;
    }
    if (on_message_) {
      MessageFn fn = on_message_;
      fn(*p);
    }
  } else if (auto* a = std::get_if<mqtt::Puback>(&packet)) {
    auto it = puback_.find(a->packet_id);
    if (it == puback_.end()) return;
    auto fn = std::move(it->second);
    puback_.erase(it);
    if (fn) fn();
  } else if (auto* s = std::get_if<mqtt::Suback>(&packet)) {
    auto it = suback_.find(s->packet_id);
    if (it == suback_.end()) return;
    auto fn = std::move(it->second);
    suback_.erase(it);
    if (fn) fn(s->return_codes.empty() ? mqtt::kSubackFailure : s->return_codes[0]);
  } else if (auto* rec = std::get_if<mqtt::Pubrec>(&packet)) {
    // Answered even for an id we do not wait for: the broker must get its PUBREL (4.3.3).
    write(mqtt::Pubrel{rec->packet_id});
    auto it = pubrec_.find(rec->packet_id);
    if (it == pubrec_.end()) return;
    pubcomp_[rec->packet_id] = std::move(it->second);
    pubrec_.erase(it);
  } else if (auto* comp = std::get_if<mqtt::Pubcomp>(&packet)) {
    auto it = pubcomp_.find(comp->packet_id);
    if (it == pubcomp_.end()) return;
    auto fn = std::move(it->second);
    pubcomp_.erase(it);
    if (fn) fn();
  } else if (auto* rel = std::get_if<mqtt::Pubrel>(&packet)) {
    write(mqtt::Pubcomp{rel->packet_id});
    received_qos2_.erase(rel->packet_id);
    if (received_qos2_.empty() && disconnect_timer_) send_disconnect();
  }
  // PINGRESP, UNSUBACK: nothing to do.
}

}  // namespace fox::cli
