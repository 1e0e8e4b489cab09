// fox/client against the real FOX server (router, TcpServer, foxp::tcp_factory) on 127.0.0.1,
// all on one libuv loop: correlation by id, LOGIN first, commands ended when the connection is
// lost, reconnect with the standing TRACEs sent again.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "fox/client.hpp"
#include "fox/transports.hpp"
#include "router/router.hpp"
#include "store/memory_engine.hpp"
#include "uv_loop.hpp"

using namespace fox;
using fox::testing::Loop;
using State = foxp::Client::State;

namespace {

struct Server {
  Loop l;
  store::MemoryEngine engine;
  Router router{*l.env, engine};
  std::unique_ptr<net::TcpServer> tcp;
  int port = 0;

  Server() { start(); }
  ~Server() {
    stop();
    l.drain();
  }
  void start() {
    net::TcpServerOptions o;
    o.name = "fox";
    o.bind = "127.0.0.1";
    o.port = port;
    o.env = l.env.get();
    tcp = std::make_unique<net::TcpServer>(&l.loop, o, foxp::tcp_factory(router, 1 << 20));
    std::string error;
    REQUIRE(tcp->start(&error));
    port = tcp->port();
    l.servers.push_back(tcp.get());
  }
  void stop() {
    if (!tcp) return;
    tcp->stop();
    l.servers.clear();
    tcp.reset();
  }
  foxp::ClientOptions options(const std::string& realm = "realm1") {
    foxp::ClientOptions o;
    o.port = port;
    o.realm = realm;
    o.connect_timeout_ms = 2000;
    return o;
  }
};

// What a client's state callback saw.
struct States {
  std::vector<State> seen;
  std::string why;
  int count(State s) const {
    int n = 0;
    for (State x : seen) n += x == s;
    return n;
  }
  foxp::Client::StateFn fn() {
    return [this](State s, const std::string& w) {
      seen.push_back(s);
      why = w;
    };
  }
};

std::string rsp(const Json& a) { return a.value("rsp", std::string()); }
std::string code(const Json& a) { return a["data"].value("code", std::string()); }
Json parts(std::initializer_list<const char*> p) {
  Json out = Json::array();
  for (const char* s : p) out.push_back(s);
  return out;
}

}  // namespace

TEST_CASE("answers are correlated by id: an acknowledged PUSH returns the event id the TRACE sees") {
  Server s;
  States sa, sb;
  foxp::Client a(&s.l.loop, *s.l.env, s.options());
  foxp::Client b(&s.l.loop, *s.l.env, s.options());
  std::vector<Json> trace_answers, push_answers;
  // Sent before start(): it waits for LOGIN's OK.
  const Id trace = a.send(Json{{"ft", "TRACE"}, {"uri", parts({"t", "x"})}, {"opt", Json::object()}},
                          [&](const Json& ans) { trace_answers.push_back(ans); });
  a.start(sa.fn());
  b.start(sb.fn());
  REQUIRE(s.l.run_until([&] { return sa.count(State::kUp) == 1 && sb.count(State::kUp) == 1 &&
                                     !trace_answers.empty(); }));
  CHECK(rsp(trace_answers[0]) == "ACK");
  CHECK(a.qid_of(trace) != 0);
  b.send(Json{{"ft", "PUSH"}, {"uri", parts({"t", "x"})}, {"ack", true}, {"data", {{"kv", 5}}}},
         [&](const Json& ans) { push_answers.push_back(ans); });
  REQUIRE(s.l.run_until([&] { return trace_answers.size() == 2 && push_answers.size() == 1; }));
  CHECK(rsp(push_answers[0]) == "OK");
  const Json& event = trace_answers[1];
  CHECK(rsp(event) == "EVENT");
  CHECK(event["id"] == trace);
  CHECK(event["qid"] == push_answers[0]["qid"]);
  CHECK(event["data"] == Json{{"kv", 5}});
  CHECK(event["uri"] == parts({"t", "x"}));
}

TEST_CASE("a refused LOGIN is final and ends the commands that waited for it") {
  Server s;
  States st;
  foxp::Client c(&s.l.loop, *s.l.env, s.options("No Such Realm"));
  std::vector<Json> answers;
  c.send(Json{{"ft", "ECHO"}, {"data", 1}}, [&](const Json& a) { answers.push_back(a); });
  c.start(st.fn());
  REQUIRE(s.l.run_until([&] { return !st.seen.empty() && !answers.empty(); }));
  CHECK(st.seen == std::vector<State>{State::kFailed});
  CHECK(st.why.find("refused: wamp.error.no_such_realm") != std::string::npos);
  CHECK(foxp::Client::is_error(answers[0]));
  CHECK(code(answers[0]) == foxp::kConnectionLost);
  // Later commands end at once (from a later loop turn), never wait.
  bool ended = false;
  c.send(Json{{"ft", "ECHO"}}, [&](const Json& a) { ended = foxp::Client::is_error(a); });
  CHECK_FALSE(ended);
  CHECK(s.l.run_until([&] { return ended; }));
}

TEST_CASE("a lost connection ends the commands in flight with fox.error.connection_lost") {
  Server s;
  States sc, st;
  foxp::Client callee(&s.l.loop, *s.l.env, s.options());
  foxp::Client caller(&s.l.loop, *s.l.env, s.options());
  std::vector<Json> tasks, results;
  callee.send(Json{{"ft", "REG"}, {"uri", parts({"slow"})}},
              [&](const Json& a) { tasks.push_back(a); });   // never answers its TASK
  callee.start(sc.fn());
  REQUIRE(s.l.run_until([&] { return tasks.size() == 1; }));
  caller.start(st.fn());
  caller.send(Json{{"ft", "CALL"}, {"uri", parts({"slow"})}, {"data", {{"kv", 1}}}},
              [&](const Json& a) { results.push_back(a); });
  REQUIRE(s.l.run_until([&] { return tasks.size() == 2; }));
  CHECK(rsp(tasks[1]) == "TASK");
  s.stop();
  REQUIRE(s.l.run_until([&] { return results.size() == 1 && st.count(State::kFailed) == 1; }));
  CHECK(code(results[0]) == foxp::kConnectionLost);
  CHECK_FALSE(caller.up());
}

TEST_CASE("with reconnect the client logs in again and its TRACE stands again") {
  Server s;
  States st, sp;
  foxp::ClientOptions o = s.options();
  o.reconnect = true;
  o.reconnect_min_ms = 10;
  o.reconnect_max_ms = 50;
  foxp::Client c(&s.l.loop, *s.l.env, o);
  std::vector<Json> answers;
  c.send(Json{{"ft", "TRACE"}, {"uri", parts({"r"})}}, [&](const Json& a) { answers.push_back(a); });
  c.start(st.fn());
  REQUIRE(s.l.run_until([&] { return answers.size() == 1; }));

  s.stop();
  REQUIRE(s.l.run_until([&] { return st.count(State::kDown) >= 1; }));
  // While it is down, a command waits for the next connection.
  std::vector<Json> echo;
  c.send(Json{{"ft", "ECHO"}, {"data", {{"kv", "later"}}}}, [&](const Json& a) { echo.push_back(a); });
  s.start();   // the same port
  REQUIRE(s.l.run_until([&] { return st.count(State::kUp) == 2 && answers.size() == 2 && !echo.empty(); }));
  CHECK(rsp(answers[1]) == "ACK");
  CHECK(rsp(echo[0]) == "OK");
  CHECK(echo[0]["data"] == Json{{"kv", "later"}});
  CHECK(st.count(State::kFailed) == 0);

  foxp::Client pub(&s.l.loop, *s.l.env, s.options());
  pub.send(Json{{"ft", "PUSH"}, {"uri", parts({"r"})}, {"data", {{"kv", 7}}}}, nullptr);
  pub.start(sp.fn());
  REQUIRE(s.l.run_until([&] { return answers.size() == 3; }));
  CHECK(rsp(answers[2]) == "EVENT");
  CHECK(answers[2]["data"] == Json{{"kv", 7}});
}

TEST_CASE("close() writes what is queued, then GOODBYE; done follows") {
  Server s;
  States ss, sp;
  foxp::Client sub(&s.l.loop, *s.l.env, s.options());
  foxp::Client pub(&s.l.loop, *s.l.env, s.options());
  std::vector<Json> events;
  sub.send(Json{{"ft", "TRACE"}, {"uri", parts({"q"})}}, [&](const Json& a) { events.push_back(a); });
  sub.start(ss.fn());
  pub.start(sp.fn());
  REQUIRE(s.l.run_until([&] { return events.size() == 1 && pub.up(); }));
  bool closed = false;
  pub.send(Json{{"ft", "PUSH"}, {"uri", parts({"q"})}, {"data", {{"kv", "last"}}}}, nullptr);
  pub.close([&] { closed = true; });
  REQUIRE(s.l.run_until([&] { return closed && events.size() == 2; }));
  CHECK(events[1]["data"] == Json{{"kv", "last"}});
  CHECK(sp.count(State::kFailed) == 0);   // a close asked for is not a failure
}

TEST_CASE("commands beyond max_pending end at once with the local ERR") {
  Server s;
  foxp::ClientOptions o = s.options();
  o.max_pending = 2;
  foxp::Client c(&s.l.loop, *s.l.env, o);
  std::vector<Json> answers;
  for (int i = 0; i < 3; ++i) {
    c.send(Json{{"ft", "ECHO"}, {"data", i}}, [&](const Json& a) { answers.push_back(a); });
  }
  REQUIRE(s.l.run_until([&] { return answers.size() == 1; }));
  CHECK(code(answers[0]) == foxp::kTooManyPending);
  CHECK(answers[0]["data"]["message"] == "2 commands pending");
  States st;
  c.start(st.fn());
  REQUIRE(s.l.run_until([&] { return answers.size() == 3; }));
  CHECK(rsp(answers[1]) == "OK");
  CHECK(answers[1]["data"] == 0);
  CHECK(answers[2]["data"] == 1);
}

namespace {
// A server that accepts and reads, and never answers.
class Silent final : public net::Handler {
public:
  void on_data(std::string_view) override {}
  void on_close() override {}
};
}  // namespace

TEST_CASE("no answer to LOGIN within the connect timeout is a failure, not a hang") {
  Loop l;
  net::TcpServerOptions so;
  so.bind = "127.0.0.1";
  so.env = l.env.get();
  net::TcpServer silent(&l.loop, so, [](net::TcpConnection&) { return std::make_unique<Silent>(); });
  std::string error;
  REQUIRE(silent.start(&error));
  l.servers.push_back(&silent);
  foxp::ClientOptions o;
  o.port = silent.port();
  o.connect_timeout_ms = 200;
  foxp::Client c(&l.loop, *l.env, o);
  States st;
  std::vector<Json> answers;
  c.send(Json{{"ft", "ECHO"}}, [&](const Json& a) { answers.push_back(a); });
  c.start(st.fn());
  REQUIRE(l.run_until([&] { return !st.seen.empty() && answers.size() == 1; }));
  CHECK(st.seen == std::vector<State>{State::kFailed});
  CHECK(st.why.find("no answer to LOGIN") != std::string::npos);
  CHECK(code(answers[0]) == foxp::kConnectionLost);
  silent.stop();
  l.servers.clear();
  l.drain();
}

TEST_CASE("a handler may destroy the client; after shutdown() no callback runs") {
  Server s;
  States st;
  auto c = std::make_unique<foxp::Client>(&s.l.loop, *s.l.env, s.options());
  int calls = 0;
  // Two answers in one read: the first handler destroys the client, the second never runs.
  c->send(Json{{"ft", "ECHO"}, {"data", 1}}, [&](const Json&) {
    ++calls;
    c.reset();
  });
  c->send(Json{{"ft", "ECHO"}, {"data", 2}}, [&](const Json&) { ++calls; });
  c->start(st.fn());
  REQUIRE(s.l.run_until([&] { return c == nullptr; }));
  CHECK(calls == 1);

  // A local ERR already scheduled when shutdown() comes is not delivered.
  foxp::Client d(&s.l.loop, *s.l.env, s.options("No Such Realm"));
  States sd;
  d.start(sd.fn());
  REQUIRE(s.l.run_until([&] { return !sd.seen.empty(); }));
  bool called = false;
  d.send(Json{{"ft", "ECHO"}}, [&](const Json&) { called = true; });
  d.shutdown();
  bool later = false;   // a few loop turns later
  s.l.env->start_timer(50, [&] { later = true; });
  REQUIRE(s.l.run_until([&] { return later; }));
  CHECK_FALSE(called);
}
