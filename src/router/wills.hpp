// What a session leaves behind (SPEC §5): `will` registrations (the last writer of a key owns
// its will) and WAMP testaments (wamp.session.add_testament). Both are written through to the
// engine's WillStore, so a crash of fox does not lose them. Registries only: publishing them when
// their session leaves is publish.cpp's.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "router/conditions.hpp"
#include "router/engine.hpp"
#include "router/router.hpp"

namespace fox {

struct SessionEntry;

class Wills {
public:
  Wills(WillStore* store, std::string realm) : store_(store), realm_(std::move(realm)) {}

  // The key was written: whoever owned its will does not any more.
  void clear(const std::string& key);
  // `will.owner` now owns the will of `will.key` (after clear()).
  void set(StoredWill will);
  // The wills a leaving session still owns, taken out (also out of the store).
  std::vector<StoredWill> take(Id session);

  // A cluster (wills are taken out when their firing is committed, not when proposed):
  // is the will of `key` still the one registered by event `registration`?
  bool registered(const std::string& key, Id registration) const;
  const StoredWill* find(const std::string& key) const;
  // The wills a session of that node and incarnation owns, left in place.
  std::vector<StoredWill> owned(const std::string& node, std::uint64_t instance, Id session) const;
  // Every will, for a look at which are due.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [key, will] : by_key_) fn(will);
  }

private:
  WillStore* store_;
  std::string realm_;
  std::unordered_map<std::string, StoredWill> by_key_;
  std::unordered_map<Id, std::vector<std::string>> keys_of_;
};

// The publication a will (or a stale will of a previous process) makes: a retained write of its
// value (null deletes), in the name of its owner, QoS 1 for MQTT subscribers.
Pending will_publication(const StoredWill& will);

class Testaments {
public:
  static constexpr std::size_t kMaxPerSession = 100;
  Testaments(WillStore* store, std::string realm) : store_(store), realm_(std::move(realm)) {}

  // wamp.session.add_testament / flush_testaments. False when `uri` is neither; otherwise the
  // caller got RESULT or ERROR.
  bool handle_call(SessionEntry& caller, Id request, const std::string& uri, const Json& args,
                   const Json& kwargs);
  // The testaments of a leaving session, taken out (also out of the store).
  std::vector<Pending> take(Id session);
  // A cluster: each testament is also kept as last words (Realm::keep_last_words), dropped when
  // flushed or published by its own node.
  void keep_as_last_words(std::function<std::uint64_t(Id, const Pending&)> keep,
                          std::function<void(Id, std::uint64_t)> drop) {
    keep_ = std::move(keep);
    drop_ = std::move(drop);
  }

private:
  struct Kept {
    std::string scope;
    Pending pending;
    std::uint64_t token = 0;   // its last words on a cluster
  };
  WillStore* store_;
  std::string realm_;
  std::uint64_t seq_ = 0;
  std::unordered_map<Id, std::vector<Kept>> by_session_;
  std::function<std::uint64_t(Id, const Pending&)> keep_;
  std::function<void(Id, std::uint64_t)> drop_;
};

// The publication a stored testament of a previous process makes (its session is gone: it
// cannot wait or leave a will).
Pending testament_publication(const StoredTestament& testament);

}  // namespace fox
