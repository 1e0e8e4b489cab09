// Replays a subscription asked for (SPEC §5), as cursors that run in bounded steps:
//   history (`after`)   events with id > after, read from the log up to its durable head; the
//                       subscriber gets no live events meanwhile (muted), and from the step that
//                       reaches the head on the live ones — so none is missed, none comes twice,
//                       and none that a crash could still lose is replayed;
//   wait                with `retained` + `after`: until the retained state includes `after`
//                       (bounded: limits retained_wait_ms, then the retained replay is skipped);
//   retained            the current values, in key order (live events flow meanwhile), once
//                       every retained write so far is durable;
//   done                a `snapshot` subscription is revoked.
// One replay per subscription; retention overtaking a muted history replay revokes the
// subscription (fox.history.overrun) instead of losing live events silently.
// A step reads at most a few pages (engine.hpp kScanRows rows each) and stops as soon as the
// subscriber's peer is congested (its queue over half its limits): Realm::drained() resumes it.
// So a SUBSCRIBE {after: 0} over a million rows costs neither the loop's latency nor memory.
#include <algorithm>

#include "core/log.hpp"
#include "router/kv_value.hpp"
#include "router/realm_impl.hpp"

namespace fox {

namespace {

// Pages one step may read before it yields to the loop (and continues on the next turn).
constexpr int kPagesPerStep = 4;

bool send_replayed(SessionEntry& session, const Subscription& sub, const PublicationPtr& pub,
                   const ReplayRequest& request, bool retained, const auth::RealmPolicy* policy) {
  if (request.has_filter && !value_matches(request.filter, publication_value(*pub))) return false;
  // Only what its role may subscribe to (a pattern may cover topics it may not).
  if (sub.pattern && policy && policy->restricts(session.info.authrole) &&
      !policy->allows_cached(session.info.authrole, pub->topic, pub->uri, auth::kSubscribe)) {
    return false;
  }
  // Replay deliveries are per subscriber (details differ from the shared live Delivery).
  Delivery delivery;
  delivery.subscription = sub.id;
  delivery.publication = pub;
  if (sub.pattern) delivery.details["topic"] = pub->uri;
  if (pub->disclose_publisher && pub->publisher != 0) {
    delivery.details["publisher"] = pub->publisher;
    delivery.details["publisher_authid"] = pub->publisher_authid;
    delivery.details["publisher_authrole"] = pub->publisher_authrole;
  }
  if (retained) delivery.details["retained"] = true;
  delivery.retained_replay = retained;
  delivery.replay = true;
  session.peer->send_event(delivery);
  return true;
}

}  // namespace

void Realm::Impl::start_replay(SessionEntry& session, const Subscription& sub,
                               const ReplayRequest& request) {
  // One replay per subscription: a SUBSCRIBE again restarts it (and the mute is the cursor's).
  drop_replays(session.id, sub.id);
  std::size_t mine = 0;
  for (const auto& [id, c] : cursors) mine += c.session == session.id ? 1 : 0;
  if (mine >= kMaxReplaysPerSession) {
    log::warn("router", "session ", session.id, ": more than ", kMaxReplaysPerSession,
              " replays at once, subscription ", sub.id, " revoked");
    revoke(session.id, sub.id, "fox.replay.limit");
    return;
  }
  const std::uint64_t id = ++next_cursor;
  ReplayCursor& c = cursors[id];
  c.session = session.id;
  c.subscription = sub.id;
  c.request = request;
  c.matcher = std::make_unique<PatternMatcher>(sub.topic, sub.match);
  if (request.has_after) {
    c.phase = ReplayCursor::Phase::kHistory;
    c.history_position = std::min(request.after, kMaxId);
    c.live_from = log.durable_id();
    broker.mute(sub.id, session.id, true);
  } else if (request.retained) {
    c.phase = ReplayCursor::Phase::kRetained;
  }
  run_replay(id);
}

void Realm::Impl::run_replay(std::uint64_t id) {
  auto it = cursors.find(id);
  if (it == cursors.end()) return;
  ReplayCursor& c = it->second;
  if (c.step_timer) {
    env.cancel_timer(c.step_timer);
    c.step_timer = 0;
  }
  SessionEntry* entry = session(c.session);
  const Subscription* sub = broker.find(c.subscription);
  if (!entry || !sub) {
    drop_replays(c.session, c.subscription);
    return;
  }
  for (int pages = 0;; ++pages) {
    if (pages == kPagesPerStep) {
      // A long replay yields to the loop: other clients are served before its next step.
      c.step_timer = env.start_timer(0, [this, id] { run_replay(id); });
      return;
    }
    switch (c.phase) {
      case ReplayCursor::Phase::kHistory: {
        if (entry->peer->congested()) return;   // drained() goes on from here
        if (log.evicted_upto(name) > std::max(c.history_position, c.live_from)) {
          // Retention dropped events published after the SUBSCRIBE before the cursor read them
          // (their live copies were muted): the client would miss them silently. It is told.
          log::warn("router", "session ", c.session, ": history replay of subscription ",
                    c.subscription, " overtaken by retention, subscription revoked");
          const Id session_id = c.session, subscription = c.subscription;
          drop_replays(session_id, subscription);
          revoke(session_id, subscription, "fox.history.overrun");
          return;
        }
        const Id head = log.durable_id();
        if (c.history_position < head) {
          ScanPage<Id> page = log.scan(name, c.history_position, head, *c.matcher);
          for (const PublicationPtr& pub : page.publications) {
            if (entry->peer->congested()) return;   // the rest of the page is read again
            send_replayed(*entry, *sub, pub, c.request, false, broker.policy());
            c.history_position = pub->id;
          }
          c.history_position = page.next;   // rows read without a match move the cursor too
          if (!page.done) break;
        }
        // At the durable head: from here on the subscriber gets the live events.
        broker.mute(c.subscription, c.session, false);
        if (!c.request.retained) {
          c.phase = ReplayCursor::Phase::kDone;
        } else {
          c.phase = ReplayCursor::Phase::kWaitApplied;
        }
        break;
      }
      case ReplayCursor::Phase::kWaitApplied:
        if (last_applied < c.request.after) {
          // The retained state does not include event `after` yet: wait for it (bounded).
          if (!c.wait_timer) {
            c.wait_timer = env.start_timer(router.kv_options().retained_wait_ms, [this, id] {
              auto w = cursors.find(id);
              if (w == cursors.end()) return;
              w->second.wait_timer = 0;
              // The id never came: no retained replay; the subscription stays live.
              w->second.phase = ReplayCursor::Phase::kDone;
              run_replay(id);
            });
          }
          return;
        }
        if (c.wait_timer) {
          env.cancel_timer(c.wait_timer);
          c.wait_timer = 0;
        }
        c.phase = ReplayCursor::Phase::kRetained;
        break;
      case ReplayCursor::Phase::kRetained: {
        if (entry->peer->congested()) return;   // drained() goes on from here
        if (!log.delivers_itself() && last_applied > log.durable_id() &&
            last_retained_write.ticket != c.waited_ticket) {
          // The retained state holds a write that is not committed yet: replayed only once it is
          // (never a value a crash could still lose). Once per write: after a failed commit the
          // state read is what was committed before.
          if (!c.waiting_durable) {
            c.waiting_durable = true;
            const std::uint64_t ticket = last_retained_write.ticket;
            log.on_durable(last_retained_write, [this, id, ticket](const PublicationPtr&, bool) {
              auto w = cursors.find(id);
              if (w == cursors.end()) return;
              w->second.waiting_durable = false;
              w->second.waited_ticket = ticket;
              run_replay(id);
            });
          }
          return;
        }
        ScanPage<std::string> page = retained->scan(*c.matcher, c.retained_position);
        for (const PublicationPtr& pub : page.publications) {
          if (entry->peer->congested()) return;   // the rest of the page is read again
          send_replayed(*entry, *sub, pub, c.request, true, broker.policy());
          c.retained_position = pub->uri;
        }
        c.retained_position = page.next;
        if (page.done) {
          // Then the broker's own figures (publish_system): a few, in memory; like the live
          // ones, not to an MQTT filter starting with a wildcard.
          const bool hidden = sub->options.hide_meta && sub->wildcard_first;
          for (const auto& [uri, pub] : system_retained) {
            if (!hidden && c.matcher->matches(pub->topic)) {
              send_replayed(*entry, *sub, pub, c.request, true, broker.policy());
            }
          }
          c.phase = ReplayCursor::Phase::kDone;
        }
        break;
      }
      case ReplayCursor::Phase::kDone: {
        const bool snapshot = c.request.snapshot;
        const Id session_id = c.session, subscription = c.subscription;
        cursors.erase(it);
        if (snapshot) revoke(session_id, subscription, "fox.snapshot.complete");
        return;
      }
    }
  }
}

void Realm::Impl::resume_replays(Id session_id) {
  std::vector<std::uint64_t> mine;
  for (const auto& [id, c] : cursors) {
    if (c.session == session_id && !c.waiting_durable) mine.push_back(id);
  }
  for (std::uint64_t id : mine) run_replay(id);
}

void Realm::Impl::replays_applied() {
  if (cursors.empty()) return;
  std::vector<std::uint64_t> ready;
  for (const auto& [id, c] : cursors) {
    if (c.phase == ReplayCursor::Phase::kWaitApplied && c.request.after <= last_applied) {
      ready.push_back(id);
    }
  }
  for (std::uint64_t id : ready) run_replay(id);
}

void Realm::Impl::drop_replays(Id session_id, Id subscription) {
  for (auto it = cursors.begin(); it != cursors.end();) {
    ReplayCursor& c = it->second;
    if (c.session != session_id || (subscription != 0 && c.subscription != subscription)) {
      ++it;
      continue;
    }
    if (c.wait_timer) env.cancel_timer(c.wait_timer);
    if (c.step_timer) env.cancel_timer(c.step_timer);
    broker.mute(c.subscription, c.session, false);
    it = cursors.erase(it);
  }
}

}  // namespace fox
