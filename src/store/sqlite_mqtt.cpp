// MQTT persistent sessions and CONNECT wills in SQLite (the broker's mqtt::SessionStore).
#include <sqlite3.h>

#include "store/sqlite_store.hpp"
#include "store/sqlite_util.hpp"

namespace fox::store {

void SqliteStore::save_session(const std::string& realm, const std::string& client_id,
                               const std::vector<std::pair<std::string, int>>& subscriptions) {
  if (closed_) return;
  Json subs = Json::array();
  for (const auto& [filter, qos] : subscriptions) subs.push_back(Json::array({filter, qos}));
  std::string json = subs.dump(-1, ' ', false, Json::error_handler_t::replace);
  sqlite3_stmt* s = session_put_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_text(s, 3, json);
  write(s);
}

void SqliteStore::delete_session(const std::string& realm, const std::string& client_id) {
  if (closed_) return;
  for (Stmt* stmt : {session_delete_, session_messages_delete_, session_qos2_delete_}) {
    Reset r(stmt->s);
    bind_text(stmt->s, 1, realm);
    bind_text(stmt->s, 2, client_id);
    write(stmt->s);
  }
}

void SqliteStore::save_message(const std::string& realm, const std::string& client_id,
                               const mqtt::StoredMessage& m) {
  if (closed_) return;
  sqlite3_stmt* s = message_put_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_int(s, 3, static_cast<std::int64_t>(m.seq));
  bind_text(s, 4, m.topic);
  bind_blob(s, 5, &m.payload);
  bind_int(s, 6, m.qos);
  bind_int(s, 7, m.retain ? 1 : 0);
  bind_int(s, 8, m.packet_id);
  bind_int(s, 9, m.stage);
  write(s);
}

void SqliteStore::update_message(const std::string& realm, const std::string& client_id,
                                 std::uint64_t seq, std::uint16_t packet_id, int stage) {
  if (closed_) return;
  sqlite3_stmt* s = message_update_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_int(s, 3, static_cast<std::int64_t>(seq));
  bind_int(s, 4, packet_id);
  bind_int(s, 5, stage);
  write(s);
}

void SqliteStore::delete_message(const std::string& realm, const std::string& client_id,
                                 std::uint64_t seq) {
  if (closed_) return;
  sqlite3_stmt* s = message_delete_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_int(s, 3, static_cast<std::int64_t>(seq));
  write(s);
}

std::vector<mqtt::StoredSession> SqliteStore::load_sessions() {
  std::vector<mqtt::StoredSession> out;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_,
                         "SELECT realm, client_id, subscriptions FROM mqtt_sessions "
                         "ORDER BY realm, client_id",
                         -1, &s, nullptr) != SQLITE_OK) {
    log::error("store", path_, ": reading MQTT sessions: ", sqlite3_errmsg(db_));
    return out;
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    mqtt::StoredSession session;
    session.realm = text(s, 0);
    session.client_id = text(s, 1);
    Json subs = Json::parse(text(s, 2), nullptr, false);
    if (subs.is_array()) {
      for (const auto& sub : subs) {
        if (sub.is_array() && sub.size() == 2 && sub[0].is_string() && sub[1].is_number_integer()) {
          session.subscriptions.emplace_back(sub[0].get<std::string>(), sub[1].get<int>());
        }
      }
    }
    out.push_back(std::move(session));
  }
  sqlite3_finalize(s);
  if (sqlite3_prepare_v2(db_,
                         "SELECT seq, topic, payload, qos, retain, packet_id, stage FROM mqtt_messages "
                         "WHERE realm = ?1 AND client_id = ?2 ORDER BY seq",
                         -1, &s, nullptr) != SQLITE_OK) {
    log::error("store", path_, ": reading MQTT messages: ", sqlite3_errmsg(db_));
    return out;
  }
  for (auto& session : out) {
    bind_text(s, 1, session.realm);
    bind_text(s, 2, session.client_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
      mqtt::StoredMessage m;
      m.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
      m.topic = text(s, 1);
      m.payload = blob(s, 2);
      m.qos = sqlite3_column_int(s, 3);
      m.retain = sqlite3_column_int(s, 4) != 0;
      m.packet_id = static_cast<std::uint16_t>(sqlite3_column_int(s, 5));
      m.stage = sqlite3_column_int(s, 6);
      session.messages.push_back(std::move(m));
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  sqlite3_finalize(s);
  if (sqlite3_prepare_v2(db_,
                         "SELECT packet_id FROM mqtt_qos2 WHERE realm = ?1 AND client_id = ?2 "
                         "ORDER BY packet_id",
                         -1, &s, nullptr) != SQLITE_OK) {
    log::error("store", path_, ": reading MQTT QoS 2 ids: ", sqlite3_errmsg(db_));
    return out;
  }
  for (auto& session : out) {
    bind_text(s, 1, session.realm);
    bind_text(s, 2, session.client_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
      session.qos2_received.push_back(static_cast<std::uint16_t>(sqlite3_column_int(s, 0)));
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
  sqlite3_finalize(s);
  return out;
}

void SqliteStore::save_qos2(const std::string& realm, const std::string& client_id,
                            std::uint16_t packet_id) {
  if (closed_) return;
  sqlite3_stmt* s = qos2_put_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_int(s, 3, packet_id);
  write(s);
}

void SqliteStore::delete_qos2(const std::string& realm, const std::string& client_id,
                              std::uint16_t packet_id) {
  if (closed_) return;
  sqlite3_stmt* s = qos2_delete_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  bind_int(s, 3, packet_id);
  write(s);
}

void SqliteStore::save_connect_will(const mqtt::StoredConnectWill& will) {
  if (closed_) return;
  sqlite3_stmt* s = mqtt_will_put_->s;
  Reset r(s);
  bind_text(s, 1, will.realm);
  bind_text(s, 2, will.client_id);
  bind_text(s, 3, will.topic);
  bind_blob(s, 4, &will.payload);
  bind_int(s, 5, will.qos);
  bind_int(s, 6, will.retain ? 1 : 0);
  write(s);
}

void SqliteStore::delete_connect_will(const std::string& realm, const std::string& client_id) {
  if (closed_) return;
  sqlite3_stmt* s = mqtt_will_delete_->s;
  Reset r(s);
  bind_text(s, 1, realm);
  bind_text(s, 2, client_id);
  write(s);
}

std::vector<mqtt::StoredConnectWill> SqliteStore::load_connect_wills() {
  std::vector<mqtt::StoredConnectWill> out;
  Query q(db_, "SELECT realm, client_id, topic, payload, qos, retain FROM mqtt_wills "
               "ORDER BY realm, client_id");
  while (q.step(path_, "reading MQTT wills")) {
    mqtt::StoredConnectWill w;
    w.realm = text(q.s, 0);
    w.client_id = text(q.s, 1);
    w.topic = text(q.s, 2);
    w.payload = blob(q.s, 3);
    w.qos = sqlite3_column_int(q.s, 4);
    w.retain = sqlite3_column_int(q.s, 5) != 0;
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace fox::store
