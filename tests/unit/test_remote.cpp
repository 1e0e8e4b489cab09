// RPC across the entry nodes of a cluster (router/remote.cpp): routers of three "nodes" joined by
// an in-process hub that carries their RPC_* messages as MessagePack, as the node links do.
#include <doctest/doctest.h>

#include <deque>
#include <memory>

#include "router/realm_impl.hpp"
#include "router_fakes.hpp"

using namespace fox;
using namespace fox::test;

namespace {

struct Hub;

struct Node final : RemoteLinks {
  Hub* hub = nullptr;
  std::string name;
  Fixture f;
  void send(const std::string& to, Json message) override;
};

struct Hub {
  std::map<std::string, std::unique_ptr<Node>> nodes;
  std::deque<std::tuple<std::string, std::string, std::vector<std::uint8_t>>> wire;
  std::vector<std::string> refused;

  Node& add(const std::string& name, std::uint64_t instance = 1) {
    auto node = std::make_unique<Node>();
    node->hub = this;
    node->name = name;
    node->f.router.set_remote(node.get(), name, instance);
    return *nodes.insert_or_assign(name, std::move(node)).first->second;
  }
  std::vector<std::string> peers_of(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& [n, node] : nodes) {
      if (n != name) out.push_back(n);
    }
    return out;
  }
  // Announcements, then every message in flight until there are none.
  void pump() {
    for (auto& [n, node] : nodes) node->f.router.announce(peers_of(n));
    while (!wire.empty()) {
      auto [from, to, bytes] = std::move(wire.front());
      wire.pop_front();
      auto it = nodes.find(to);
      if (it == nodes.end()) continue;
      std::string error;
      if (!it->second->f.router.on_remote(from, Json::from_msgpack(bytes), &error)) {
        refused.push_back(error);
      }
    }
  }
};

void Node::send(const std::string& to, Json message) {
  hub->wire.emplace_back(name, to, Json::to_msgpack(message));
}

Result progress(Json args) {
  Result r;
  r.details["progress"] = true;
  r.args = std::move(args);
  return r;
}

Result final_result(Json args) {
  Result r;
  r.args = std::move(args);
  return r;
}

}  // namespace

TEST_CASE("remote: a call on one node reaches a callee on another, with progress and its error") {
  Hub hub;
  Node& a = hub.add("A");
  Node& b = hub.add("B");
  FakePeer caller, callee;
  Id sc = a.f.join(caller, "alice", "user");
  Id se = b.f.join(callee);
  RegisterOptions disclose;
  disclose.disclose_caller = true;
  b.f.register_procedure(se, callee, "com.count", disclose);
  hub.pump();

  CallOptions options;
  options.receive_progress = true;
  Id request = a.f.call(sc, "com.count", Json::array({2}), nullptr, options);
  hub.pump();
  REQUIRE(callee.invocations.size() == 1);
  const Invocation inv = callee.invocations[0];
  CHECK(inv.args == Json::array({2}));
  CHECK(inv.details.value("receive_progress", false));
  // Its own disclose_caller: told who called on node A.
  CHECK(inv.details["caller"] == Json(sc));
  CHECK(inv.details["caller_authid"] == "alice");
  CHECK(inv.details["caller_authrole"] == "user");

  b.f.realm->yield(se, inv.request, progress(Json::array({0})));
  b.f.realm->yield(se, inv.request, progress(Json::array({1})));
  b.f.realm->yield(se, inv.request, final_result(Json::array({"done"})));
  hub.pump();
  REQUIRE(caller.results.size() == 3);
  CHECK(caller.results[0].first == request);
  CHECK(caller.results[0].second.details.value("progress", false));
  CHECK(caller.results[1].second.args == Json::array({1}));
  CHECK(caller.results[2].second.args == Json::array({"done"}));
  CHECK_FALSE(caller.results[2].second.details.value("progress", false));

  Id failing = a.f.call(sc, "com.count");
  hub.pump();
  REQUIRE(callee.invocations.size() == 2);
  Error error = make_error("com.example.bad", "why");
  error.kwargs = Json{{"x", 1}};
  b.f.realm->invocation_error(se, callee.invocations[1].request, error);
  hub.pump();
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].request == failing);
  CHECK(caller.errors[0].error.uri == "com.example.bad");
  CHECK(caller.errors[0].error.args == Json::array({"why"}));
  CHECK(caller.errors[0].error.kwargs == Json{{"x", 1}});
  CHECK(hub.refused.empty());
  // The remote callee is not a session of node A: its meta API lists none.
  CHECK(a.f.realm->impl().dealer.find("com.count", MatchPolicy::kExact)->callees.size() == 1);
}

TEST_CASE("remote: a timeout or a cancel on the caller's node interrupts the callee there") {
  Hub hub;
  Node& a = hub.add("A");
  Node& b = hub.add("B");
  FakePeer caller, callee;
  Id sc = a.f.join(caller);
  Id se = b.f.join(callee);
  b.f.register_procedure(se, callee, "com.slow");
  hub.pump();
  CallOptions timed;
  timed.timeout_ms = 100;
  a.f.call(sc, "com.slow", nullptr, nullptr, timed);
  hub.pump();
  REQUIRE(callee.invocations.size() == 1);
  a.f.env.advance(150);
  hub.pump();
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].error.uri == "wamp.error.canceled");
  REQUIRE(callee.interrupts.size() == 1);
  CHECK(callee.interrupts[0] == std::make_pair(callee.invocations[0].request, std::string("killnowait")));

  Id request = a.f.call(sc, "com.slow");
  hub.pump();
  REQUIRE(callee.invocations.size() == 2);
  a.f.realm->cancel(sc, request, CancelMode::kKill);
  hub.pump();
  REQUIRE(callee.interrupts.size() == 2);
  CHECK(callee.interrupts[1].second == "kill");
  // The callee answers the interrupt with an error: it reaches the caller.
  b.f.realm->invocation_error(se, callee.invocations[1].request, make_error("wamp.error.canceled"));
  hub.pump();
  REQUIRE(caller.errors.size() == 2);
  CHECK(caller.errors[1].request == request);
  CHECK(caller.errors[1].error.uri == "wamp.error.canceled");
}

TEST_CASE("remote: roundrobin spreads calls over the nodes; a forwarded call never travels on") {
  Hub hub;
  Node& a = hub.add("A");
  Node& b = hub.add("B");
  Node& c = hub.add("C");
  FakePeer caller, pb, pc;
  Id sc = a.f.join(caller);
  Id sb = b.f.join(pb), scc = c.f.join(pc);
  RegisterOptions rr;
  rr.invoke = InvokePolicy::kRoundRobin;
  b.f.register_procedure(sb, pb, "com.rr", rr);
  c.f.register_procedure(scc, pc, "com.rr", rr);
  hub.pump();
  for (int i = 0; i < 4; ++i) a.f.call(sc, "com.rr");
  hub.pump();
  // Each forwarded call ran on the node it was sent to (B and C each have the other as a
  // callee too: a forwarded call goes only to local callees).
  CHECK(pb.invocations.size() == 2);
  CHECK(pc.invocations.size() == 2);
  CHECK(hub.refused.empty());
}

TEST_CASE("remote: a second single registration on another node is refused; a race keeps the older") {
  Hub hub;
  Node& a = hub.add("A");
  Node& b = hub.add("B");
  FakePeer pa, pb, pb2;
  Id sa = a.f.join(pa), sb = b.f.join(pb), sb2 = b.f.join(pb2);
  a.f.register_procedure(sa, pa, "com.one");
  hub.pump();
  CHECK(b.f.register_procedure(sb, pb, "com.one") == 0);
  REQUIRE(pb.errors.size() == 1);
  CHECK(pb.errors[0].error.uri == "wamp.error.procedure_already_exists");

  // Both register before either heard of the other: B's (older by its clock) stays everywhere,
  // A's callee is told UNREGISTERED.
  b.f.env.advance(0);
  a.f.env.advance(10);
  b.f.register_procedure(sb2, pb2, "com.race");
  a.f.register_procedure(sa, pa, "com.race");
  hub.pump();
  hub.pump();
  CHECK(pa.registrations_revoked.size() == 1);
  CHECK(pb2.registrations_revoked.empty());
  FakePeer caller;
  Id sc = a.f.join(caller);
  a.f.call(sc, "com.race");
  hub.pump();
  CHECK(pb2.invocations.size() == 1);
  CHECK(pa.invocations.empty());
}

TEST_CASE("remote: a lost node's callees go; its calls in flight fail; the calls it sent are interrupted") {
  Hub hub;
  Node& a = hub.add("A");
  Node& b = hub.add("B");
  FakePeer caller, callee, local;
  Id sc = a.f.join(caller);
  Id se = b.f.join(callee);
  b.f.register_procedure(se, callee, "com.hang");
  hub.pump();
  Id request = a.f.call(sc, "com.hang");
  hub.pump();
  REQUIRE(callee.invocations.size() == 1);

  a.f.router.remote_lost("B");
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].request == request);
  CHECK(caller.errors[0].error.uri == "wamp.error.canceled");
  a.f.call(sc, "com.hang");
  REQUIRE(caller.errors.size() == 2);
  CHECK(caller.errors[1].error.uri == "wamp.error.no_such_procedure");

  // On B, A is lost: the invocation A forwarded is interrupted.
  b.f.router.remote_lost("A");
  REQUIRE(callee.interrupts.size() == 1);
  CHECK(callee.interrupts[0].second == "killnowait");
}

TEST_CASE("remote: a new incarnation of a node ends what the old one had") {
  Hub hub;
  Node& a = hub.add("A");
  hub.add("B", 1);
  FakePeer caller, callee;
  Id sc = a.f.join(caller);
  {
    Node& b = *hub.nodes["B"];
    Id se = b.f.join(callee);
    b.f.register_procedure(se, callee, "com.p");
  }
  hub.pump();
  a.f.call(sc, "com.p");
  hub.pump();
  REQUIRE(callee.invocations.size() == 1);
  // B restarts (instance 2) with nothing registered: its first table ends the old calls.
  Node& b2 = hub.add("B", 2);
  b2.f.router.remote_link_up("A");
  hub.pump();
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].error.uri == "wamp.error.canceled");
  a.f.call(sc, "com.p");
  CHECK(caller.errors.back().error.uri == "wamp.error.no_such_procedure");
}

TEST_CASE("remote: malformed messages are refused with a reason and change nothing") {
  Hub hub;
  Node& a = hub.add("A");
  std::string error;
  for (const char* text : {
           R"(42)", R"({})", R"({"ft":"RPC_REGS","realm":"realm1"})",
           R"({"ft":"RPC_REGS","realm":"realm1","i":1,"regs":[["x"]]})",
           R"({"ft":"RPC_REGS","realm":"realm1","i":1,"regs":[[["a"],9,0,1]]})",
           R"({"ft":"RPC_REGS","realm":"realm1","i":1,"regs":[[[],0,0,1]]})",
           R"({"ft":"RPC_CALL","realm":"realm1","i":1})",
           R"({"ft":"RPC_CALL","realm":"realm1","i":1,"call":1,"reg":"a","match":0})",
           R"({"ft":"RPC_CALL","realm":"realm1","i":1,"call":1,"reg":["a"],"match":0,"args":{}})",
           R"({"ft":"RPC_RESULT","realm":"realm1","i":1,"call":1,"kwargs":[]})",
           R"({"ft":"RPC_ERROR","realm":"realm1","i":1,"call":1})",
           R"({"ft":"RPC_NOPE","realm":"realm1","i":1,"call":1})"}) {
    error.clear();
    CHECK_MESSAGE(!a.f.router.on_remote("B", Json::parse(text), &error), text);
    CHECK_MESSAGE(!error.empty(), text);
  }
  CHECK(a.f.realm->impl().dealer.size() == 0);
  // A call for a procedure not registered here is answered no_such_procedure.
  CHECK(a.f.router.on_remote(
      "B", Json::parse(R"({"ft":"RPC_CALL","realm":"realm1","i":1,"call":5,"reg":["a"],"match":0})"),
      &error));
  REQUIRE(hub.wire.size() == 1);
  Json answer = Json::from_msgpack(std::get<2>(hub.wire.front()));
  CHECK(answer["ft"] == "RPC_ERROR");
  CHECK(answer["call"] == 5);
  CHECK(answer["error"] == "wamp.error.no_such_procedure");
}

TEST_CASE("remote: calls queued behind a forwarded one go to another node once the local callee left") {
  Hub hub;
  Node& a = hub.add("A");
  Node& b = hub.add("B");
  FakePeer local, caller, far_callee, far_caller;
  Id sl = a.f.join(local), sc = a.f.join(caller);
  Id sfc = b.f.join(far_callee), sfr = b.f.join(far_caller);
  RegisterOptions first;
  first.invoke = InvokePolicy::kFirst;
  first.concurrency = 1;
  a.f.register_procedure(sl, local, "com.q", first);
  hub.pump();
  b.f.env.advance(10);
  b.f.register_procedure(sfc, far_callee, "com.q", first);
  hub.pump();
  a.f.call(sc, "com.q");          // takes the local callee (first), its only slot
  b.f.call(sfr, "com.q");         // B: first is A's callee → forwarded to A, queued there
  hub.pump();
  REQUIRE(local.invocations.size() == 1);
  a.f.call(sc, "com.q");          // queued on A behind the forwarded call
  hub.pump();
  CHECK(far_callee.invocations.empty());
  a.f.realm->leave(sl);           // the local callee leaves
  hub.pump();
  // The forwarded call had no local callee left (no_such_procedure back on B); the local call
  // behind it went to B's callee.
  REQUIRE(far_caller.errors.size() == 1);
  CHECK(far_caller.errors[0].error.uri == "wamp.error.no_such_procedure");
  CHECK(far_callee.invocations.size() == 1);
}

TEST_CASE("remote: mistyped fields of a peer's messages are refused or ignored, never thrown") {
  Hub hub;
  Node& a = hub.add("A");
  std::string error;
  for (const char* text : {
           R"({"ft":"RPC_CALL","realm":"realm1","i":1,"call":1,"reg":["a"],"match":0,"progress":"yes","disclose_me":3,"caller":7})",
           R"({"ft":"RPC_RESULT","realm":"realm1","i":1,"call":1,"progress":"x"})",
           R"({"ft":"RPC_INTERRUPT","realm":"realm1","i":1,"call":1,"mode":5})",
           R"({"ft":"RPC_REGS","realm":"realm1","i":"x","regs":[]})",
           R"({"ft":"RPC_ERROR","realm":"realm1","i":1,"call":1,"error":"e","args":{}})"}) {
    CHECK_NOTHROW(a.f.router.on_remote("B", Json::parse(text), &error));
  }
}
