// PUBLISH from a client, with its QoS 1 (PUBACK) and QoS 2 (PUBREC) answers. The acknowledgements
// of messages the broker sends (PUBACK, PUBREC, PUBREL, PUBCOMP) are dispatched in connection.cpp.
#include "core/log.hpp"
#include "mqtt/broker.hpp"

namespace fox::mqtt {

void Connection::handle_publish(Publish& p) {
  // The codec already refused wildcards and bad UTF-8 in the topic (MQTT-3.3.2-2); every other
  // level is literal text (`*` and levels with dots included, core/topic.hpp).
  std::uint16_t id = p.packet_id;
  switch (p.qos) {
    case 0:
      session_->publish(std::move(p));
      break;
    case 1:
      session_->publish(std::move(p));
      ack_after_commit(Puback{id});
      break;
    case 2:
      // Deliver once: a DUP retransmission of an id not yet released is not published again.
      if (session_->qos2_first_time(id)) session_->publish(std::move(p));
      ack_after_commit(Pubrec{id});
      break;
    default:
      break;
  }
}

// Without a store this sends at once (as before SQLite). With one, after the loop turn's commit.
void Connection::ack_after_commit(Packet ack) {
  std::weak_ptr<bool> alive = alive_;
  broker_.router().after_commit([this, alive, ack = std::move(ack)](bool ok) {
    if (alive.expired() || closed_) return;
    if (ok) {
      send_packet(ack);
    } else {
      log::warn("mqtt", peer_, ": storage failure, closing without acknowledging");
      close("storage failure");
    }
  });
}

}  // namespace fox::mqtt
