// In-process fakes for router unit tests: a Peer that records every answer and a RouterEnv with
// a manual clock whose timers fire when the test advances time.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/topic.hpp"
#include "router/router.hpp"

namespace fox::test {

class FakeEnv : public RouterEnv {
public:
  std::uint64_t now_ms() override { return now_; }
  std::uint64_t random64() override {
    if (next_random_ < randoms.size()) return randoms[next_random_++];
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return state_ >> 11;
  }
  TimerId start_timer(std::uint64_t delay_ms, std::function<void()> fn) override {
    TimerId id = ++last_timer_;
    timers_[id] = {now_ + delay_ms, std::move(fn)};
    return id;
  }
  void cancel_timer(TimerId id) override { timers_.erase(id); }

  // Moves the clock forward, firing due timers in due-time order.
  void advance(std::uint64_t ms) {
    const std::uint64_t target = now_ + ms;
    while (true) {
      auto due = timers_.end();
      for (auto it = timers_.begin(); it != timers_.end(); ++it) {
        if (it->second.first <= target && (due == timers_.end() || it->second.first < due->second.first)) {
          due = it;
        }
      }
      if (due == timers_.end()) break;
      now_ = due->second.first;
      auto fn = std::move(due->second.second);
      timers_.erase(due);
      fn();
    }
    now_ = target;
  }
  std::size_t active_timers() const { return timers_.size(); }

  std::vector<std::uint64_t> randoms;  // returned first, then a fixed LCG sequence

private:
  std::uint64_t now_ = 1700000000000ULL;
  std::uint64_t state_ = 42;
  std::size_t next_random_ = 0;
  TimerId last_timer_ = 0;
  std::map<TimerId, std::pair<std::uint64_t, std::function<void()>>> timers_;
};

struct SentError {
  RequestType type;
  Id request;
  Error error;
};

class FakePeer : public Peer {
public:
  void send_published(Id request, Id publication) override {
    log.push_back("published");
    published.emplace_back(request, publication);
  }
  void send_subscribed(Id request, Id subscription) override {
    log.push_back("subscribed");
    subscribed.emplace_back(request, subscription);
  }
  void send_unsubscribed(Id request) override {
    log.push_back("unsubscribed");
    unsubscribed.push_back(request);
  }
  void send_event(const Event& event) override {
    log.push_back("event");
    events.push_back(event);
  }
  void send_subscription_revoked(Id subscription, const std::string& reason) override {
    log.push_back("revoked");
    revoked.emplace_back(subscription, reason);
  }
  void send_registered(Id request, Id registration) override {
    log.push_back("registered");
    registered.emplace_back(request, registration);
  }
  void send_unregistered(Id request) override {
    log.push_back("unregistered");
    unregistered.push_back(request);
  }
  void send_registration_revoked(Id registration, const std::string&) override {
    log.push_back("registration_revoked");
    registrations_revoked.push_back(registration);
  }
  void send_invocation(const Invocation& invocation) override {
    log.push_back("invocation");
    invocations.push_back(invocation);
  }
  void send_interrupt(Id invocation, const std::string& mode) override {
    log.push_back("interrupt");
    interrupts.emplace_back(invocation, mode);
  }
  void send_result(Id call_request, const Result& result) override {
    log.push_back("result");
    results.emplace_back(call_request, result);
  }
  void send_error(RequestType type, Id request, const Error& error) override {
    log.push_back("error");
    errors.push_back({type, request, error});
  }

  // Events of one topic (meta events are ordinary events too).
  std::vector<Event> events_on(const std::string& uri) const {
    std::vector<Event> out;
    for (const auto& e : events) {
      if (e.publication->uri == uri) out.push_back(e);
    }
    return out;
  }
  Id last_subscription() const { return subscribed.empty() ? 0 : subscribed.back().second; }
  Id last_registration() const { return registered.empty() ? 0 : registered.back().second; }

  std::vector<std::string> log;
  std::vector<std::pair<Id, Id>> published, subscribed, registered;
  std::vector<Id> unsubscribed, unregistered, registrations_revoked;
  std::vector<Event> events;
  std::vector<std::pair<Id, std::string>> revoked, interrupts;
  std::vector<Invocation> invocations;
  std::vector<std::pair<Id, Result>> results;
  std::vector<SentError> errors;
};

// A subscription pattern from WAMP text, as the WAMP session reads it: in-band `*`/`#` are
// wildcards for the exact policy only.
inline TopicParts subscription_parts(const std::string& uri, MatchPolicy match) {
  return match == MatchPolicy::kExact ? wamp_pattern_parts(uri) : wamp_topic_parts(uri);
}

// A router with one realm and helpers to join sessions.
struct Fixture {
  FakeEnv env;
  Router router{env};
  Realm* realm = router.realm("realm1", nullptr);

  Id join(FakePeer& peer, std::string authid = "", std::string authrole = "anonymous",
          std::string transport = "websocket") {
    SessionInfo info;
    info.authid = std::move(authid);
    info.authrole = std::move(authrole);
    info.transport = std::move(transport);
    info.serializer = "json";
    return realm->join(peer, info);
  }

  Id subscribe(Id session, FakePeer& peer, const std::string& uri,
               MatchPolicy match = MatchPolicy::kExact) {
    SubscribeOptions options;
    options.match = match;
    realm->subscribe(session, ++request_, subscription_parts(uri, match), options);
    return peer.last_subscription();
  }

  void publish(Id session, const std::string& uri, Json args = nullptr, Json kwargs = nullptr,
               PublishOptions options = {}) {
    Publication pub;
    pub.topic = wamp_pattern_parts(uri);  // a wildcard in it is refused by the router
    pub.uri = uri;
    pub.args = std::move(args);
    pub.kwargs = std::move(kwargs);
    realm->publish(session, ++request_, std::move(pub), options);
  }

  Id register_procedure(Id session, FakePeer& peer, const std::string& uri,
                        RegisterOptions options = {}) {
    std::size_t before = peer.registered.size();
    realm->register_procedure(session, ++request_, split_topic(uri), options);
    return peer.registered.size() > before ? peer.last_registration() : 0;
  }

  // Returns the CALL request id.
  Id call(Id session, const std::string& uri, Json args = nullptr, Json kwargs = nullptr,
          CallOptions options = {}) {
    Id request = ++request_;
    realm->call(session, request, split_topic(uri), std::move(args), std::move(kwargs), options);
    return request;
  }

  Id request_ = 1000;
};

}  // namespace fox::test
