// In-process fakes for router unit tests: a Peer that records every answer and a Env with
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
#include "store/memory_engine.hpp"

namespace fox::test {

class FakeEnv : public Env {
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
  void send_event(const Delivery& event) override {
    log.push_back("event");
    events.push_back(event);
  }
  void send_subscription_revoked(Id subscription, const std::string& reason) override {
    log.push_back("revoked");
    revoked.emplace_back(subscription, reason);
  }
  bool congested() const override { return congested_ || events.size() >= congested_at; }
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
  void kick(const std::string& reason) override {
    log.push_back("kick");
    kicked.push_back(reason);
  }
  std::vector<std::string> kicked;

  // What a session sends for the outcome of a command (SUBSCRIBED or ERROR, ...).
  void answer_subscribe(Id request, const SubscribeOutcome& outcome) {
    if (!outcome.ok()) return send_error(RequestType::kSubscribe, request, outcome.error);
    log.push_back("subscribed");
    subscribed.emplace_back(request, outcome.subscription);
  }
  void answer_unsubscribe(Id request, bool ok) {
    if (!ok) return send_error(RequestType::kUnsubscribe, request, Error{"wamp.error.no_such_subscription"});
    log.push_back("unsubscribed");
    unsubscribed.push_back(request);
  }
  void answer_register(Id request, const RegisterOutcome& outcome) {
    if (!outcome.ok()) return send_error(RequestType::kRegister, request, outcome.error);
    log.push_back("registered");
    registered.emplace_back(request, outcome.registration);
  }
  void answer_unregister(Id request, bool ok) {
    if (!ok) return send_error(RequestType::kUnregister, request, Error{"wamp.error.no_such_registration"});
    log.push_back("unregistered");
    unregistered.push_back(request);
  }

  // Events of one topic (meta events are ordinary events too).
  std::vector<Delivery> events_on(const std::string& uri) const {
    std::vector<Delivery> out;
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
  std::vector<Delivery> events;
  std::vector<std::pair<Id, std::string>> revoked, interrupts;
  std::vector<Invocation> invocations;
  std::vector<std::pair<Id, Result>> results;
  std::vector<SentError> errors;
  bool congested_ = false;
  std::size_t congested_at = SIZE_MAX;   // congested once it holds so many events
};

// A subscription pattern from WAMP text, as the WAMP session reads it: in-band `*`/`#` are
// wildcards for the exact policy only.
inline TopicParts subscription_parts(const std::string& uri, MatchPolicy match) {
  return match == MatchPolicy::kExact ? wamp_pattern_parts(uri) : wamp_topic_parts(uri);
}

// A router with one realm (over the memory engine) and helpers that drive it as a protocol
// session does: answer the outcome of a command, then start the replays or queued calls.
struct Fixture {
  explicit Fixture(std::size_t history = 10000) : engine(history) {}

  FakeEnv env;
  store::MemoryEngine engine;
  Router router{env, engine};
  Realm* realm = router.realm("realm1", nullptr);
  std::map<Id, FakePeer*> peers;

  Id join(FakePeer& peer, std::string authid = "", std::string authrole = "anonymous",
          std::string transport = "websocket") {
    SessionInfo info;
    info.authid = std::move(authid);
    info.authrole = std::move(authrole);
    info.transport = std::move(transport);
    info.serializer = "json";
    info.empty_topic_parts = info.transport.rfind("mqtt", 0) == 0;   // as mqtt/session does
    Id session = realm->join(peer, info);
    peers[session] = &peer;
    return session;
  }

  Id subscribe_with(Id session, const TopicParts& topic, const SubscribeOptions& options) {
    Id request = ++request_;
    SubscribeOutcome outcome = realm->subscribe(session, topic, options);
    peers.at(session)->answer_subscribe(request, outcome);
    if (outcome.ok()) realm->replay(session, outcome);
    return outcome.subscription;
  }

  Id subscribe(Id session, FakePeer&, const std::string& uri, MatchPolicy match = MatchPolicy::kExact) {
    SubscribeOptions options;
    options.match = match;
    return subscribe_with(session, subscription_parts(uri, match), options);
  }

  void unsubscribe(Id session, Id request, Id subscription) {
    peers.at(session)->answer_unsubscribe(request, realm->unsubscribe(session, subscription));
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

  Id register_procedure(Id session, FakePeer&, const std::string& uri, RegisterOptions options = {}) {
    Id request = ++request_;
    RegisterOutcome outcome = realm->register_procedure(session, split_topic(uri), options);
    peers.at(session)->answer_register(request, outcome);
    if (!outcome.ok()) return 0;
    realm->registered(session, outcome.registration);
    return outcome.registration;
  }

  void unregister(Id session, Id request, Id registration) {
    peers.at(session)->answer_unregister(request, realm->unregister(session, registration));
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
