#include "mqtt/server.hpp"

#include <algorithm>

#include "core/log.hpp"
#include "core/topic.hpp"
#include "mqtt/connection.hpp"
#include "mqtt/session.hpp"

namespace fox::mqtt {

Server::Server(Router& router, ServerOptions options)
    : router_(router), options_(std::move(options)) {}

Server::~Server() {
  // Sessions leave their realms while the router still exists.
  sessions_.clear();
}

std::unique_ptr<Connection> Server::accept(net::Connection& connection,
                                           std::string transport_name) {
  return std::make_unique<Connection>(*this, connection, std::move(transport_name));
}

std::shared_ptr<Session> Server::find(const std::string& realm, const std::string& client_id) {
  auto it = sessions_.find({realm, client_id});
  return it == sessions_.end() ? nullptr : it->second;
}

void Server::add(const std::shared_ptr<Session>& session) {
  sessions_[{session->realm_name(), session->client_id()}] = session;
}

void Server::remove(const Session& session) {
  auto it = sessions_.find({session.realm_name(), session.client_id()});
  if (it != sessions_.end() && it->second.get() == &session) {
    if (!session.clean()) {
      if (SessionStore* s = store()) s->delete_session(session.realm_name(), session.client_id());
    }
    sessions_.erase(it);
  }
}

std::size_t Server::restore(const std::vector<StoredSession>& sessions) {
  std::size_t restored = 0;
  for (const StoredSession& stored : sessions) {
    fox::Error error;
    Realm* realm = router_.realm(stored.realm, &error);
    if (!realm) {
      log::warn("mqtt", "persistent session '", stored.client_id, "' of realm ", stored.realm,
                " dropped: the realm is not allowed any more");
      if (SessionStore* s = store()) s->delete_session(stored.realm, stored.client_id);
      continue;
    }
    SessionInfo info;
    info.authid = stored.client_id;
    info.transport = "mqtt";
    info.serializer = "mqtt";
    info.empty_topic_parts = true;
    auto session = std::make_shared<Session>(*this, *realm, stored.client_id, false, std::move(info));
    session->restore(stored);
    sessions_[{session->realm_name(), session->client_id()}] = session;
    ++restored;
  }
  return restored;
}

std::size_t Server::publish_stale_wills(const std::vector<StoredConnectWill>& wills) {
  SessionStore* s = store();
  std::size_t published = 0;
  for (const StoredConnectWill& will : wills) {
    if (s) s->delete_connect_will(will.realm, will.client_id);
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

std::size_t Server::queued_total() const {
  std::size_t n = 0;
  for (const auto& [key, session] : sessions_) n += session->queued();
  return n;
}

}  // namespace fox::mqtt
