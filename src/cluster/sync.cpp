#include "cluster/sync.hpp"

namespace fox::cluster {

Sync::Sync(std::string name, SyncAgreement& agreement, SyncOutbox& out)
    : name_(std::move(name)), agreement_(agreement), out_(out) {}

bool Sync::on_message(const std::string& from, const Message& message, std::string* error) {
  if (const auto* m = std::get_if<InitEntry>(&message)) {
    if (!entries_.empty() && (from != m->entry || !entries_.count(m->entry))) {
      *error = "INIT_ENTRY for " + m->entry + " from " + from;
      return false;
    }
    out_.reply(from, InitEntryAccepted{name_, m->entry, agreement_.last_segment(m->entry),
                                       agreement_.head()});
    return true;
  }
  if (const auto* m = std::get_if<GenerateDraft>(&message)) {
    if (!entries_.empty() && (!entries_.count(m->owner) || !ndbs_.count(from))) {
      *error = "GENERATE_DRAFT for " + m->owner + " from " + from;
      return false;
    }
    if (m->count == 0 || m->count > 0xffffffffu) {
      *error = "GENERATE_DRAFT with count " + std::to_string(m->count);
      return false;
    }
    const std::string owner = m->owner;
    const std::uint64_t segment = m->segment;
    agreement_.propose(owner, segment, m->count, [this, alive = std::weak_ptr<bool>(alive_), owner,
                                                  segment](const AssignResult& r) {
      if (alive.expired()) return;
      if (r.status != AssignStatus::assigned && r.status != AssignStatus::duplicate) return;
      out_.to_ndbs(ElectSegment{owner, segment, r.range.first, r.range.count});
    });
    return true;
  }
  *error = std::string(message_name(message)) + " is not for a sync node";
  return false;
}

}  // namespace fox::cluster
