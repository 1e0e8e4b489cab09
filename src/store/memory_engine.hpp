// The memory engine (`fox serve --memory`, and the router's unit tests): event ids from a
// counter, history as a bounded ring per realm (what `after` replays), retained values in a map,
// nothing kept across restarts. Everything is durable at once.
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/engine.hpp"

namespace fox::store {

class MemoryEngine final : public Engine, public EventLog {
public:
  // `history_per_realm` publications are kept for `after` replay (the oldest dropped); 0 = none.
  explicit MemoryEngine(std::size_t history_per_realm = 10000) : capacity_(history_per_realm) {}

  // Engine
  EventLog& log() override { return *this; }
  std::unique_ptr<RetainedState> retained(const std::string& realm) override;
  WillStore* wills() override { return nullptr; }

  // EventLog
  Appended append(const std::string& realm, Publication&& publication) override;
  void on_durable(const Appended& appended, DurableFn fn) override { fn(appended.publication, true); }
  bool durable_at_once() const override { return true; }
  void forget_durable_callbacks() override {}
  Id evicted_upto(const std::string& realm) const override;
  Id durable_id() const override { return last_; }
  ScanPage<Id> scan(const std::string& realm, Id after, Id upto, PatternMatcher& pattern) override;

  std::size_t history_size(const std::string& realm) const;
  // A publication whose id was decided elsewhere (a cluster), above every id so far (anything
  // else is ignored): kept for replay, and durable_id() moves to it.
  void record(const std::string& realm, PublicationPtr publication);

private:
  // A ring that never allocates once full (every publication is appended).
  struct Ring {
    std::vector<PublicationPtr> items;
    std::size_t head = 0;   // index of the oldest entry once the ring is full
    Id evicted = 0;         // the highest id overwritten
    const PublicationPtr& at(std::size_t i) const { return items[(head + i) % items.size()]; }
  };
  void keep(const std::string& realm, PublicationPtr publication);

  std::size_t capacity_;
  std::unordered_map<std::string, Ring> rings_;
  Id last_ = 0;
};

}  // namespace fox::store
