// One FOX session (fox-wamp's "hyper" protocol, reference doc §4.2): the commands of a client
// (LOGIN, ECHO, TRACE, UNTRACE, PUSH, REG, UNREG, CALL, YIELD, CONFIRM, GOODBYE) as router
// commands, and the router's answers (Peer) as ACK, OK, ERR, EMIT, EVENT, TASK. Every answer
// carries the `id` of the command it belongs to; event, subscription, registration and
// invocation ids travel in `qid`. Where the reference is wrong (doc chapter 10) fox answers what
// a client waits for: an invalid realm or a second LOGIN is an ERR, every ERR of a command keeps
// its error uri as `code`, an acknowledged PUSH returns its event id, and a client's pending
// commands end with the connection (there is nothing to settle on the router's side).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fox/codec.hpp"
#include "net/connection.hpp"
#include "router/peer.hpp"
#include "router/router.hpp"

namespace fox::foxp {

class Session final : public Peer {
public:
  // `transport`: "fox" (TCP) or "fox-websocket".
  Session(Router& router, net::Connection& connection, std::string transport);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // One decoded message (a map); false: the connection is being closed.
  bool on_message(const Json& message);
  void on_transport_closed();
  void on_drain();
  const char* waiting_for() const { return "LOGIN"; }

  // Peer
  void send_published(Id request, Id publication) override;
  void send_event(const Delivery& delivery) override;
  void send_subscription_revoked(Id subscription, const std::string& reason) override;
  bool congested() const override { return conn_.congested(); }
  void send_registration_revoked(Id registration, const std::string& reason) override;
  void send_invocation(const Invocation& invocation) override;
  void send_interrupt(Id invocation, const std::string& mode) override;
  void send_result(Id call_request, const Result& result) override;
  void send_error(RequestType type, Id request, const Error& error) override;
  void kick(const std::string& reason) override { conn_.close(reason); }

private:
  struct Trace {
    Id command = 0;          // the TRACE's id
    Id subscription = 0;     // the router's
  };
  struct Registration {
    Id command = 0;          // the REG's id
    TopicParts procedure;
  };

  void login(Id id, const Json& m);
  void echo(Id id, const Json& m);
  void trace(Id id, const Json& m);
  void untrace(Id id, const Json& m);
  void push(Id id, const Json& m);
  void reg(Id id, const Json& m);
  void unreg(Id id, const Json& m);
  void call(Id id, const Json& m);
  void yield(const Json& m);

  void send(Json message);
  void reply_error(Id id, const std::string& code, const std::string& message);
  bool protocol_violation(const std::string& why);
  void end_trace(Id qid, const Trace& t);   // {id, rsp: OK, qid}: the trace is over
  void leave(const char* why = "connection closed");

  Router& router_;
  net::Connection& conn_;
  std::string transport_;
  Realm* realm_ = nullptr;
  Id session_id_ = 0;
  bool closing_ = false;
  Id next_trace_ = 0;
  std::map<Id, Trace> traces_;                        // qid → trace
  std::map<Id, std::vector<Id>> traces_of_;           // subscription → qids
  std::map<Id, Id> replay_to_;                        // subscription → the qid its replay is for
  std::map<Id, Registration> registrations_;          // registration id → REG
  std::string out_;                                   // encode buffer
};

}  // namespace fox::foxp
