// PUBLISH from a client, with its QoS 1 (PUBACK) and QoS 2 (PUBREC) answers. The acknowledgements
// of messages the broker sends (PUBACK, PUBREC, PUBREL, PUBCOMP) are dispatched in connection.cpp.
#include "core/log.hpp"
#include "mqtt/connection.hpp"
#include "mqtt/session.hpp"

namespace fox::mqtt {

void Connection::handle_publish(Publish& p) {
  // The codec already refused wildcards and bad UTF-8 in the topic (MQTT-3.3.2-2); every other
  // level is literal text (`*` and levels with dots included, core/topic.hpp).
  // QoS 1/2 are acknowledged (PUBACK / PUBREC) by the session once the publication is durable.
  if (p.qos == 2 && !session_->qos2_first_time(p.packet_id)) {
    // A DUP retransmission of an id not yet released: delivered once already, acknowledged again
    // once what was written so far (its id's row) is committed.
    ack_after_commit(Pubrec{p.packet_id});
    return;
  }
  session_->publish(std::move(p));
}

// Without a store this sends at once. With one, after the loop turn's commit.
void Connection::ack_after_commit(Packet ack) {
  SessionStore* store = server_.store();
  if (!store) {
    send_packet(ack);
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  store->after_commit([this, alive, ack = std::move(ack)](bool ok) {
    if (alive.expired() || closed_) return;
    if (ok) {
      send_packet(ack);
    } else {
      log::warn("mqtt", peer(), ": storage failure, closing without acknowledging");
      close("storage failure");
    }
  });
}

}  // namespace fox::mqtt
