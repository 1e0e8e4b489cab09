// MQTT session state: subscriptions, outbound QoS flows, the in-flight window and the queue.
#include <algorithm>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/payload.hpp"
#include "core/topic.hpp"
#include "mqtt/connection.hpp"
#include "mqtt/session.hpp"

namespace fox::mqtt {
namespace {
constexpr const char* kLog = "mqtt";

// The router's request id of an acknowledged publication: the QoS and the packet id, so the
// answer (send_published) knows which acknowledgement to send.
Id publish_request(std::uint8_t qos, std::uint16_t packet_id) {
  return (Id{qos} << 16) | packet_id;
}
}  // namespace

bool filter_matches(const TopicParts& filter, const TopicParts& topic) {
  if (!topic.empty() && !topic[0].empty() && topic[0][0] == '$' && !filter.empty() &&
      (filter[0] == "+" || filter[0] == "#")) {
    return false;
  }
  std::size_t i = 0;
  for (; i < filter.size(); ++i) {
    if (filter[i] == "#") return true;
    if (i >= topic.size()) return false;
    if (filter[i] != "+" && filter[i] != topic[i]) return false;
  }
  return i == topic.size();
}

Session::Session(Server& server, Realm& realm, std::string client_id, bool clean, SessionInfo info)
    : server_(server), realm_(&realm), realm_name_(realm.name()), client_id_(std::move(client_id)),
      clean_(clean) {
  if (!clean_) store_ = server_.store();
  session_id_ = realm_->join(*this, std::move(info));
  if (store_) store_->save_session(realm_name_, client_id_, {});
}

void Session::restore(const StoredSession& stored) {
  // Subscriptions come back without retained replay: the client saw those values already.
  SessionStore* store = store_;
  store_ = nullptr;   // nothing to write: the rows are what we read
  for (const auto& [filter, granted] : stored.subscriptions) {
    SubscribeOptions o;
    o.hide_meta = true;
    SubscribeOutcome outcome = realm_->subscribe(session_id_, mqtt_filter_parts(filter), o);
    if (!outcome.ok()) continue;
    std::uint8_t qos = static_cast<std::uint8_t>(std::clamp(granted, 0, 2));
    subs_[filter] = Subscription{split_topic(filter, kMqttSeparator), qos, outcome.subscription};
    sub_by_id_[outcome.subscription] = filter;
  }
  for (const StoredMessage& m : stored.messages) {
    Outgoing out;
    out.topic = m.topic;
    out.payload = std::make_shared<const std::string>(m.payload);
    out.qos = static_cast<std::uint8_t>(std::clamp(m.qos, 1, 2));
    out.retain = m.retain;
    out.seq = m.seq;
    next_seq_ = std::max(next_seq_, m.seq);
    if (m.packet_id != 0) {
      Stage stage = m.stage == 2 ? Stage::kWaitComp : m.stage == 1 ? Stage::kWaitRec : Stage::kWaitAck;
      if (stage == Stage::kWaitComp) out.payload.reset();
      inflight_.push_back({m.packet_id, std::move(out), stage});
      last_packet_id_ = m.packet_id;
    } else {
      queue_.push_back(std::move(out));
    }
  }
  qos2_in_.insert(stored.qos2_received.begin(), stored.qos2_received.end());
  store_ = store;
  // The constructor wrote an empty subscription list: write the restored one back (else the next
  // restart would find none).
  store_subscriptions();
}

bool Session::qos2_first_time(std::uint16_t id) {
  if (!qos2_in_.insert(id).second) return false;
  // Written in the transaction of the publication itself: committed together or not at all.
  if (store_) store_->save_qos2(realm_name_, client_id_, id);
  return true;
}

void Session::qos2_release(std::uint16_t id) {
  qos2_in_.erase(id);
  // Also when it is not known here: a PUBREL sent again after a failed commit must still remove
  // the row, or a new message with this id after a restart would be taken for a retransmission.
  if (store_) store_->delete_qos2(realm_name_, client_id_, id);
}

void Session::store_subscriptions() {
  if (!store_) return;
  std::vector<std::pair<std::string, int>> subs;
  subs.reserve(subs_.size());
  for (const auto& [filter, sub] : subs_) subs.emplace_back(filter, sub.qos);
  store_->save_session(realm_name_, client_id_, subs);
}

void Session::store_message(const Outgoing& m, std::uint16_t packet_id, int stage) {
  if (!store_) return;
  StoredMessage row;
  row.seq = m.seq;
  row.topic = m.topic;
  if (m.payload) row.payload = *m.payload;
  row.qos = m.qos;
  row.retain = m.retain;
  row.packet_id = packet_id;
  row.stage = stage;
  store_->save_message(realm_name_, client_id_, row);
}

void Session::store_update(const Outgoing& m, std::uint16_t packet_id, int stage) {
  if (store_ && m.seq != 0) store_->update_message(realm_name_, client_id_, m.seq, packet_id, stage);
}

void Session::store_delete(const Outgoing& m) {
  if (store_ && m.seq != 0) store_->delete_message(realm_name_, client_id_, m.seq);
}

Session::~Session() {
  if (realm_) realm_->leave(session_id_);
}

void Session::attach(Connection* conn) {
  conn_ = conn;
  // MQTT-4.4.0-1: unacknowledged PUBLISH and PUBREL packets are sent again on reconnect.
  for (auto& f : inflight_) {
    if (f.stage == Stage::kWaitComp) {
      conn_->send_packet(Pubrel{f.packet_id});
    } else {
      send_publish(f.msg, f.packet_id, /*dup=*/true);
    }
  }
  fill_window();
}

void Session::detach() { conn_ = nullptr; }

// ---- inbound -------------------------------------------------------------------------------

void Session::publish(Publish&& p) {
  Publication pub;
  pub.topic = mqtt_topic_parts(p.topic);  // the router makes pub.uri (dots in levels escaped)
  pub.payload = std::move(p.payload);
  pub.qos = p.qos;
  pub.retain = p.retain;
  PublishOptions o;
  o.exclude_me = false;  // MQTT delivers a message to its publisher when it subscribed
  if (p.retain) o.raw["retain"] = true;
  // QoS 1/2: PUBACK/PUBREC once the publication is durable (send_published), SPEC §8. A will
  // (packet id 0: the broker publishes it for the client) is acknowledged to no one.
  o.acknowledge = p.qos > 0 && p.packet_id != 0;
  const Id request = publish_request(p.qos, p.packet_id);
  realm_->publish(session_id_, request, std::move(pub), std::move(o));
}

std::uint64_t Session::keep_will(const Will& will) {
  Publication pub;
  pub.topic = mqtt_topic_parts(will.topic);
  pub.payload = will.payload;
  pub.qos = will.qos;
  pub.retain = will.retain;
  PublishOptions o;
  o.exclude_me = false;
  if (will.retain) o.raw["retain"] = true;
  return realm_->keep_last_words(session_id_, pub, o);
}

void Session::drop_will(std::uint64_t token) { realm_->drop_last_words(session_id_, token); }

std::vector<std::uint8_t> Session::subscribe(const std::vector<SubscribeTopic>& topics,
                                             std::vector<SubscribeOutcome>* outcomes) {
  std::vector<std::uint8_t> codes;
  for (const auto& t : topics) {
    std::uint8_t qos = std::min<std::uint8_t>(t.qos, 2);
    SubscribeOptions o;
    o.hide_meta = true;
    o.raw["retained"] = true;
    SubscribeOutcome outcome = realm_->subscribe(session_id_, mqtt_filter_parts(t.filter), o);
    if (!outcome.ok()) {
      log::debug(kLog, client_id_, ": SUBSCRIBE ", t.filter, " refused: ", outcome.error.uri);
      codes.push_back(kSubackFailure);
      continue;
    }
    // MQTT-3.8.4-3: a subscription with the same filter replaces the old one (new QoS); the
    // retained messages are sent again.
    subs_[t.filter] = Subscription{split_topic(t.filter, kMqttSeparator), qos, outcome.subscription};
    sub_by_id_[outcome.subscription] = t.filter;
    codes.push_back(qos);
    outcomes->push_back(std::move(outcome));
  }
  store_subscriptions();
  return codes;
}

void Session::replay(const std::vector<SubscribeOutcome>& outcomes) {
  for (const auto& outcome : outcomes) realm_->replay(session_id_, outcome);
}

void Session::unsubscribe(const std::vector<std::string>& filters) {
  for (const auto& f : filters) {
    auto it = subs_.find(f);
    if (it == subs_.end()) continue;
    Id id = it->second.id;
    subs_.erase(it);
    // The router subscription is per (topic, match): another filter of this session can map to
    // the same id only if it is the same filter, so the id is free now.
    sub_by_id_.erase(id);
    realm_->unsubscribe(session_id_, id);
  }
  store_subscriptions();
}

void Session::on_puback(std::uint16_t id) {
  auto it = std::find_if(inflight_.begin(), inflight_.end(),
                         [&](const Inflight& f) { return f.packet_id == id; });
  if (it == inflight_.end() || it->stage != Stage::kWaitAck) return;
  store_delete(it->msg);
  inflight_.erase(it);
  fill_window();
  drained();
}

void Session::on_pubrec(std::uint16_t id) {
  auto it = std::find_if(inflight_.begin(), inflight_.end(),
                         [&](const Inflight& f) { return f.packet_id == id; });
  if (it == inflight_.end() || it->stage == Stage::kWaitAck) return;  // a PUBREC for QoS 1: ignored
  if (it->stage == Stage::kWaitRec) {
    it->stage = Stage::kWaitComp;
    it->msg.payload.reset();  // the message itself is delivered; only the id stays reserved
    store_update(it->msg, id, 2);
  }
  if (conn_) conn_->send_packet(Pubrel{id});
}

void Session::on_pubcomp(std::uint16_t id) {
  auto it = std::find_if(inflight_.begin(), inflight_.end(),
                         [&](const Inflight& f) { return f.packet_id == id; });
  if (it == inflight_.end() || it->stage != Stage::kWaitComp) return;
  store_delete(it->msg);
  inflight_.erase(it);
  fill_window();
  drained();
}

// ---- outbound ------------------------------------------------------------------------------

void Session::send_published(Id request, Id) {
  if (!conn_) return;   // the client sends it again when it reconnects
  const auto packet_id = static_cast<std::uint16_t>(request & 0xFFFF);
  if ((request >> 16) == 1) {
    conn_->send_packet(Puback{packet_id});
  } else {
    conn_->send_packet(Pubrec{packet_id});
  }
}

void Session::kick(const std::string& reason) {
  if (!conn_) return;
  log::warn(kLog, conn_->peer(), ": '", client_id_, "' ended: ", reason);
  conn_->close(reason);
}

void Session::send_error(RequestType type, Id request, const fox::Error& error) {
  if (type == RequestType::kPublish && error.uri == "wamp.error.not_authorized") {
    // Not routed (the router logged it); acknowledged as mosquitto does, since 3.1.1 has no
    // negative acknowledgement and the client would send it again forever.
    send_published(request, 0);
    return;
  }
  if (type == RequestType::kPublish) {
    // Its commit failed: the QoS 2 id was rolled back with it, so the retransmission is a first
    // time again (else it would be acknowledged and never published).
    if ((request >> 16) == 2) qos2_in_.erase(static_cast<std::uint16_t>(request & 0xFFFF));
  }
  if (type == RequestType::kPublish && conn_) {
    // MQTT 3.1.1 has no negative acknowledgement: the connection is closed without the ack, so
    // the client sends the message again (a storage failure, never a false success).
    log::warn(kLog, conn_->peer(), ": ", error.uri, ", closing without acknowledging");
    conn_->close("publication failed");
    return;
  }
  log::debug(kLog, client_id_, ": router refused a request: ", error.uri);
}

bool Session::congested() const {
  const bool full = (conn_ && conn_->congested()) ||
                    2 * queue_.size() >= server_.options().session_queue;
  if (full) told_congested_ = true;
  return full;
}

void Session::drained() {
  if (!told_congested_ || congested()) return;
  told_congested_ = false;
  realm_->drained(session_id_);
}

void Session::send_subscription_revoked(Id subscription, const std::string&) {
  auto it = sub_by_id_.find(subscription);
  if (it == sub_by_id_.end()) return;
  subs_.erase(it->second);
  sub_by_id_.erase(it);
  store_subscriptions();
}

std::uint8_t Session::granted_for(const TopicParts& topic) const {
  int best = -1;
  for (const auto& [text, s] : subs_) {
    if (s.qos > best && filter_matches(s.filter, topic)) best = s.qos;
  }
  return static_cast<std::uint8_t>(std::max(best, 0));
}

void Session::send_event(const fox::Delivery& event) {
  const Publication& p = *event.publication;
  std::uint8_t granted;
  if (event.retained_replay) {
    auto it = sub_by_id_.find(event.subscription);
    auto sub = it != sub_by_id_.end() ? subs_.find(it->second) : subs_.end();
    if (sub == subs_.end()) return;
    granted = sub->second.qos;
  } else {
    // Overlapping subscriptions of this session each get the Event: deliver once, at the highest
    // QoS granted among the matching filters (MQTT-3.3.5-1).
    if (p.id != 0 && p.id == last_publication_) return;
    last_publication_ = p.id;
    granted = granted_for(p.topic);
  }
  Outgoing m;
  if (!mqtt_topic_name(p.topic, &m.topic)) {
    // A WAMP or FOX topic with a '/' inside a part has no MQTT name (README: topics).
    log::debug(kLog, client_id_, ": ", p.uri, " has no MQTT topic name, not delivered");
    return;
  }
  m.qos = std::min<std::uint8_t>(static_cast<std::uint8_t>(p.qos), granted);
  m.retain = event.retained_replay;
  if (m.qos == 0 && !m.retain && conn_) {
    // QoS 0 live messages are the same bytes for every receiver of this subscription: encode
    // once per Event (slot 3 of the shared cache belongs to MQTT).
    auto& slot = event.encoded.slot[3];
    if (!slot) {
      std::string bytes;
      std::string payload = p.payload ? *p.payload : payload_from_args(p.args);
      encode_publish(m.topic, payload, 0, false, false, 0, bytes);
      slot = std::make_shared<const std::string>(std::move(bytes));
    }
    count_sent(conn_->send_shared(slot, SendKind::kDroppable), 0);
    return;
  }
  m.replay = event.replay;
  // The payload bytes are shared by every QoS>=1 receiver of this Event (slot 4 of the cache), so
  // a message queued for many offline sessions is stored once per subscription, not per session.
  auto& payload = event.encoded.slot[4];
  if (!payload) {
    payload = std::make_shared<const std::string>(p.payload ? *p.payload
                                                            : payload_from_args(p.args));
  }
  m.payload = payload;
  deliver(std::move(m));
}

void Session::deliver(Outgoing m) {
  if (m.qos == 0) {
    if (conn_) send_publish(m, 0, false);
    return;  // QoS 0 is not kept for an absent client
  }
  if (store_) m.seq = ++next_seq_;
  if (conn_ && inflight_.size() < server_.options().inflight_window && queue_.empty()) {
    std::uint16_t id = next_packet_id();
    Stage stage = m.qos == 1 ? Stage::kWaitAck : Stage::kWaitRec;
    store_message(m, id, static_cast<int>(stage));
    send_publish(m, id, false);
    inflight_.push_back({id, std::move(m), stage});
    return;
  }
  if (queue_.size() >= server_.options().session_queue) {
    // Drop policy: the oldest queued message goes, the newest is kept (a sensor's latest value
    // matters most). Counted per session and broker-wide.
    store_delete(queue_.front());
    queue_.pop_front();
    ++dropped_;
    server_.count_drop();
    if (dropped_ == 1 || dropped_ % 1000 == 0) {
      log::warn(kLog, client_id_, ": session queue full (", server_.options().session_queue,
                "), dropped the oldest message (", dropped_, " dropped so far)");
    }
  }
  store_message(m, 0, 0);
  queue_.push_back(std::move(m));
}

void Session::fill_window() {
  while (conn_ && !queue_.empty() && inflight_.size() < server_.options().inflight_window) {
    Outgoing m = std::move(queue_.front());
    queue_.pop_front();
    std::uint16_t id = next_packet_id();
    send_publish(m, id, false);
    Stage stage = m.qos == 1 ? Stage::kWaitAck : Stage::kWaitRec;
    store_update(m, id, static_cast<int>(stage));
    inflight_.push_back({id, std::move(m), stage});
  }
}

void Session::send_publish(const Outgoing& m, std::uint16_t packet_id, bool dup) {
  if (!conn_) return;
  std::string bytes;
  encode_publish(m.topic, m.payload ? std::string_view(*m.payload) : std::string_view(), m.qos,
                 m.retain, dup, packet_id, bytes);
  // A replay the client asked for is never dropped; a live QoS 0 message may be (slow reader).
  const SendKind kind = m.qos == 0 && !m.replay ? SendKind::kDroppable : SendKind::kNormal;
  count_sent(conn_->send_bytes(std::move(bytes), kind), m.qos);
}

void Session::count_sent(SendResult result, std::uint8_t qos) {
  if (result == SendResult::kQueued) {
    if (conn_ && conn_->sending()) ++metrics::traffic(metrics::kMqtt).publications_sent;
  } else if (result == SendResult::kDropped && qos == 0) {
    note_qos0_drop();
  }
}

// A slow reader's queue is over its limits: QoS 0 messages are dropped and counted (as
// mosquitto and EMQX do), the client stays connected; its QoS 1/2 messages still queue.
void Session::note_qos0_drop() {
  ++dropped_qos0_;
  server_.count_qos0_drop();
  if (dropped_qos0_ == 1 || dropped_qos0_ % 1000 == 0) {
    log::warn(kLog, client_id_, ": slow reader, outbound queue over its limits: dropped QoS 0 "
              "messages (", dropped_qos0_, " dropped so far)");
  }
}

std::uint16_t Session::next_packet_id() {
  // 1..65535, wrapping, never an id still in flight (MQTT-2.3.1-4). The window is small, so the
  // scan is short.
  for (;;) {
    last_packet_id_ = static_cast<std::uint16_t>(last_packet_id_ == 65535 ? 1 : last_packet_id_ + 1);
    bool used = std::any_of(inflight_.begin(), inflight_.end(),
                            [&](const Inflight& f) { return f.packet_id == last_packet_id_; });
    if (!used) return last_packet_id_;
  }
}

}  // namespace fox::mqtt
