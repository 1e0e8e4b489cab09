// CONNECT: realm from the user name, client id rules, session takeover and persistence.
#include <cinttypes>
#include <cstdio>

#include "core/auth.hpp"
#include "core/log.hpp"
#include "net/crypto.hpp"
#include "mqtt/connection.hpp"
#include "mqtt/session.hpp"

namespace fox::mqtt {
namespace {
constexpr const char* kLog = "mqtt";
}

void Connection::handle_connect(Connect& c) {
  auto refuse = [&](std::uint8_t code, const std::string& why) {
    log::info(kLog, peer(), ": CONNACK ", int(code), ": ", why);
    send_packet(Connack{false, code});
    close(why);
  };

  // Realm: "user@realm" selects the realm, otherwise the configured default realm (SPEC §7).
  std::string realm_name = server_.options().default_realm;
  std::string authid;
  if (c.username) {
    authid = *c.username;
    auto at = c.username->rfind('@');
    if (at != std::string::npos) {
      authid = c.username->substr(0, at);
      realm_name = c.username->substr(at + 1);
    }
  }
  fox::Error error;
  Realm* realm = server_.router().realm(realm_name, &error);
  if (!realm) {
    refuse(kConnackBadUsernameOrPassword, "no such realm '" + realm_name + "'");
    return;
  }
  // A secured realm (SPEC §6): user `authid@realm` with the user's secret as password, or no
  // user name (or just `@realm`) when the realm names a role for anonymous clients.
  std::string authrole = "anonymous";
  std::string authmethod = "anonymous";
  const auth::Policy* policy = server_.router().auth_policy();
  if (const auth::RealmPolicy* realm_policy = policy ? policy->find(realm_name) : nullptr) {
    if (c.username && !authid.empty()) {
      // Too many failed logins from this address: refused unchecked until its block ends
      // (core/login_limiter.hpp), with "server unavailable" (the credentials may be right).
      Router& router = server_.router();
      if (const std::uint64_t ms = router.login_blocked(peer())) {
        refuse(kConnackServerUnavailable, "too many failed logins from this address (" +
                                              std::to_string((ms + 999) / 1000) + " s more)");
        return;
      }
      const auth::User* user = realm_policy->user(authid);
      if (!user || !c.password || !net::secret_matches(user->secret, *c.password)) {
        router.login_failed(peer());
        refuse(kConnackBadUsernameOrPassword,
               "bad user name or password for '" + authid + "' in realm " + realm_name);
        return;
      }
      authrole = user->role;
      authmethod = "password";
    } else if (realm_policy->anonymous_allowed) {
      authrole = realm_policy->anonymous_role;
    } else {
      refuse(kConnackNotAuthorized, "realm " + realm_name + " admits no anonymous clients");
      return;
    }
  }

  // MQTT-3.1.3-7/8: a zero-byte client id needs clean session; the broker then assigns one.
  std::string client_id = c.client_id;
  if (client_id.empty()) {
    if (!c.clean_session) {
      refuse(kConnackIdentifierRejected, "empty client id with clean session = 0");
      return;
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "fox-%016" PRIx64, server_.router().env().random64());
    client_id = buf;
  }

  // Session takeover (MQTT-3.1.4-2): the connection already using this client id is closed.
  std::shared_ptr<Session> session = server_.find(realm_name, client_id);
  if (session && session->connection()) {
    Connection* old = session->connection();
    log::info(kLog, peer(), ": client id '", client_id, "' taken over from ", old->peer());
    old->publish_will();
    session->detach();
    old->session_.reset();
    old->close("taken over by a new connection");
  }
  bool present = false;
  if (session && (c.clean_session || session->clean())) {
    server_.remove(*session);  // MQTT-3.1.2-6: clean session discards the previous state
    session.reset();
  }
  if (session) {
    present = true;
  } else {
    SessionInfo info;
    info.authid = authid.empty() ? client_id : authid;
    info.authrole = authrole;
    info.authmethod = authmethod;
    info.transport = transport_name_;
    info.serializer = "mqtt";
    info.peer_address = peer();
    info.empty_topic_parts = true;   // MQTT allows empty levels ("a//b")
    session = std::make_shared<Session>(server_, *realm, client_id, c.clean_session,
                                        std::move(info));
    server_.add(session);
  }

  session_ = session;
  conn_.established();
  arm_will(std::move(c.will));
  keep_alive_s_ = c.keep_alive;
  connected_ = true;
  // MQTT-3.2.2-1/2: session present only for a resumed persistent session (never for 3.1).
  bool session_present = present && c.protocol_level >= kProtocolLevel311;
  send_packet(Connack{session_present, kConnackAccepted});
  log::info(kLog, peer(), ": '", client_id, "' connected to realm ", realm_name, " over ",
            transport_name_, " as ", authid.empty() ? std::string("anonymous") : authid,
            c.clean_session ? " (clean session)" : " (persistent session)");
  session_->attach(this);
  start_keepalive();
}

}  // namespace fox::mqtt
