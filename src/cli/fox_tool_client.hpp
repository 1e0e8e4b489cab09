// The client tools' `--fox HOST[:PORT]`: foxp::Client (fox/client.hpp) behind the calls the
// subcommands make of WampClient (publish, subscribe, call, register, yield, error, leave), so
// pub, sub, call and register run one code path over WAMP or FOX. Bodies travel exactly
// (fox::foxp::exact_body: {kv: v} for one argument, {args, kwargs} otherwise); what arrives is
// read as the server maps it ({kv: v} is the one argument v).
#pragma once
#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "cli/wamp_client.hpp"
#include "fox/client.hpp"

namespace fox::cli {

class FoxToolClient {
public:
  using CloseFn = std::function<void(const std::string& why)>;

  FoxToolClient(uv_loop_t* loop, net::UvEnv& timers);
  FoxToolClient(const FoxToolClient&) = delete;
  FoxToolClient& operator=(const FoxToolClient&) = delete;

  // Connects to HOST:PORT and logs in to `realm`: on_joined after LOGIN's OK; a failure or a
  // lost connection goes to on_close (once).
  void connect(const std::string& host, int port, const std::string& realm,
               std::function<void()> on_joined, CloseFn on_close);

  void publish(const std::string& topic, Json args, Json kwargs, Json options,
               WampClient::PublishedFn done);
  void subscribe(const std::string& topic, Json options, WampClient::EventFn on_event,
                 WampClient::SubscribedFn done, WampClient::RevokedFn on_revoked);
  void call(const std::string& procedure, Json args, Json kwargs, Json options,
            WampClient::ResultFn done);
  void register_procedure(const std::string& procedure, Json options,
                          WampClient::InvocationFn on_invocation, WampClient::RegisteredFn done);
  void yield(Id invocation, Json args, Json kwargs);
  void error(Id invocation, const std::string& uri, Json args, Json kwargs);
  void leave(std::function<void()> done);
  void shutdown();

private:
  net::UvEnv& timers_;
  uv_loop_t* loop_;
  std::unique_ptr<foxp::Client> client_;
};

}  // namespace fox::cli
