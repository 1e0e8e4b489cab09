#include "mqtt/broker.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "core/topic.hpp"

namespace fox::mqtt {

Broker::Broker(Router& router, BrokerOptions options)
    : router_(router), options_(std::move(options)) {}

Broker::~Broker() {
  // Sessions leave their realms while the router still exists.
  sessions_.clear();
}

std::unique_ptr<Connection> Broker::accept(Transport& transport, std::string transport_name,
                                           std::string peer_address) {
  return std::make_unique<Connection>(*this, transport, std::move(transport_name),
                                      std::move(peer_address));
}

std::shared_ptr<Session> Broker::find(const std::string& realm, const std::string& client_id) {
  auto it = sessions_.find({realm, client_id});
  return it == sessions_.end() ? nullptr : it->second;
}

void Broker::add(const std::shared_ptr<Session>& session) {
  sessions_[{session->realm_name(), session->client_id()}] = session;
}

void Broker::remove(const Session& session) {
  auto it = sessions_.find({session.realm_name(), session.client_id()});
  if (it != sessions_.end() && it->second.get() == &session) {
    if (!session.clean()) {
      if (MqttSessionStore* s = store()) s->delete_session(session.realm_name(), session.client_id());
    }
    sessions_.erase(it);
  }
}

MqttSessionStore* Broker::store() const {
  Storage* storage = router_.storage();
  return storage ? storage->mqtt_sessions() : nullptr;
}

std::size_t Broker::restore(const std::vector<StoredMqttSession>& sessions) {
  std::size_t restored = 0;
  for (const StoredMqttSession& stored : sessions) {
    fox::Error error;
    Realm* realm = router_.realm(stored.realm, &error);
    if (!realm) {
      log::warn("mqtt", "persistent session '", stored.client_id, "' of realm ", stored.realm,
                " dropped: the realm is not allowed any more");
      if (MqttSessionStore* s = store()) s->delete_session(stored.realm, stored.client_id);
      continue;
    }
    SessionInfo info;
    info.authid = stored.client_id;
    info.transport = "mqtt";
    info.serializer = "mqtt";
    auto session = std::make_shared<Session>(*this, *realm, stored.client_id, false, std::move(info));
    session->restore(stored);
    sessions_[{session->realm_name(), session->client_id()}] = session;
    ++restored;
  }
  return restored;
}

std::size_t Broker::publish_stale_wills(const std::vector<StoredMqttWill>& wills) {
  MqttSessionStore* s = store();
  std::size_t published = 0;
  for (const StoredMqttWill& will : wills) {
    if (s) s->delete_will(will.realm, will.client_id);
    Realm* realm = router_.realm(will.realm, nullptr);
    if (!realm) continue;   // the realm is not allowed any more: the will goes with it
    // Its connection is gone (the process ended): the router publishes it on its behalf.
    Publication pub;
    pub.topic = mqtt_topic_parts(will.topic);
    pub.payload = will.payload;
    pub.qos = std::clamp(will.qos, 0, 2);
    pub.retain = will.retain;
    PublishOptions options;
    options.exclude_me = false;
    if (will.retain) options.raw["retain"] = true;
    realm->publish_orphan(std::move(pub), options);
    ++published;
  }
  return published;
}

}  // namespace fox::mqtt
