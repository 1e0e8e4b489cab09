// The sync role (SPEC §9, the seed's sync stage): it accepts entries (INIT_ENTRY →
// INIT_ENTRY_ACCEPTED with the entry's last segment that has ids) and turns a segment an ndb
// drafts (GENERATE_DRAFT) into its permanent range, the same for every ndb whatever it hears,
// through the sync group's agreement (raft over SyncState, sync_fsm.hpp), then tells every ndb
// (ELECT_SEGMENT). The agreement is an interface: RaftSyncFsm in a node, a model in tests.
#pragma once
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/messages.hpp"
#include "cluster/sync_fsm.hpp"

namespace fox::cluster {

// The sync group's agreement as one sync node sees it.
class SyncAgreement {
public:
  virtual ~SyncAgreement() = default;
  // Proposes (owner, segment, count); `done` gets the agreed answer (a new range, or the one
  // given before), or nothing when this node cannot get one now (not the leader, no quorum):
  // the ndb drafts again after its timeout.
  virtual void propose(const std::string& owner, std::uint64_t segment, std::uint64_t count,
                       std::function<void(const AssignResult&)> done) = 0;
  // The owner's highest segment that has a range (0: none), as this node knows it.
  virtual std::uint64_t last_segment(const std::string& owner) const = 0;
  // The highest id given out, as this node knows it (0: none).
  virtual Id head() const = 0;
};

class SyncOutbox {
public:
  virtual ~SyncOutbox() = default;
  virtual void to_ndbs(const Message& message) = 0;
  virtual void reply(const std::string& node, const Message& message) = 0;
};

class Sync {
public:
  Sync(std::string name, SyncAgreement& agreement, SyncOutbox& out);
  // The entries and ndbs of the cluster file: INIT_ENTRY only from an entry for itself,
  // GENERATE_DRAFT only from an ndb for an entry (the agreement's owners are bounded). Empty: any.
  void accept_only(std::set<std::string> entries, std::set<std::string> ndbs) {
    entries_ = std::move(entries);
    ndbs_ = std::move(ndbs);
  }
  bool on_message(const std::string& from, const Message& message, std::string* error);

private:
  std::string name_;
  SyncAgreement& agreement_;
  SyncOutbox& out_;
  std::set<std::string> entries_, ndbs_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);   // answers after the end: dropped
};

}  // namespace fox::cluster
