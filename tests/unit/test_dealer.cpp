#include <doctest/doctest.h>

#include "router/dealer.hpp"
#include "router_fakes.hpp"

using namespace fox;
using namespace fox::test;

namespace {

RegisterOptions with_concurrency(unsigned n) {
  RegisterOptions options;
  options.concurrency = n;
  return options;
}

RegisterOptions shared(InvokePolicy invoke) {
  RegisterOptions options;
  options.invoke = invoke;
  return options;
}

Result final_result(Json args) {
  Result result;
  result.args = std::move(args);
  return result;
}

Result progress_result(Json args) {
  Result result;
  result.details["progress"] = true;
  result.args = std::move(args);
  return result;
}

CallOptions progressive() {
  CallOptions options;
  options.receive_progress = true;
  return options;
}

}  // namespace

TEST_CASE("a call reaches the callee and its yield reaches the caller") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  Id reg = f.register_procedure(se, callee, "com.add");
  Id request = f.call(sc, "com.add", Json::array({1, 2}), Json{{"k", "v"}});
  REQUIRE(callee.invocations.size() == 1);
  const Invocation& inv = callee.invocations[0];
  CHECK(inv.registration == reg);
  CHECK(inv.args == Json::array({1, 2}));
  CHECK(inv.kwargs == Json{{"k", "v"}});
  CHECK(inv.details == Json::object());
  f.realm->yield(se, inv.request, final_result(Json::parse("[[1,2]]")));
  REQUIRE(caller.results.size() == 1);
  CHECK(caller.results[0].first == request);
  CHECK(caller.results[0].second.args.dump() == "[[1,2]]");
  CHECK(caller.results[0].second.details == Json::object());
}

TEST_CASE("a call to an unregistered procedure is no_such_procedure") {
  Fixture f;
  FakePeer caller;
  Id sc = f.join(caller);
  Id request = f.call(sc, "nobody.home");
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].type == RequestType::kCall);
  CHECK(caller.errors[0].request == request);
  CHECK(caller.errors[0].error.uri == "wamp.error.no_such_procedure");
}

TEST_CASE("a callee error reaches the caller with its uri args and kwargs unchanged") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p");
  f.call(sc, "p");
  Error error;
  error.uri = "app.error.bad_thing";
  error.args = Json::parse("[null]");
  error.kwargs = Json{{"why", "because"}};
  f.realm->invocation_error(se, callee.invocations[0].request, error);
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].error.uri == "app.error.bad_thing");
  CHECK(caller.errors[0].error.args.dump() == "[null]");
  CHECK(caller.errors[0].error.kwargs == Json{{"why", "because"}});
}

TEST_CASE("a yield for an unknown or foreign invocation is ignored") {
  Fixture f;
  FakePeer caller, callee, other;
  Id sc = f.join(caller), se = f.join(callee), so = f.join(other);
  f.register_procedure(se, callee, "p");
  f.call(sc, "p");
  f.realm->yield(so, callee.invocations[0].request, final_result(nullptr));
  f.realm->yield(se, 999999, final_result(nullptr));
  CHECK(caller.results.empty());
  CHECK(other.errors.empty());
  CHECK(callee.errors.empty());
}

TEST_CASE("progressive results keep the invocation open until the final result") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p");
  f.call(sc, "p", nullptr, nullptr, progressive());
  Id inv = callee.invocations[0].request;
  CHECK(callee.invocations[0].details["receive_progress"] == true);
  f.realm->yield(se, inv, progress_result(Json::array({1})));
  f.realm->yield(se, inv, progress_result(Json::array({2})));
  f.realm->yield(se, inv, final_result(Json::array({3})));
  f.realm->yield(se, inv, final_result(Json::array({4})));  // after the final: unknown
  REQUIRE(caller.results.size() == 3);
  CHECK(caller.results[0].second.details["progress"] == true);
  CHECK(caller.results[1].second.args == Json::array({2}));
  CHECK(caller.results[2].second.details == Json::object());
  CHECK(caller.results[2].second.args == Json::array({3}));
}

TEST_CASE("calls beyond the callee concurrency wait and run in FIFO order") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p", with_concurrency(2));
  f.call(sc, "p", Json::array({1}));
  f.call(sc, "p", Json::array({2}));
  f.call(sc, "p", Json::array({3}));
  f.call(sc, "p", Json::array({4}));
  REQUIRE(callee.invocations.size() == 2);
  f.realm->yield(se, callee.invocations[1].request, final_result(nullptr));
  REQUIRE(callee.invocations.size() == 3);
  CHECK(callee.invocations[2].args == Json::array({3}));
  f.realm->yield(se, callee.invocations[0].request, final_result(nullptr));
  REQUIRE(callee.invocations.size() == 4);
  CHECK(callee.invocations[3].args == Json::array({4}));
}

TEST_CASE("without a concurrency option every call is invoked at once") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p");
  for (int i = 0; i < 3; ++i) f.call(sc, "p");
  CHECK(callee.invocations.size() == 3);
}

TEST_CASE("a progressive result does not free a concurrency slot") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p", with_concurrency(1));
  f.call(sc, "p", nullptr, nullptr, progressive());
  f.call(sc, "p", nullptr, nullptr, progressive());
  Id first = callee.invocations[0].request;
  f.realm->yield(se, first, progress_result(nullptr));
  f.realm->yield(se, first, progress_result(nullptr));
  CHECK(callee.invocations.size() == 1);
  f.realm->yield(se, first, final_result(nullptr));
  CHECK(callee.invocations.size() == 2);
}

TEST_CASE("a callee error frees its concurrency slot") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p", with_concurrency(1));
  f.call(sc, "p");
  f.call(sc, "p");
  Error error;
  error.uri = "app.failed";
  f.realm->invocation_error(se, callee.invocations[0].request, error);
  CHECK(callee.invocations.size() == 2);
}

TEST_CASE("a newly registered callee takes queued calls of a shared registration") {
  Fixture f;
  FakePeer caller, one, two;
  Id sc = f.join(caller), s1 = f.join(one), s2 = f.join(two);
  RegisterOptions options = shared(InvokePolicy::kRoundRobin);
  options.concurrency = 1;
  f.register_procedure(s1, one, "p", options);
  f.call(sc, "p");
  f.call(sc, "p");
  CHECK(one.invocations.size() == 1);
  f.register_procedure(s2, two, "p", options);
  REQUIRE(two.invocations.size() == 1);
  // REGISTERED first, then the queued call.
  CHECK(two.log == std::vector<std::string>{"registered", "invocation"});
}

TEST_CASE("cancel skip answers the caller at once and drops the callee's later yield") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p");
  Id request = f.call(sc, "p");
  f.realm->cancel(sc, request, CancelMode::kSkip);
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].error.uri == "wamp.error.canceled");
  CHECK(callee.interrupts.empty());
  f.realm->yield(se, callee.invocations[0].request, final_result(nullptr));
  CHECK(caller.results.empty());
}

TEST_CASE("cancel kill interrupts the callee and the caller gets the callee's answer") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p");
  Id request = f.call(sc, "p");
  Id inv = callee.invocations[0].request;
  f.realm->cancel(sc, request, CancelMode::kKill);
  REQUIRE(callee.interrupts.size() == 1);
  CHECK(callee.interrupts[0] == std::make_pair(inv, std::string("kill")));
  CHECK(caller.errors.empty());
  Error error;
  error.uri = "wamp.error.canceled";
  error.args = Json::array({"stopped"});
  f.realm->invocation_error(se, inv, error);
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].error.uri == "wamp.error.canceled");
  CHECK(caller.errors[0].error.args == Json::array({"stopped"}));
}

TEST_CASE("cancel killnowait interrupts the callee and answers the caller at once") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p", with_concurrency(1));
  Id request = f.call(sc, "p");
  f.call(sc, "p");
  Id inv = callee.invocations[0].request;
  f.realm->cancel(sc, request, CancelMode::kKillNoWait);
  CHECK(callee.interrupts == std::vector<std::pair<Id, std::string>>{{inv, "killnowait"}});
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].request == request);
  CHECK(caller.errors[0].error.uri == "wamp.error.canceled");
  CHECK(callee.invocations.size() == 2);  // the slot was freed for the queued call
  f.realm->yield(se, inv, final_result(nullptr));
  CHECK(caller.results.empty());
}

TEST_CASE("canceling a queued call answers the caller and never invokes it") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p", with_concurrency(1));
  f.call(sc, "p");
  Id queued = f.call(sc, "p");
  f.realm->cancel(sc, queued, CancelMode::kKill);
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].request == queued);
  f.realm->yield(se, callee.invocations[0].request, final_result(nullptr));
  CHECK(callee.invocations.size() == 1);
}

TEST_CASE("a call timeout cancels the caller and interrupts the callee") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p");
  CallOptions options;
  options.timeout_ms = 500;
  Id request = f.call(sc, "p", nullptr, nullptr, options);
  f.env.advance(499);
  CHECK(caller.errors.empty());
  f.env.advance(1);
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].request == request);
  CHECK(caller.errors[0].error.uri == "wamp.error.canceled");
  REQUIRE(callee.interrupts.size() == 1);
  CHECK(callee.interrupts[0].second == "killnowait");
  f.realm->yield(se, callee.invocations[0].request, final_result(nullptr));
  CHECK(caller.results.empty());
}

TEST_CASE("an answered call cancels its timeout timer") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p");
  CallOptions options;
  options.timeout_ms = 500;
  f.call(sc, "p", nullptr, nullptr, options);
  f.realm->yield(se, callee.invocations[0].request, final_result(nullptr));
  CHECK(f.env.active_timers() == 0);
  f.env.advance(1000);
  CHECK(caller.errors.empty());
}

TEST_CASE("a queued call that times out is never invoked") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p", with_concurrency(1));
  f.call(sc, "p");
  CallOptions options;
  options.timeout_ms = 100;
  f.call(sc, "p", nullptr, nullptr, options);
  f.env.advance(100);
  REQUIRE(caller.errors.size() == 1);
  CHECK(callee.interrupts.empty());
  f.realm->yield(se, callee.invocations[0].request, final_result(nullptr));
  CHECK(callee.invocations.size() == 1);
}

TEST_CASE("a callee leaving cancels its in-flight calls and fails calls queued for it") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  f.register_procedure(se, callee, "p", with_concurrency(1));
  Id running = f.call(sc, "p");
  Id queued = f.call(sc, "p");
  f.realm->leave(se);
  REQUIRE(caller.errors.size() == 2);
  CHECK(caller.errors[0].request == running);
  CHECK(caller.errors[0].error.uri == "wamp.error.canceled");
  CHECK(caller.errors[1].request == queued);
  CHECK(caller.errors[1].error.uri == "wamp.error.no_such_procedure");
  f.call(sc, "p");
  CHECK(caller.errors.back().error.uri == "wamp.error.no_such_procedure");
}

TEST_CASE("queued calls move to the remaining callee when one callee leaves") {
  Fixture f;
  FakePeer caller, one, two;
  Id sc = f.join(caller), s1 = f.join(one), s2 = f.join(two);
  RegisterOptions options = shared(InvokePolicy::kFirst);
  options.concurrency = 1;
  f.register_procedure(s1, one, "p", options);
  f.register_procedure(s2, two, "p", options);
  f.call(sc, "p");  // one
  f.call(sc, "p");  // two
  f.call(sc, "p");  // queued
  f.realm->leave(s1);
  CHECK(caller.errors.size() == 1);  // only the in-flight call of `one`
  f.realm->yield(s2, two.invocations[0].request, final_result(nullptr));
  CHECK(two.invocations.size() == 2);
}

TEST_CASE("a caller leaving interrupts its in-flight calls and drops its queued calls") {
  Fixture f;
  FakePeer leaver, other, callee;
  Id sl = f.join(leaver), so = f.join(other), se = f.join(callee);
  f.register_procedure(se, callee, "p", with_concurrency(1));
  f.call(sl, "p");
  f.call(sl, "p");
  f.call(so, "p");
  f.realm->leave(sl);
  REQUIRE(callee.interrupts.size() == 1);
  CHECK(callee.interrupts[0] == std::make_pair(callee.invocations[0].request, std::string("killnowait")));
  // The slot went to the other caller's call, not to the left caller's queued one.
  REQUIRE(callee.invocations.size() == 2);
  f.realm->yield(se, callee.invocations[1].request, final_result(Json::array({"ok"})));
  REQUIRE(other.results.size() == 1);
  CHECK(leaver.results.empty());
  CHECK(leaver.errors.empty());
}

TEST_CASE("a second single registration of a procedure is procedure_already_exists") {
  Fixture f;
  FakePeer one, two;
  Id s1 = f.join(one), s2 = f.join(two);
  CHECK(f.register_procedure(s1, one, "p") != 0);
  CHECK(f.register_procedure(s2, two, "p") == 0);
  REQUIRE(two.errors.size() == 1);
  CHECK(two.errors[0].type == RequestType::kRegister);
  CHECK(two.errors[0].error.uri == "wamp.error.procedure_already_exists");
}

TEST_CASE("a shared registration with a different invoke policy is procedure_already_exists") {
  Fixture f;
  FakePeer one, two, three;
  Id s1 = f.join(one), s2 = f.join(two), s3 = f.join(three);
  Id reg = f.register_procedure(s1, one, "p", shared(InvokePolicy::kRoundRobin));
  CHECK(f.register_procedure(s2, two, "p", shared(InvokePolicy::kRoundRobin)) == reg);
  CHECK(f.register_procedure(s3, three, "p", shared(InvokePolicy::kRandom)) == 0);
  CHECK(three.errors[0].error.uri == "wamp.error.procedure_already_exists");
  CHECK(f.register_procedure(s3, three, "p", shared(InvokePolicy::kSingle)) == 0);
}

TEST_CASE("the same procedure under another match policy is another registration") {
  Fixture f;
  FakePeer one, two;
  Id s1 = f.join(one), s2 = f.join(two);
  RegisterOptions prefix;
  prefix.match = MatchPolicy::kPrefix;
  Id a = f.register_procedure(s1, one, "p");
  Id b = f.register_procedure(s2, two, "p", prefix);
  CHECK(a != 0);
  CHECK(b != 0);
  CHECK(a != b);
}

TEST_CASE("roundrobin invokes the callees in registration order in turn") {
  Fixture f;
  FakePeer caller, a, b, c;
  Id sc = f.join(caller), sa = f.join(a), sb = f.join(b), s3 = f.join(c);
  for (auto [s, peer] : {std::pair{sa, &a}, {sb, &b}, {s3, &c}}) {
    f.register_procedure(s, *peer, "p", shared(InvokePolicy::kRoundRobin));
  }
  for (int i = 0; i < 7; ++i) f.call(sc, "p");
  CHECK(a.invocations.size() == 3);
  CHECK(b.invocations.size() == 2);
  CHECK(c.invocations.size() == 2);
}

TEST_CASE("first and last invoke the first or the last registered callee") {
  Fixture f;
  FakePeer caller, a, b, x, y;
  Id sc = f.join(caller), sa = f.join(a), sb = f.join(b), sx = f.join(x), sy = f.join(y);
  f.register_procedure(sa, a, "first", shared(InvokePolicy::kFirst));
  f.register_procedure(sb, b, "first", shared(InvokePolicy::kFirst));
  f.register_procedure(sx, x, "last", shared(InvokePolicy::kLast));
  f.register_procedure(sy, y, "last", shared(InvokePolicy::kLast));
  for (int i = 0; i < 3; ++i) {
    f.call(sc, "first");
    f.call(sc, "last");
  }
  CHECK(a.invocations.size() == 3);
  CHECK(b.invocations.empty());
  CHECK(x.invocations.empty());
  CHECK(y.invocations.size() == 3);
}

TEST_CASE("random invokes the callee chosen by the environment's random value") {
  Fixture f;
  FakePeer caller, a, b;
  Id sc = f.join(caller), sa = f.join(a), sb = f.join(b);
  f.register_procedure(sa, a, "p", shared(InvokePolicy::kRandom));
  f.register_procedure(sb, b, "p", shared(InvokePolicy::kRandom));
  f.env.randoms = {1, 0, 3};
  for (int i = 0; i < 3; ++i) f.call(sc, "p");
  CHECK(a.invocations.size() == 1);
  CHECK(b.invocations.size() == 2);
}

TEST_CASE("a pattern registration gets the called procedure in details") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  RegisterOptions prefix;
  prefix.match = MatchPolicy::kPrefix;
  f.register_procedure(se, callee, "com.myapp", prefix);
  f.call(sc, "com.myapp.create.user");
  REQUIRE(callee.invocations.size() == 1);
  CHECK(callee.invocations[0].details["procedure"] == "com.myapp.create.user");
}

TEST_CASE("a call goes to the exact then longest prefix then most specific wildcard registration") {
  Fixture f;
  FakePeer caller;
  Id sc = f.join(caller);
  struct Reg { std::string uri; MatchPolicy match; FakePeer peer; Id session = 0; };
  std::vector<Reg> regs(7);
  regs[0] = {"a1.b2.c3.d4.e55", MatchPolicy::kExact, {}, 0};
  regs[1] = {"a1.b2.c3", MatchPolicy::kPrefix, {}, 0};
  regs[2] = {"a1.b2.c3.d4", MatchPolicy::kPrefix, {}, 0};
  regs[3] = {"a1.b2..d4.e5", MatchPolicy::kWildcard, {}, 0};
  regs[4] = {"a1.b2.c3..e5", MatchPolicy::kWildcard, {}, 0};
  regs[5] = {"a1.b2..d4.e5..g7", MatchPolicy::kWildcard, {}, 0};
  regs[6] = {"a1.b2..d4..f6.g7", MatchPolicy::kWildcard, {}, 0};
  for (auto& reg : regs) {
    reg.session = f.join(reg.peer);
    RegisterOptions options;
    options.match = reg.match;
    REQUIRE(f.register_procedure(reg.session, reg.peer, reg.uri, options) != 0);
  }
  auto target = [&](const std::string& uri) {
    std::vector<std::size_t> before;
    for (auto& reg : regs) before.push_back(reg.peer.invocations.size());
    f.call(sc, uri);
    for (std::size_t i = 0; i < regs.size(); ++i) {
      if (regs[i].peer.invocations.size() > before[i]) return static_cast<int>(i) + 1;
    }
    return 0;
  };
  CHECK(target("a1.b2.c3.d4.e55") == 1);
  CHECK(target("a1.b2.c3.d98.e74") == 2);
  CHECK(target("a1.b2.c3.d4.e325") == 3);
  CHECK(target("a1.b2.c55.d4.e5") == 4);
  CHECK(target("a1.b2.c3.d4.e5") == 3);  // prefix a1.b2.c3.d4 beats every wildcard
  CHECK(target("a1.b2.c88.d4.e5.f6.g7") == 6);
  CHECK(target("a2.b2.c2.d2.e2") == 0);
}

TEST_CASE("caller identity is disclosed when the caller or the callee asks") {
  Fixture f;
  FakePeer caller, callee, nosy;
  Id sc = f.join(caller, "joe", "user"), se = f.join(callee), sn = f.join(nosy);
  f.register_procedure(se, callee, "p");
  CallOptions disclose;
  disclose.disclose_me = true;
  f.call(sc, "p", nullptr, nullptr, disclose);
  CHECK(callee.invocations[0].details["caller"] == sc);
  CHECK(callee.invocations[0].details["caller_authid"] == "joe");
  CHECK(callee.invocations[0].details["caller_authrole"] == "user");
  f.call(sc, "p");
  CHECK_FALSE(callee.invocations[1].details.contains("caller"));
  RegisterOptions options;
  options.disclose_caller = true;
  f.register_procedure(sn, nosy, "q", options);
  f.call(sc, "q");
  CHECK(nosy.invocations[0].details["caller"] == sc);
}

TEST_CASE("a client cannot register a wamp procedure") {
  Fixture f;
  FakePeer callee;
  Id se = f.join(callee);
  CHECK(f.register_procedure(se, callee, "wamp.session.count") == 0);
  REQUIRE(callee.errors.size() == 1);
  CHECK(callee.errors[0].error.uri == "wamp.error.invalid_uri");
}

TEST_CASE("unregistering removes the procedure and an unknown one is no_such_registration") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  Id reg = f.register_procedure(se, callee, "p");
  f.unregister(se, 50, reg);
  CHECK(callee.unregistered == std::vector<Id>{50});
  f.unregister(se, 51, reg);
  REQUIRE(callee.errors.size() == 1);
  CHECK(callee.errors[0].error.uri == "wamp.error.no_such_registration");
  f.call(sc, "p");
  CHECK(caller.errors.back().error.uri == "wamp.error.no_such_procedure");
}

TEST_CASE("a leaving callee that is also a caller is not handed a queued call") {
  Fixture f;
  FakePeer leaver, stayer, x, y;
  Id sl = f.join(leaver), ss = f.join(stayer), sx = f.join(x), sy = f.join(y);
  RegisterOptions o;
  o.invoke = InvokePolicy::kFirst;
  o.concurrency = 1;
  f.register_procedure(sl, leaver, "p", o);
  f.register_procedure(ss, stayer, "p", o);
  f.call(sl, "p");  // runs on the leaver itself (first)
  f.call(sx, "p");  // runs on the stayer
  f.call(sy, "p");  // queued: both callees are busy
  REQUIRE(leaver.invocations.size() == 1);
  REQUIRE(stayer.invocations.size() == 1);
  f.realm->leave(sl);
  CHECK(leaver.invocations.size() == 1);    // nothing new for the session that left
  CHECK(y.errors.empty());                  // Y still waits for the stayer
  f.realm->yield(ss, stayer.invocations[0].request, Result{});
  REQUIRE(stayer.invocations.size() == 2);  // Y's call reaches the stayer
  CHECK(x.results.size() == 1);
}

TEST_CASE("one session can have at most a bounded number of pending calls") {
  Fixture f;
  FakePeer caller, callee;
  Id sc = f.join(caller), se = f.join(callee);
  RegisterOptions o;
  o.concurrency = 1;
  f.register_procedure(se, callee, "busy", o);
  for (std::size_t i = 0; i < Dealer::kMaxPendingCallsPerSession; ++i) f.call(sc, "busy");
  CHECK(caller.errors.empty());
  f.call(sc, "busy");
  REQUIRE(caller.errors.size() == 1);
  CHECK(caller.errors[0].error.uri == "wamp.error.invalid_argument");
}
