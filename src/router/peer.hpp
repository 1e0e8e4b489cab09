// The interface through which the router answers a session. Protocol sessions implement it
// (wamp/session, mqtt/session, fox/session, in-process test peers). Answers that may come later
// (a publication that waits on `watch` or on a commit, RPC) go through it; the outcome of a
// subscribe or register is returned by the call itself (router.hpp).
#pragma once
#include <string>

#include "router/types.hpp"

namespace fox {

class Peer {
public:
  virtual ~Peer() = default;

  // Publish/subscribe.
  virtual void send_published(Id request, Id publication) = 0;
  virtual void send_event(const Delivery& delivery) = 0;
  // The router ended a subscription on its own (snapshot done, revocation): WAMP sends
  // UNSUBSCRIBED(0, {subscription, reason}).
  virtual void send_subscription_revoked(Id subscription, const std::string& reason) = 0;
  // Flow control for replays: true while the connection's outbound queue is over half its limits
  // (the replay waits; the session calls Realm::drained() when it is below again).
  virtual bool congested() const { return false; }

  // Remote procedure calls.
  virtual void send_registration_revoked(Id registration, const std::string& reason) = 0;
  virtual void send_invocation(const Invocation& invocation) = 0;
  virtual void send_interrupt(Id invocation, const std::string& mode) = 0;
  virtual void send_result(Id call_request, const Result& result) = 0;

  // Any request that failed later: WAMP ERROR(request_type, request, details, uri, args, kwargs).
  virtual void send_error(RequestType type, Id request, const Error& error) = 0;

  // The router ends the session (a cluster fired its will: the others consider it gone, so what
  // it held is theirs now). The protocol session closes its connection (WAMP ABORT with
  // `reason`); it leaves the realm as any closed session does. Called from a timer, never from
  // inside a realm call.
  virtual void kick(const std::string& reason) { (void)reason; }
};

}  // namespace fox
