// One MQTT network connection: packet dispatch, keep-alive, will, close. The packet families are
// handled in handle_connect.cpp, handle_publish.cpp and handle_subscribe.cpp.
#include "core/log.hpp"
#include "mqtt/broker.hpp"

namespace fox::mqtt {
namespace {
constexpr const char* kLog = "mqtt";
}

Connection::Connection(Broker& broker, Transport& transport, std::string transport_name,
                       std::string peer_address)
    : broker_(broker), transport_(transport), transport_name_(std::move(transport_name)),
      peer_(std::move(peer_address)), decoder_(broker.options().max_packet_size) {
  RouterEnv& env = broker_.router().env();
  last_rx_ms_ = env.monotonic_ms();
  if (broker_.options().handshake_timeout_ms > 0) {
    timer_ = env.start_timer(broker_.options().handshake_timeout_ms, [this] {
      timer_ = 0;
      if (connected_ || closing_) return;
      log::info(kLog, peer_, ": no CONNECT within ", broker_.options().handshake_timeout_ms,
                " ms, closing");
      close("handshake timeout");
    });
  }
}

Connection::~Connection() {
  if (timer_) broker_.router().env().cancel_timer(timer_);
  if (session_ && session_->connection() == this) session_->detach();
}

void Connection::on_data(std::string_view bytes) {
  if (closing_ || closed_) return;
  decoder_.feed(bytes);
  last_rx_ms_ = broker_.router().env().monotonic_ms();
  while (!closing_) {
    DecodeResult r = decoder_.next();
    if (std::holds_alternative<NeedMore>(r)) return;
    if (auto* err = std::get_if<DecodeError>(&r)) {
      if (err->kind == ErrorKind::kUnacceptableProtocolLevel) {
        log::info(kLog, peer_, ": ", err->reason, " (CONNACK 1)");
        send_packet(Connack{false, kConnackUnacceptableProtocolVersion});
        close("unacceptable protocol level");
        return;
      }
      log::warn(kLog, peer_, ": ", error_kind_name(err->kind), ": ", err->reason, ", closing");
      close(err->reason);
      return;
    }
    handle(std::get<Packet>(r));
  }
}

void Connection::handle(Packet& packet) {
  if (!connected_) {
    if (auto* c = std::get_if<Connect>(&packet)) {
      handle_connect(*c);
    } else {
      log::warn(kLog, peer_, ": ", packet_name(packet_type(packet)),
                " before CONNECT, closing");
      close("packet before CONNECT");
    }
    return;
  }
  std::visit(
      [this](auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Connect>) {
          // MQTT-3.1.0-2: a second CONNECT is a protocol violation.
          log::warn(kLog, peer_, ": second CONNECT, closing");
          close("second CONNECT");
        } else if constexpr (std::is_same_v<T, Publish>) {
          handle_publish(p);
        } else if constexpr (std::is_same_v<T, Puback>) {
          session_->on_puback(p.packet_id);
        } else if constexpr (std::is_same_v<T, Pubrec>) {
          session_->on_pubrec(p.packet_id);
        } else if constexpr (std::is_same_v<T, Pubrel>) {
          // PUBCOMP once the id's release is committed: were it lost, a later QoS 2 PUBLISH
          // reusing the id after a restart would be taken for a retransmission.
          session_->qos2_release(p.packet_id);
          ack_after_commit(Pubcomp{p.packet_id});
        } else if constexpr (std::is_same_v<T, Pubcomp>) {
          session_->on_pubcomp(p.packet_id);
        } else if constexpr (std::is_same_v<T, Subscribe>) {
          handle_subscribe(p);
        } else if constexpr (std::is_same_v<T, Unsubscribe>) {
          handle_unsubscribe(p);
        } else if constexpr (std::is_same_v<T, Pingreq>) {
          send_packet(Pingresp{});
        } else if constexpr (std::is_same_v<T, Disconnect>) {
          // MQTT-3.14.4-3: a DISCONNECT discards the will.
          disarm_will();
          closing_ = true;
          transport_.close();
        } else {
          log::warn(kLog, peer_, ": unexpected ", packet_name(packet_type(Packet(p))),
                    ", closing");
          close("unexpected packet");
        }
      },
      packet);
}

bool Connection::send_packet(const Packet& packet) {
  std::string bytes;
  if (!encode_to(packet, bytes)) return false;
  return send_bytes(std::move(bytes)) == SendResult::kQueued;
}

SendResult Connection::send_shared(std::shared_ptr<const std::string> bytes, SendKind kind) {
  if (closing_ || closed_) return SendResult::kQueued;   // going nowhere, but not a drop
  const SendResult r = transport_.send(std::move(bytes), kind);
  if (r == SendResult::kOverflow) {
    // A slow consumer: its queue stayed over the limits (QoS 0 messages were dropped meanwhile,
    // see Session::send_event). Cut it off now (a graceful close would wait for a reader that
    // does not read); its QoS>=1 messages stay in the session when it asked for a persistent
    // one, and its will is published when the transport reports the close.
    log::warn(kLog, peer_, ": outbound queue stays over its limits (slow consumer), disconnecting");
    closing_ = true;
    transport_.abort();
  }
  return r;
}

void Connection::close(const std::string& why) {
  if (closing_ || closed_) return;
  closing_ = true;
  log::debug(kLog, peer_, ": closing: ", why);
  transport_.close();
}

void Connection::arm_will(std::optional<Will> will) {
  will_ = std::move(will);
  MqttSessionStore* store = broker_.store();
  if (!will_ || !store || !session_) return;
  StoredMqttWill row;
  row.realm = session_->realm_name();
  row.client_id = session_->client_id();
  row.topic = will_->topic;
  row.payload = will_->payload;
  row.qos = will_->qos;
  row.retain = will_->retain;
  store->save_will(row);
}

void Connection::disarm_will() {
  if (!will_) return;
  will_.reset();
  if (MqttSessionStore* store = broker_.store(); store && session_) {
    store->delete_will(session_->realm_name(), session_->client_id());
  }
}

void Connection::publish_will() {
  if (!will_ || !session_) return;
  Publish p;
  p.topic = will_->topic;
  p.payload = will_->payload;
  p.qos = will_->qos;
  p.retain = will_->retain;
  disarm_will();   // the publication and the row's deletion go into the same transaction
  log::debug(kLog, peer_, ": publishing the will of ", session_->client_id(), " to ", p.topic);
  session_->publish(std::move(p));
}

void Connection::on_transport_closed() {
  if (closed_) return;
  closed_ = true;
  if (timer_) {
    broker_.router().env().cancel_timer(timer_);
    timer_ = 0;
  }
  if (!session_ || session_->connection() != this) return;  // taken over: nothing left to do
  // MQTT-3.1.2-8: the will is published when the connection ends without DISCONNECT.
  publish_will();
  session_->detach();
  if (session_->clean()) broker_.remove(*session_);
  session_.reset();
}

void Connection::start_keepalive() {
  if (timer_) broker_.router().env().cancel_timer(timer_);
  timer_ = 0;
  if (keep_alive_s_ == 0) return;
  // MQTT-3.1.2-24: no packet within 1.5 x keep-alive → disconnect. One timer per connection,
  // re-armed for the remaining time instead of on every packet.
  std::uint64_t limit = keep_alive_s_ * 1500ull;
  std::uint64_t now = broker_.router().env().monotonic_ms();
  std::uint64_t idle = now > last_rx_ms_ ? now - last_rx_ms_ : 0;
  std::uint64_t wait = idle >= limit ? 1 : limit - idle;
  timer_ = broker_.router().env().start_timer(wait, [this] {
    timer_ = 0;
    check_keepalive();
  });
}

void Connection::check_keepalive() {
  if (closing_ || closed_) return;
  std::uint64_t now = broker_.router().env().monotonic_ms();
  if (now >= last_rx_ms_ && now - last_rx_ms_ >= keep_alive_s_ * 1500ull) {
    log::info(kLog, peer_, ": keep-alive of ", keep_alive_s_, " s expired, closing");
    close("keep-alive timeout");
    return;
  }
  start_keepalive();
}

}  // namespace fox::mqtt
