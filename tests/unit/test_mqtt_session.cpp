// The MQTT broker side driven in-process: fake network connections feed bytes to Connections on a
// real Router (memory engine) with a manual clock (no sockets).
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/connection.hpp"
#include "mqtt/server.hpp"
#include "router_fakes.hpp"
#include "store/memory_engine.hpp"

using namespace fox;
using namespace fox::mqtt;

namespace {

// A client end: the net::Connection the server's Connection writes to; what the server sends is
// decoded as a client would.
class FakeClient : public net::Connection {
public:
  FakeClient(Server& server) : decoder_(kDefaultMaxPacketSize, Direction::kFromServer) {
    decoder_.set_protocol_level(kProtocolLevel311);
    conn = server.accept(*this, "mqtt");
  }
  SendResult send(Frame bytes, SendKind) override {
    if (closed) return SendResult::kOverflow;
    decoder_.feed(*bytes);
    for (;;) {
      auto r = decoder_.next();
      if (auto* p = std::get_if<Packet>(&r)) {
        received.push_back(std::move(*p));
        continue;
      }
      REQUIRE(std::holds_alternative<NeedMore>(r));
      return SendResult::kQueued;
    }
  }
  using net::Connection::send;
  void close(std::string_view) override { closed = true; }
  void abort() override { closed = true; }
  const std::string& peer_address() const override { return peer_; }
  bool congested() override { return false; }
  void established() override {}
  void put(const Packet& p) { conn->on_data(encode(p)); }
  template <typename T> std::vector<T> all() const {
    std::vector<T> out;
    for (const auto& p : received) {
      if (auto* t = std::get_if<T>(&p)) out.push_back(*t);
    }
    return out;
  }
  void end() {  // the network connection goes away
    closed = true;
    conn->on_transport_closed();
  }

  std::unique_ptr<mqtt::Connection> conn;
  std::vector<Packet> received;
  bool closed = false;

private:
  std::string peer_ = "test";
  StreamDecoder decoder_;
};

struct Fixture {
  test::FakeEnv env;
  store::MemoryEngine engine;
  Router router{env, engine};
  std::unique_ptr<Server> broker;
  explicit Fixture(std::uint64_t queue = 10000) {
    ServerOptions o;
    o.session_queue = queue;
    broker = std::make_unique<Server>(router, o);
  }
  std::unique_ptr<FakeClient> connect(const std::string& id, bool clean = true) {
    auto c = std::make_unique<FakeClient>(*broker);
    Connect conn;
    conn.protocol_level = kProtocolLevel311;
    conn.clean_session = clean;
    conn.client_id = id;
    c->put(conn);
    REQUIRE(c->all<Connack>().size() == 1);
    REQUIRE(c->all<Connack>()[0].return_code == kConnackAccepted);
    return c;
  }
  void subscribe(FakeClient& c, const std::string& filter, std::uint8_t qos) {
    Subscribe s;
    s.packet_id = 1;
    s.topics.push_back({filter, qos});
    c.put(s);
  }
  void publish(FakeClient& c, const std::string& topic, std::uint8_t qos, std::uint16_t id = 0,
               const std::string& payload = "x") {
    Publish p;
    p.topic = topic;
    p.payload = payload;
    p.qos = qos;
    p.packet_id = id;
    c.put(p);
  }
};

}  // namespace

TEST_CASE("outbound packet ids wrap from 65535 to 1 and are never 0") {
  Fixture f;
  auto sub = f.connect("sub");
  auto pub = f.connect("pub");
  f.subscribe(*sub, "t", 1);
  std::uint16_t last = 0;
  int wraps = 0;
  for (int i = 0; i < 70000; ++i) {
    f.publish(*pub, "t", 1, static_cast<std::uint16_t>(i % 65535 + 1));
    auto got = sub->all<Publish>();
    REQUIRE(got.size() == 1);
    std::uint16_t id = got[0].packet_id;
    CHECK(id != 0);
    if (id < last) ++wraps;
    last = id;
    sub->received.clear();
    sub->put(Puback{id});
  }
  CHECK(wraps == 1);
}

TEST_CASE("an id still in flight is skipped when the counter wraps onto it") {
  Fixture f;
  auto sub = f.connect("sub");
  auto pub = f.connect("pub");
  f.subscribe(*sub, "t", 1);
  f.publish(*pub, "t", 1, 1);  // gets packet id 1, never acknowledged
  std::uint16_t first = sub->all<Publish>()[0].packet_id;
  CHECK(first == 1);
  sub->received.clear();
  for (int i = 0; i < 65536; ++i) {
    f.publish(*pub, "t", 1, 2);
    auto got = sub->all<Publish>();
    REQUIRE(got.size() == 1);
    REQUIRE(got[0].packet_id != first);
    sub->put(Puback{got[0].packet_id});
    sub->received.clear();
  }
}

TEST_CASE("a full offline queue drops the oldest message and counts it") {
  Fixture f(3);
  auto sub = f.connect("keeper", /*clean=*/false);
  f.subscribe(*sub, "q", 1);
  sub->end();
  auto pub = f.connect("pub");
  for (int i = 1; i <= 5; ++i) f.publish(*pub, "q", 1, static_cast<std::uint16_t>(i), std::to_string(i));
  CHECK(f.broker->dropped_total() == 2);
  auto back = f.connect("keeper", /*clean=*/false);
  CHECK(back->all<Connack>()[0].session_present);
  std::vector<std::string> payloads;
  for (const auto& p : back->all<Publish>()) payloads.push_back(p.payload);
  CHECK(payloads == std::vector<std::string>{"3", "4", "5"});
}

TEST_CASE("overlapping subscriptions deliver once at the highest granted QoS") {
  Fixture f;
  auto sub = f.connect("sub");
  auto pub = f.connect("pub");
  f.subscribe(*sub, "a/#", 0);
  f.subscribe(*sub, "a/+", 2);
  f.publish(*pub, "a/b", 2, 7);
  auto got = sub->all<Publish>();
  REQUIRE(got.size() == 1);
  CHECK(got[0].qos == 2);
}

TEST_CASE("unacknowledged messages are sent again with DUP after a reconnect") {
  Fixture f;
  auto sub = f.connect("dup", /*clean=*/false);
  auto pub = f.connect("pub");
  f.subscribe(*sub, "d", 1);
  f.publish(*pub, "d", 1, 1, "payload");
  REQUIRE(sub->all<Publish>().size() == 1);
  CHECK_FALSE(sub->all<Publish>()[0].dup);
  std::uint16_t id = sub->all<Publish>()[0].packet_id;
  sub->end();
  auto again = f.connect("dup", /*clean=*/false);
  auto got = again->all<Publish>();
  REQUIRE(got.size() == 1);
  CHECK(got[0].dup);
  CHECK(got[0].packet_id == id);
  CHECK(got[0].payload == "payload");
}

TEST_CASE("keep-alive closes a silent connection after one and a half intervals") {
  Fixture f;
  auto c = std::make_unique<FakeClient>(*f.broker);
  Connect conn;
  conn.protocol_level = kProtocolLevel311;
  conn.client_id = "ka";
  conn.keep_alive = 10;
  c->put(conn);
  f.env.advance(14000);
  CHECK_FALSE(c->closed);
  f.env.advance(1001);
  CHECK(c->closed);
}

TEST_CASE("a packet before CONNECT closes the connection") {
  Fixture f;
  FakeClient c(*f.broker);
  c.put(Pingreq{});
  CHECK(c.closed);
  CHECK(c.received.empty());
}
