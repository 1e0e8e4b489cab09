// A WAMP v2 client (JSON serializer) over WebSocket, on the caller's libuv loop, through
// net::WsClient (net/ws_client.hpp: the connection, its queue, whole messages). Roles: publisher,
// subscriber, caller, callee. Plain ws:// only (no TLS).
//
// Every callback runs on the loop thread; nothing is thrown out of the loop. A connection
// failure, ABORT, or a close the client did not ask for is reported once through the CloseFn.
#pragma once
#include <uv.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cli/client_common.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "net/client.hpp"
#include "wamp/message.hpp"

namespace fox::net {
class WsClient;
}

namespace fox::cli {

struct WampError {
  std::string uri;
  Json args = nullptr;
  Json kwargs = nullptr;
  // "uri: message" (the message is args[0] when it is a string, else the args as JSON).
  std::string text() const;
};

class WampClient {
public:
  using WelcomeFn = std::function<void(Id session)>;
  using CloseFn = std::function<void(const std::string& why)>;
  using PublishedFn = std::function<void(Id publication, const WampError* error)>;
  using SubscribedFn = std::function<void(Id subscription, const WampError* error)>;
  using EventFn = std::function<void(const wamp::Event& event)>;
  using RevokedFn = std::function<void(const Json& details)>;
  using ResultFn = std::function<void(const wamp::Result* result, const WampError* error)>;
  using RegisteredFn = std::function<void(Id registration, const WampError* error)>;
  // Answer every invocation with yield() or error(), now or later.
  using InvocationFn = std::function<void(const wamp::Invocation& invocation)>;

  WampClient(uv_loop_t* loop, net::UvEnv& timers);
  ~WampClient();
  WampClient(const WampClient&) = delete;
  WampClient& operator=(const WampClient&) = delete;

  // Opens the WebSocket (subprotocol wamp.2.json) and joins `realm` (HELLO is queued at once and
  // goes out first). False (with *error) only when libwebsockets cannot even start; later
  // failures go to on_close.
  bool connect(const WsUrl& url, const std::string& realm, WelcomeFn on_welcome, CloseFn on_close,
               std::string* error);
  bool joined() const { return joined_; }

  // `done` gets PUBLISHED/ERROR when options.acknowledge is true (otherwise it is never called).
  void publish(const std::string& topic, Json args, Json kwargs, Json options, PublishedFn done);
  void subscribe(const std::string& topic, Json options, EventFn on_event, SubscribedFn done,
                 RevokedFn on_revoked);
  void call(const std::string& procedure, Json args, Json kwargs, Json options, ResultFn done);
  void register_procedure(const std::string& procedure, Json options, InvocationFn on_invocation,
                          RegisteredFn done);
  void yield(Id invocation, Json args, Json kwargs);
  void error(Id invocation, const std::string& uri, Json args, Json kwargs);

  // GOODBYE, wait for the router's GOODBYE (at most 2 s), close the WebSocket, then done().
  // Safe in any state (not connected: done() at once).
  void leave(std::function<void()> done);
  // Aborts the connection (net::WsClient then tears its lws context down on the next loop
  // turns); no callback runs afterwards.
  void shutdown();

private:
  using Link = net::ClientLink<WampClient>;   // the connection's handler
  Id next_request() { return ++request_; }
  void send(const wamp::Message& message);
  void on_message(std::string_view text);
  void on_connection_closed(std::optional<net::ClientFailure> failure);
  void fail(const std::string& why);
  void close_socket();
  void finish_leave();

  struct Subscription {
    EventFn on_event;
    RevokedFn on_revoked;
  };
  struct PendingSubscribe {
    Subscription sub;
    SubscribedFn done;
  };
  struct PendingRegister {
    InvocationFn on_invocation;
    RegisteredFn done;
  };

  uv_loop_t* loop_;
  net::UvEnv& timers_;
  net::WsClient* conn_ = nullptr;   // valid until Link::on_close
  Link* link_ = nullptr;            // owned by conn_
  std::string realm_;
  WsUrl url_;
  WelcomeFn on_welcome_;
  CloseFn on_close_;
  bool joined_ = false;
  bool failed_ = false;
  bool closing_ = false;    // a WebSocket close is queued
  bool leaving_ = false;
  bool shut_down_ = false;
  std::function<void()> leave_done_;
  Env::TimerId connect_timer_ = 0;
  Env::TimerId leave_timer_ = 0;
  Id request_ = 0;
  std::map<Id, PublishedFn> publishing_;
  std::map<Id, PendingSubscribe> subscribing_;
  std::map<Id, Subscription> subscriptions_;
  std::map<Id, ResultFn> calling_;
  std::map<Id, PendingRegister> registering_;
  std::map<Id, InvocationFn> registrations_;
};

}  // namespace fox::cli
