#include "mqtt/broker.hpp"

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
  if (it != sessions_.end() && it->second.get() == &session) sessions_.erase(it);
}

}  // namespace fox::mqtt
