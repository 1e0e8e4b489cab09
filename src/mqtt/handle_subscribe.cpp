// SUBSCRIBE / UNSUBSCRIBE.
#include "mqtt/broker.hpp"

namespace fox::mqtt {

void Connection::handle_subscribe(Subscribe& s) {
  // The SUBACK goes out before the retained messages the new subscriptions replay.
  Suback ack;
  ack.packet_id = s.packet_id;
  ack.return_codes = session_->subscribe(s.topics);
  send_packet(ack);
  session_->release_held();
}

void Connection::handle_unsubscribe(Unsubscribe& u) {
  session_->unsubscribe(u.filters);
  send_packet(Unsuback{u.packet_id});
}

}  // namespace fox::mqtt
