// One MQTT network connection: packet dispatch, keep-alive, will, close. The packet families are
// handled in handle_connect.cpp, handle_publish.cpp and handle_subscribe.cpp.
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "mqtt/connection.hpp"
#include "mqtt/session.hpp"

namespace fox::mqtt {
namespace {
constexpr const char* kLog = "mqtt";
}

Connection::Connection(Server& server, net::Connection& connection, std::string transport_name)
    : server_(server), conn_(connection), transport_name_(std::move(transport_name)),
      decoder_(server.options().max_packet_size) {
  last_rx_ms_ = server_.router().env().monotonic_ms();
}

Connection::~Connection() {
  if (timer_) server_.router().env().cancel_timer(timer_);
  if (session_ && session_->connection() == this) session_->detach();
}

void Connection::on_data(std::string_view bytes) {
  if (closing_ || closed_) return;
  decoder_.feed(bytes);
  last_rx_ms_ = server_.router().env().monotonic_ms();
  while (!closing_) {
    DecodeResult r = decoder_.next();
    if (std::holds_alternative<NeedMore>(r)) return;
    if (auto* err = std::get_if<DecodeError>(&r)) {
      if (err->kind == ErrorKind::kUnacceptableProtocolLevel) {
        log::info(kLog, peer(), ": ", err->reason, " (CONNACK 1)");
        send_packet(Connack{false, kConnackUnacceptableProtocolVersion});
        close("unacceptable protocol level");
        return;
      }
      log::warn(kLog, peer(), ": ", error_kind_name(err->kind), ": ", err->reason, ", closing");
      close(err->reason);
      return;
    }
    handle(std::get<Packet>(r));
  }
}

void Connection::handle(Packet& packet) {
  metrics::Traffic& traffic = metrics::traffic(metrics::kMqtt);
  ++traffic.messages_received;
  if (std::holds_alternative<Publish>(packet)) ++traffic.publications_received;
  if (!connected_) {
    if (auto* c = std::get_if<Connect>(&packet)) {
      handle_connect(*c);
    } else {
      log::warn(kLog, peer(), ": ", packet_name(packet_type(packet)),
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
          log::warn(kLog, peer(), ": second CONNECT, closing");
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
          said_disconnect_ = true;
          closing_ = true;
          conn_.close();
        } else {
          log::warn(kLog, peer(), ": unexpected ", packet_name(packet_type(Packet(p))),
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
  const SendResult r = conn_.send(std::move(bytes), kind);
  if (r == SendResult::kQueued) ++metrics::traffic(metrics::kMqtt).messages_sent;
  // A slow consumer (its queue stayed over the limits; QoS 0 messages were dropped meanwhile) is
  // cut off by the connection itself; its QoS>=1 messages stay in the session when it asked for
  // a persistent one, and its will is published when the connection reports the close.
  if (r == SendResult::kOverflow) closing_ = true;
  return r;
}

void Connection::close(const std::string& why) {
  if (closing_ || closed_) return;
  closing_ = true;
  log::debug(kLog, peer(), ": closing: ", why);
  conn_.close();
}

void Connection::arm_will(std::optional<Will> will) {
  will_ = std::move(will);
  if (will_ && session_) will_token_ = session_->keep_will(*will_);
  SessionStore* store = server_.store();
  if (!will_ || !store || !session_) return;
  StoredConnectWill row;
  row.realm = session_->realm_name();
  row.client_id = session_->client_id();
  row.topic = will_->topic;
  row.payload = will_->payload;
  row.qos = will_->qos;
  row.retain = will_->retain;
  store->save_connect_will(row);
}

void Connection::disarm_will() {
  if (!will_) return;
  will_.reset();
  if (will_token_ && session_) session_->drop_will(will_token_);
  will_token_ = 0;
  if (SessionStore* store = server_.store(); store && session_) {
    store->delete_connect_will(session_->realm_name(), session_->client_id());
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
  log::debug(kLog, peer(), ": publishing the will of ", session_->client_id(), " to ", p.topic);
  session_->publish(std::move(p));
}

void Connection::on_transport_closed() {
  if (closed_) return;
  closed_ = true;
  if (timer_) {
    server_.router().env().cancel_timer(timer_);
    timer_ = 0;
  }
  if (session_ && session_->connection() != this) {
    // Taken over: its will is not published (and no longer kept by a cluster).
    if (will_token_) session_->drop_will(will_token_);
    will_token_ = 0;
    return;
  }
  if (!session_) return;
  log::info(kLog, peer(), ": '", session_->client_id(), "' disconnected from realm ",
            session_->realm_name(),
            said_disconnect_ ? " (DISCONNECT)" : closing_ ? " (closed by fox)" : " (connection lost)");
  // MQTT-3.1.2-8: the will is published when the connection ends without DISCONNECT.
  publish_will();
  session_->detach();
  if (session_->clean()) server_.remove(*session_);
  session_.reset();
}

void Connection::on_drain() {
  if (session_ && session_->connection() == this) session_->drained();
}

void Connection::start_keepalive() {
  if (timer_) server_.router().env().cancel_timer(timer_);
  timer_ = 0;
  if (keep_alive_s_ == 0) return;
  // MQTT-3.1.2-24: no packet within 1.5 x keep-alive → disconnect. One timer per connection,
  // re-armed for the remaining time instead of on every packet.
  std::uint64_t limit = keep_alive_s_ * 1500ull;
  std::uint64_t now = server_.router().env().monotonic_ms();
  std::uint64_t idle = now > last_rx_ms_ ? now - last_rx_ms_ : 0;
  std::uint64_t wait = idle >= limit ? 1 : limit - idle;
  timer_ = server_.router().env().start_timer(wait, [this] {
    timer_ = 0;
    check_keepalive();
  });
}

void Connection::check_keepalive() {
  if (closing_ || closed_) return;
  std::uint64_t now = server_.router().env().monotonic_ms();
  if (now >= last_rx_ms_ && now - last_rx_ms_ >= keep_alive_s_ * 1500ull) {
    log::info(kLog, peer(), ": keep-alive of ", keep_alive_s_, " s expired, closing");
    close("keep-alive timeout");
    return;
  }
  start_keepalive();
}

}  // namespace fox::mqtt
