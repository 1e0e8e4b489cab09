// RPC across the entry nodes of a cluster (SPEC §9, router.hpp: Router::set_remote). Each node
// announces each realm's registrations that have callees of its own as a whole table
// (RPC_REGS); every other node keeps one proxy session per node (RemoteNode, realm_impl.hpp)
// that is the callee of those registrations in its dealer, so the dealer's policies, queues,
// timeouts and cancels work unchanged. A call the dealer gives to a proxy travels to that node
// (RPC_CALL), which runs it as a forwarded call (its local callees only) with the proxy of the
// caller's node as caller; results (also progressive), errors and interrupts travel back
// (RPC_RESULT, RPC_ERROR, RPC_INTERRUPT). Every message carries the realm and the sender's
// incarnation: a message of a new incarnation ends everything of the old one first.
//
// Two nodes that register the same procedure with `single` (or with different policies) at once
// both see the conflict; the registration registered first (wall clock of its node, then the
// node's name) stays on every node, the other node's callees are told UNREGISTERED.
#include <algorithm>
#include <tuple>

#include "core/log.hpp"
#include "core/topic.hpp"
#include "router/realm_impl.hpp"

namespace fox {

namespace {

constexpr const char* kRegs = "RPC_REGS";
constexpr const char* kCall = "RPC_CALL";
constexpr const char* kResult = "RPC_RESULT";
constexpr const char* kError = "RPC_ERROR";
constexpr const char* kInterrupt = "RPC_INTERRUPT";

bool get_u64(const Json& m, const char* key, std::uint64_t* out) {
  auto it = m.find(key);
  if (it == m.end() || !it->is_number_unsigned()) return false;
  *out = it->get<std::uint64_t>();
  return true;
}

bool get_string(const Json& m, const char* key, std::string* out) {
  auto it = m.find(key);
  if (it == m.end() || !it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

bool get_bool(const Json& m, const char* key) {
  auto it = m.find(key);
  return it != m.end() && it->is_boolean() && it->get<bool>();
}

bool get_parts(const Json& value, TopicParts* out) {
  if (!value.is_array() || value.empty()) return false;
  out->clear();
  for (const Json& part : value) {
    if (!part.is_string()) return false;
    out->push_back(part.get<std::string>());
  }
  return true;
}

// args / kwargs: absent or null is null; otherwise an array / an object.
bool get_payload(const Json& m, Json* args, Json* kwargs) {
  auto a = m.find("args");
  auto k = m.find("kwargs");
  *args = a == m.end() ? Json(nullptr) : *a;
  *kwargs = k == m.end() ? Json(nullptr) : *k;
  return (args->is_null() || args->is_array()) && (kwargs->is_null() || kwargs->is_object());
}

bool get_match(std::uint64_t n, MatchPolicy* out) {
  if (n > static_cast<std::uint64_t>(MatchPolicy::kWildcard)) return false;
  *out = static_cast<MatchPolicy>(n);
  return true;
}

bool get_invoke(std::uint64_t n, InvokePolicy* out) {
  if (n > static_cast<std::uint64_t>(InvokePolicy::kLast)) return false;
  *out = static_cast<InvokePolicy>(n);
  return true;
}

// One entry of a table: [procedure parts, match, invoke, at].
struct TableEntry {
  TopicParts procedure;
  std::string uri;
  MatchPolicy match = MatchPolicy::kExact;
  InvokePolicy invoke = InvokePolicy::kSingle;
  std::uint64_t at = 0;
};

bool parse_table(const Json& table, std::vector<TableEntry>* out) {
  if (!table.is_array()) return false;
  for (const Json& row : table) {
    TableEntry e;
    if (!row.is_array() || row.size() != 4 || !get_parts(row[0], &e.procedure) ||
        !row[1].is_number_unsigned() || !get_match(row[1].get<std::uint64_t>(), &e.match) ||
        !row[2].is_number_unsigned() || !get_invoke(row[2].get<std::uint64_t>(), &e.invoke) ||
        !row[3].is_number_unsigned()) {
      return false;
    }
    e.at = row[3].get<std::uint64_t>();
    e.uri = wamp_uri(e.procedure);
    out->push_back(std::move(e));
  }
  return true;
}

}  // namespace

// --- what the dealer sends to another node's proxy --------------------------------------------

void RemoteNode::send(Json message) {
  RemoteLinks* links = realm->router.remote_links();
  if (!links) return;
  message["realm"] = realm->name;
  message["i"] = realm->router.remote_instance();
  links->send(node, std::move(message));
}

void RemoteNode::send_invocation(const Invocation& invocation) {
  const Registration* reg = realm->dealer.find(invocation.registration);
  if (!reg) return;
  const Json& details = invocation.details;
  auto procedure = details.find("procedure");
  Json m = {{"ft", kCall},
            {"call", invocation.request},
            {"reg", Json::array()},
            {"match", static_cast<std::uint64_t>(reg->match)},
            {"caller", details.value("caller", Json::object())}};
  for (const std::string& part : reg->procedure) m["reg"].push_back(part);
  if (procedure != details.end() && procedure->is_string()) {
    m["procedure"] = Json::array();
    for (const std::string& part : wamp_topic_parts(procedure->get<std::string>())) {
      m["procedure"].push_back(part);
    }
  }
  if (get_bool(details, "receive_progress")) m["progress"] = true;
  if (get_bool(details, "disclose_me")) m["disclose_me"] = true;
  if (!invocation.args.is_null()) m["args"] = invocation.args;
  if (!invocation.kwargs.is_null()) m["kwargs"] = invocation.kwargs;
  send(std::move(m));
}

void RemoteNode::send_interrupt(Id invocation, const std::string& mode) {
  send(Json{{"ft", kInterrupt}, {"call", invocation}, {"mode", mode}});
}

void RemoteNode::send_result(Id call_request, const Result& result) {
  Json m = {{"ft", kResult}, {"call", call_request}};
  if (result.details.is_object() && get_bool(result.details, "progress")) m["progress"] = true;
  if (!result.args.is_null()) m["args"] = result.args;
  if (!result.kwargs.is_null()) m["kwargs"] = result.kwargs;
  send(std::move(m));
}

void RemoteNode::send_error(RequestType type, Id request, const Error& error) {
  if (type != RequestType::kCall) return;
  Json m = {{"ft", kError}, {"call", request}, {"error", error.uri}};
  if (!error.args.is_null()) m["args"] = error.args;
  if (!error.kwargs.is_null()) m["kwargs"] = error.kwargs;
  send(std::move(m));
}

// --- the realm's side --------------------------------------------------------------------------

RemoteNode& Realm::Impl::remote(const std::string& node, std::uint64_t instance) {
  auto it = remotes.find(node);
  if (it != remotes.end() && it->second->instance != instance) {
    log::info("cluster", "realm ", name, ": ", node, " is a new incarnation: its old "
              "registrations and calls end");
    remote_lost(node);
    it = remotes.end();
  }
  if (it != remotes.end()) return *it->second;
  auto proxy = std::make_unique<RemoteNode>();
  proxy->realm = this;
  proxy->node = node;
  proxy->instance = instance;
  // Above every session id (1..2^53): never one a client sees or a session has.
  proxy->entry.id = ++next_proxy;
  proxy->entry.peer = proxy.get();
  proxy->entry.info.authid = "node:" + node;
  proxy->entry.info.authrole = "cluster";
  proxy->entry.info.transport = "cluster";
  return *remotes.emplace(node, std::move(proxy)).first->second;
}

void Realm::Impl::remote_lost(const std::string& node) {
  auto it = remotes.find(node);
  if (it == remotes.end()) return;
  // The proxy stays alive while the dealer ends what points at it.
  std::unique_ptr<RemoteNode> proxy = std::move(it->second);
  remotes.erase(it);
  dealer.remove_session(proxy->entry.id);
}

Json Realm::Impl::local_table() const {
  Json table = Json::array();
  for (const Registration* reg : dealer.all()) {
    std::uint64_t at = 0;
    bool local = false;
    for (const Callee& c : reg->callees) {
      if (c.remote) continue;
      at = local ? std::min(at, c.at) : c.at;
      local = true;
    }
    if (!local) continue;
    Json parts = Json::array();
    for (const std::string& part : reg->procedure) parts.push_back(part);
    table.push_back(Json::array({std::move(parts), static_cast<std::uint64_t>(reg->match),
                                 static_cast<std::uint64_t>(reg->invoke), at}));
  }
  return table;
}

void Realm::Impl::evict(Id registration, const std::string& winner) {
  const Registration* reg = dealer.find(registration);
  if (!reg) return;
  std::vector<SessionEntry*> callees;
  for (const Callee& c : reg->callees) callees.push_back(c.session);
  const std::string reason = "registered first on node " + winner;
  for (SessionEntry* session : callees) {
    const bool local = sessions.count(session->id) != 0;
    Dealer::Removal removal;
    if (!dealer.unregister(session->id, registration, &removal)) continue;
    if (!local) continue;
    log::info("cluster", "realm ", name, ": session ", session->id, " loses its registration ",
              registration, " (", reason, ")");
    session->peer->send_registration_revoked(registration, reason);
    registration_removed(session->id, removal);
  }
}

bool Realm::Impl::remote_table(RemoteNode& proxy, const Json& table_json) {
  std::vector<TableEntry> table;
  if (!parse_table(table_json, &table)) return false;
  // What the node no longer has (or has with another policy) goes first.
  for (const Registration* reg : dealer.all()) {
    auto mine = std::find_if(reg->callees.begin(), reg->callees.end(),
                             [&](const Callee& c) { return c.session == &proxy.entry; });
    if (mine == reg->callees.end()) continue;
    const bool kept = std::any_of(table.begin(), table.end(), [&](const TableEntry& e) {
      return e.uri == reg->uri && e.match == reg->match && e.invoke == reg->invoke;
    });
    if (!kept) dealer.unregister(proxy.entry.id, reg->id, nullptr);
  }
  const std::string& self = router.remote_node();
  for (const TableEntry& e : table) {
    const Registration* reg = dealer.find(e.uri, e.match);
    if (reg && std::any_of(reg->callees.begin(), reg->callees.end(),
                           [&](const Callee& c) { return c.session == &proxy.entry; })) {
      continue;
    }
    RegisterOptions options;
    options.match = e.match;
    options.invoke = e.invoke;
    Error error;
    Id id = dealer.register_procedure(proxy.entry, e.procedure, options, nullptr, &error, true, e.at);
    if (id == 0 && reg) {
      // `single`, or another policy: the registration made first stays, everywhere.
      auto owner = [&](const Callee& c) -> const std::string& {
        for (const auto& [node, other] : remotes) {
          if (&other->entry == c.session) return node;
        }
        return self;
      };
      const Callee* oldest = nullptr;
      for (const Callee& c : reg->callees) {
        if (!oldest || std::tie(c.at, owner(c)) < std::tie(oldest->at, owner(*oldest))) oldest = &c;
      }
      if (oldest && std::tie(oldest->at, owner(*oldest)) < std::tie(e.at, proxy.node)) {
        log::debug("cluster", "realm ", name, ": ", proxy.node, "'s ", e.uri,
                   " conflicts with an older registration: ignored");
        continue;
      }
      evict(reg->id, proxy.node);
      id = dealer.register_procedure(proxy.entry, e.procedure, options, nullptr, &error, true, e.at);
    }
    if (id != 0) dealer.dispatch_queued(id);
  }
  return true;
}

// --- the router's side -------------------------------------------------------------------------

void Router::set_remote(RemoteLinks* links, std::string node, std::uint64_t instance) {
  remote_ = links;
  remote_node_ = std::move(node);
  remote_instance_ = instance;
}

bool Router::on_remote(const std::string& from, const Json& m, std::string* error) {
  std::string ft, realm_name;
  std::uint64_t instance = 0;
  if (!m.is_object() || !get_string(m, "ft", &ft) || !get_string(m, "realm", &realm_name) ||
      !get_u64(m, "i", &instance)) {
    *error = "needs ft, realm and i";
    return false;
  }
  Realm* realm = nullptr;
  if (auto it = realms_.find(realm_name); it != realms_.end()) realm = it->second.get();
  if (!realm && ft == kRegs) {
    auto table = m.find("regs");
    if (table == m.end() || !table->is_array()) {
      *error = "RPC_REGS needs regs";
      return false;
    }
    if (table->empty()) return true;
    Error refused;
    realm = this->realm(realm_name, &refused);
    if (!realm) {
      *error = "realm " + realm_name + ": " + refused.uri;
      return false;
    }
  }
  if (!realm) {
    if (ft == kCall) {
      // The caller's node thought a callee was here: nothing is registered in this realm.
      std::uint64_t call = 0;
      if (remote_ && get_u64(m, "call", &call)) {
        remote_->send(from, Json{{"ft", kError}, {"call", call}, {"error", "wamp.error.no_such_procedure"},
                                 {"realm", realm_name}, {"i", remote_instance_}});
      }
    }
    return true;
  }
  Realm::Impl& impl = realm->impl();
  RemoteNode& proxy = impl.remote(from, instance);
  Dealer& dealer = impl.dealer;
  if (ft == kRegs) {
    auto table = m.find("regs");
    if (table == m.end() || !impl.remote_table(proxy, *table)) {
      *error = "RPC_REGS: regs must be [[parts, match, invoke, at], ...]";
      return false;
    }
    return true;
  }
  std::uint64_t call = 0;
  if (!get_u64(m, "call", &call)) {
    *error = ft + " needs call";
    return false;
  }
  if (ft == kCall) {
    TopicParts reg, procedure;
    std::uint64_t match_n = 0;
    MatchPolicy match = MatchPolicy::kExact;
    Json args, kwargs;
    auto reg_it = m.find("reg");
    if (reg_it == m.end() || !get_parts(*reg_it, &reg) || !get_u64(m, "match", &match_n) ||
        !get_match(match_n, &match) || !get_payload(m, &args, &kwargs)) {
      *error = "RPC_CALL needs reg, match and args/kwargs of the right types";
      return false;
    }
    auto proc_it = m.find("procedure");
    if (proc_it == m.end()) {
      procedure = reg;
    } else if (!get_parts(*proc_it, &procedure)) {
      *error = "RPC_CALL: procedure must be parts";
      return false;
    }
    CallOptions options;
    options.receive_progress = get_bool(m, "progress");
    options.disclose_me = get_bool(m, "disclose_me");
    Json caller = m.value("caller", Json::object());
    if (!caller.is_object()) caller = Json::object();
    dealer.call_forwarded(proxy.entry, call, wamp_uri(reg), match, procedure, std::move(args),
                          std::move(kwargs), options, std::move(caller));
    return true;
  }
  if (ft == kInterrupt) {
    std::string mode;
    get_string(m, "mode", &mode);
    dealer.cancel(proxy.entry.id, call,
                  mode == "kill" ? CancelMode::kKill : CancelMode::kKillNoWait);
    return true;
  }
  Json args, kwargs;
  if (!get_payload(m, &args, &kwargs)) {
    *error = ft + ": args must be an array, kwargs an object";
    return false;
  }
  if (ft == kResult) {
    Result result;
    if (get_bool(m, "progress")) result.details["progress"] = true;
    result.args = std::move(args);
    result.kwargs = std::move(kwargs);
    dealer.yield(proxy.entry.id, call, std::move(result));
    return true;
  }
  if (ft == kError) {
    Error e;
    if (!get_string(m, "error", &e.uri) || e.uri.empty()) {
      *error = "RPC_ERROR needs error";
      return false;
    }
    e.args = std::move(args);
    e.kwargs = std::move(kwargs);
    dealer.invocation_error(proxy.entry.id, call, std::move(e));
    return true;
  }
  *error = "unknown ft " + ft;
  return false;
}

void Router::announce(const std::vector<std::string>& peers) {
  if (!remote_) return;
  for (auto& [name, realm] : realms_) {
    Realm::Impl& impl = realm->impl();
    const std::uint64_t version = impl.dealer.local_version();
    if (version == impl.announced) continue;
    impl.announced = version;
    Json table = impl.local_table();
    for (const std::string& peer : peers) {
      remote_->send(peer, Json{{"ft", kRegs}, {"realm", name}, {"i", remote_instance_}, {"regs", table}});
    }
  }
}

void Router::remote_link_up(const std::string& peer) {
  if (!remote_) return;
  for (auto& [name, realm] : realms_) {
    remote_->send(peer, Json{{"ft", kRegs}, {"realm", name}, {"i", remote_instance_},
                             {"regs", realm->impl().local_table()}});
  }
}

void Router::remote_lost(const std::string& peer) {
  for (auto& [name, realm] : realms_) realm->impl().remote_lost(peer);
}

}  // namespace fox
