// net/tcp_client and net/ws_client against the real servers (TcpServer, WsServer) on 127.0.0.1,
// all on one libuv loop.
#include <doctest/doctest.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/tcp_client.hpp"
#include "net/tcp_server.hpp"
#include "net/uv_env.hpp"
#include "net/ws_client.hpp"
#include "net/ws_server.hpp"
#include "uv_loop.hpp"

using namespace fox;
using Kind = net::ClientFailure::Kind;
using fox::testing::Loop;

namespace {

// What a client handler saw (the handler itself is gone after on_close).
struct Seen {
  std::vector<std::string> messages;
  std::string bytes;
  int connected = 0;
  int closed = 0;
  std::optional<net::ClientFailure> failure;
};

class Recorder final : public net::ClientHandler {
public:
  explicit Recorder(Seen* seen) : seen_(seen) {}
  void on_connected() override { ++seen_->connected; }
  void on_data(std::string_view bytes) override {
    seen_->bytes.append(bytes);
    seen_->messages.emplace_back(bytes);
  }
  void on_failure(const net::ClientFailure& failure) override { seen_->failure = failure; }
  void on_close() override { ++seen_->closed; }

private:
  Seen* seen_;
};

// Server side: echoes what comes (or closes at once), counts reads and closes.
struct ServerSide {
  int reads = 0;
  int closed = 0;
  bool close_on_data = false;
};

class Echo final : public net::Handler {
public:
  Echo(net::Connection& conn, ServerSide* side) : conn_(conn), side_(side) {}
  void on_data(std::string_view bytes) override {
    ++side_->reads;
    if (side_->close_on_data) {
      conn_.close();
      return;
    }
    conn_.send(std::string(bytes));
  }
  void on_close() override { ++side_->closed; }

private:
  net::Connection& conn_;
  ServerSide* side_;
};

struct TcpFixture {
  Loop l;
  ServerSide side;
  std::unique_ptr<net::TcpServer> server;

  TcpFixture() {
    net::TcpServerOptions o;
    o.name = "test";
    o.bind = "127.0.0.1";
    o.env = l.env.get();
    server = std::make_unique<net::TcpServer>(&l.loop, o, [this](net::TcpConnection& c) {
      return std::make_unique<Echo>(c, &side);
    });
    std::string error;
    REQUIRE(server->start(&error));
    l.servers.push_back(server.get());
  }
  ~TcpFixture() {
    server->stop();
    l.drain();
  }
  net::TcpClient* connect(Seen* seen, int port = 0) {
    net::TcpClientOptions o;
    o.host = "127.0.0.1";
    o.port = port ? port : server->port();
    o.env = l.env.get();
    return net::TcpClient::connect(&l.loop, o, std::make_unique<Recorder>(seen));
  }
};

// A port on 127.0.0.1 nobody listens on (bound, then closed again).
int free_port(uv_loop_t* loop) {
  uv_tcp_t t;
  uv_tcp_init(loop, &t);
  sockaddr_in a{};
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&t, reinterpret_cast<const sockaddr*>(&a), 0);
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&t, reinterpret_cast<sockaddr*>(&bound), &len);
  uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

}  // namespace

TEST_CASE("a TCP client sends before it is up, in one write, and gets the server's echo") {
  TcpFixture f;
  Seen seen;
  net::TcpClient* c = f.connect(&seen);
  c->send("one");
  c->send("two");
  c->send("three");
  CHECK_FALSE(c->connected());
  REQUIRE(f.l.run_until([&] { return seen.bytes == "onetwothree"; }));
  CHECK(seen.connected == 1);
  // Queued in one turn, the three frames left in one write: the server read them at once.
  CHECK(f.side.reads == 1);
  c->close();
  REQUIRE(f.l.run_until([&] { return seen.closed == 1 && f.side.closed == 1; }));
  CHECK_FALSE(seen.failure);
}

TEST_CASE("a TCP client whose server closes the connection is told kPeerClosed") {
  TcpFixture f;
  f.side.close_on_data = true;
  Seen seen;
  net::TcpClient* c = f.connect(&seen);
  c->send("bye");
  REQUIRE(f.l.run_until([&] { return seen.closed == 1; }));
  REQUIRE(seen.failure);
  CHECK(seen.failure->kind == Kind::kPeerClosed);
}

TEST_CASE("a TCP client to a port nobody listens on fails with kConnect, after connect()") {
  TcpFixture f;
  Seen seen;
  net::TcpClient* c = f.connect(&seen, free_port(&f.l.loop));
  c->send("lost");
  CHECK(seen.closed == 0);   // never from inside connect()
  REQUIRE(f.l.run_until([&] { return seen.closed == 1; }));
  REQUIRE(seen.failure);
  CHECK(seen.failure->kind == Kind::kConnect);
  CHECK(seen.connected == 0);
}

TEST_CASE("a TCP client aborted while connecting ends without a failure") {
  TcpFixture f;
  Seen seen;
  net::TcpClient* c = f.connect(&seen);
  c->abort();
  REQUIRE(f.l.run_until([&] { return seen.closed == 1; }));
  CHECK_FALSE(seen.failure);
  CHECK(seen.connected == 0);
}

namespace {
struct WsFixture {
  Loop l;
  ServerSide side;
  std::unique_ptr<net::WsServer> server;

  WsFixture() {
    net::WsServerOptions o;
    o.bind = "127.0.0.1";
    o.port = free_port(&l.loop);
    o.env = l.env.get();
    server = std::make_unique<net::WsServer>(&l.loop, o);
    server->add_endpoint({"/echo", {"echo.test"}, [this](net::WsConnection& c) {
                            c.set_binary(false);
                            return std::make_unique<Echo>(c, &side);
                          }});
    std::string error;
    REQUIRE(server->start(&error));
  }
  ~WsFixture() {
    server->stop();
    l.drain();
  }
  net::WsClient* connect(Seen* seen, int port = 0) {
    net::WsClientOptions o;
    o.host = "127.0.0.1";
    o.port = port ? port : server->port();
    o.path = "/echo";
    o.subprotocol = "echo.test";
    o.env = l.env.get();
    std::string error;
    net::WsClient* c = net::WsClient::connect(&l.loop, o, std::make_unique<Recorder>(seen), &error);
    REQUIRE(c);
    return c;
  }
};
}  // namespace

TEST_CASE("a WebSocket client exchanges whole messages with a WsServer endpoint") {
  WsFixture f;
  Seen seen;
  net::WsClient* c = f.connect(&seen);
  // Sent before the upgrade; the big one arrives in many pieces and is reassembled on both ends.
  const std::string big(300 * 1024, 'x');
  c->send("hello");
  c->send(big);
  REQUIRE(f.l.run_until([&] { return seen.messages.size() == 2; }));
  CHECK(seen.connected == 1);
  CHECK(seen.messages[0] == "hello");
  CHECK(seen.messages[1] == big);
  c->close();
  REQUIRE(f.l.run_until([&] { return seen.closed == 1 && f.side.closed == 1; }));
  CHECK_FALSE(seen.failure);
}

TEST_CASE("a WebSocket client whose server closes the connection is told kPeerClosed") {
  WsFixture f;
  f.side.close_on_data = true;
  Seen seen;
  net::WsClient* c = f.connect(&seen);
  c->send("bye");
  REQUIRE(f.l.run_until([&] { return seen.closed == 1; }));
  REQUIRE(seen.failure);
  CHECK(seen.failure->kind == Kind::kPeerClosed);
}

TEST_CASE("a WebSocket client to a port nobody listens on fails with kConnect") {
  WsFixture f;
  Seen seen;
  f.connect(&seen, free_port(&f.l.loop));
  CHECK(seen.closed == 0);   // never from inside connect()
  REQUIRE(f.l.run_until([&] { return seen.closed == 1; }));
  REQUIRE(seen.failure);
  CHECK(seen.failure->kind == Kind::kConnect);
  CHECK(seen.connected == 0);
}

TEST_CASE("a WebSocket client aborted while connecting ends without a failure") {
  WsFixture f;
  Seen seen;
  net::WsClient* c = f.connect(&seen);
  c->send("never");
  c->abort();
  REQUIRE(f.l.run_until([&] { return seen.closed == 1; }));
  CHECK_FALSE(seen.failure);
  CHECK(seen.connected == 0);
}
