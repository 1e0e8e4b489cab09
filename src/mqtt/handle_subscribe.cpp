// SUBSCRIBE / UNSUBSCRIBE.
#include "mqtt/connection.hpp"
#include "mqtt/session.hpp"

namespace fox::mqtt {

void Connection::handle_subscribe(Subscribe& s) {
  // The SUBACK goes out before the retained messages the new subscriptions replay.
  Suback ack;
  ack.packet_id = s.packet_id;
  std::vector<SubscribeOutcome> outcomes;
  ack.return_codes = session_->subscribe(s.topics, &outcomes);
  send_packet(ack);
  session_->replay(outcomes);
}

void Connection::handle_unsubscribe(Unsubscribe& u) {
  session_->unsubscribe(u.filters);
  send_packet(Unsuback{u.packet_id});
}

}  // namespace fox::mqtt
