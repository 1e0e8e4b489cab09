#include "router/meta.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>
#include <unordered_map>

#include "core/topic.hpp"

namespace fox {

namespace {

constexpr const char* kNoSuchSession = "wamp.error.no_such_session";
constexpr const char* kNoSuchSubscription = "wamp.error.no_such_subscription";
constexpr const char* kNoSuchRegistration = "wamp.error.no_such_registration";
constexpr const char* kInvalidArgument = "wamp.error.invalid_argument";

// Argument access without exceptions: nlohmann's at()/get<> throw on a wrong type.
const Json* arg(const Json& args, std::size_t index) {
  if (!args.is_array() || index >= args.size()) return nullptr;
  return &args[index];
}

bool arg_id(const Json& args, std::size_t index, Id* out) {
  const Json* value = arg(args, index);
  if (!value) return false;
  if (value->is_number_unsigned()) {
    *out = value->get<std::uint64_t>();
    return true;
  }
  if (value->is_number_integer() && value->get<std::int64_t>() >= 0) {
    *out = static_cast<Id>(value->get<std::int64_t>());
    return true;
  }
  return false;
}

bool arg_string(const Json& args, std::size_t index, std::string* out) {
  const Json* value = arg(args, index);
  if (!value || !value->is_string()) return false;
  *out = value->get<std::string>();
  return true;
}

// Optional `match` member of an options dict (lookup): default exact.
bool options_match(const Json& args, std::size_t index, MatchPolicy* out) {
  *out = MatchPolicy::kExact;
  const Json* options = arg(args, index);
  if (!options || options->is_null()) return true;
  if (!options->is_object()) return false;
  return parse_match(*options, out);
}

// Optional filter_authroles list (wamp.session.count/list). Non-strings in it are ignored.
bool role_filter(const Json& args, std::vector<std::string>* roles, bool* active) {
  *active = false;
  const Json* filter = arg(args, 0);
  if (!filter || filter->is_null()) return true;
  if (!filter->is_array()) return false;
  *active = true;
  for (const auto& role : *filter) {
    if (role.is_string()) roles->push_back(role.get<std::string>());
  }
  return true;
}

bool role_selected(const SessionEntry& session, const std::vector<std::string>& roles, bool active) {
  if (!active) return true;
  for (const auto& role : roles) {
    if (role == session.info.authrole) return true;
  }
  return false;
}

void reply(Peer& caller, Id request, Json value) {
  Result result;
  result.args = Json::array({std::move(value)});
  caller.send_result(request, result);
}

void fail(Peer& caller, Id request, const char* uri) {
  Error error;
  error.uri = uri;
  caller.send_error(RequestType::kCall, request, error);
}

Json id_list(const std::vector<const Subscription*>& subs, MatchPolicy match) {
  Json out = Json::array();
  for (const auto* sub : subs) {
    if (sub->match == match) out.push_back(sub->id);
  }
  return out;
}

Json id_list(const std::vector<const Registration*>& regs, MatchPolicy match) {
  Json out = Json::array();
  for (const auto* reg : regs) {
    if (reg->match == match) out.push_back(reg->id);
  }
  return out;
}

using Handler = std::function<void(MetaContext&, Peer&, Id, const Json&)>;

void session_count(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  std::vector<std::string> roles;
  bool active = false;
  if (!role_filter(args, &roles, &active)) return fail(caller, request, kInvalidArgument);
  std::size_t count = 0;
  for (const auto& [id, session] : ctx.sessions) count += role_selected(*session, roles, active);
  reply(caller, request, count);
}

void session_list(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  std::vector<std::string> roles;
  bool active = false;
  if (!role_filter(args, &roles, &active)) return fail(caller, request, kInvalidArgument);
  Json ids = Json::array();
  for (const auto& [id, session] : ctx.sessions) {
    if (role_selected(*session, roles, active)) ids.push_back(id);
  }
  reply(caller, request, std::move(ids));
}

void session_get(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  Id id = 0;
  if (!arg_id(args, 0, &id)) return fail(caller, request, kInvalidArgument);
  auto it = ctx.sessions.find(id);
  if (it == ctx.sessions.end()) return fail(caller, request, kNoSuchSession);
  reply(caller, request, session_details(*it->second));
}

void subscription_list(MetaContext& ctx, Peer& caller, Id request, const Json&) {
  auto subs = ctx.broker.all();
  reply(caller, request,
        Json{{"exact", id_list(subs, MatchPolicy::kExact)},
             {"prefix", id_list(subs, MatchPolicy::kPrefix)},
             {"wildcard", id_list(subs, MatchPolicy::kWildcard)}});
}

void subscription_lookup(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  std::string topic;
  MatchPolicy match = MatchPolicy::kExact;
  if (!arg_string(args, 0, &topic) || !options_match(args, 1, &match)) {
    return fail(caller, request, kInvalidArgument);
  }
  // The pattern in its canonical text (escapes, wildcard markers), as subscriptions keep it.
  const TopicParts parts =
      match == MatchPolicy::kExact ? wamp_pattern_parts(topic) : wamp_topic_parts(topic);
  const Subscription* sub = ctx.broker.find(wamp_uri(parts), match);
  reply(caller, request, sub ? Json(sub->id) : Json(nullptr));
}

void subscription_match(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  std::string topic;
  if (!arg_string(args, 0, &topic)) return fail(caller, request, kInvalidArgument);
  auto subs = ctx.broker.match(wamp_topic_parts(topic));
  if (subs.empty()) return reply(caller, request, nullptr);
  Json ids = Json::array();
  for (const auto* sub : subs) ids.push_back(sub->id);
  reply(caller, request, std::move(ids));
}

const Subscription* subscription_arg(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  Id id = 0;
  if (!arg_id(args, 0, &id)) {
    fail(caller, request, kInvalidArgument);
    return nullptr;
  }
  const Subscription* sub = ctx.broker.find(id);
  if (!sub) fail(caller, request, kNoSuchSubscription);
  return sub;
}

void subscription_get(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  if (const auto* sub = subscription_arg(ctx, caller, request, args)) {
    reply(caller, request, subscription_details(*sub));
  }
}

void subscription_list_subscribers(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  const auto* sub = subscription_arg(ctx, caller, request, args);
  if (!sub) return;
  Json ids = Json::array();
  for (const auto* session : sub->subscribers) ids.push_back(session->id);
  reply(caller, request, std::move(ids));
}

void subscription_count_subscribers(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  if (const auto* sub = subscription_arg(ctx, caller, request, args)) {
    reply(caller, request, sub->subscribers.size());
  }
}

void registration_list(MetaContext& ctx, Peer& caller, Id request, const Json&) {
  auto regs = ctx.dealer.all();
  reply(caller, request,
        Json{{"exact", id_list(regs, MatchPolicy::kExact)},
             {"prefix", id_list(regs, MatchPolicy::kPrefix)},
             {"wildcard", id_list(regs, MatchPolicy::kWildcard)}});
}

void registration_lookup(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  std::string procedure;
  MatchPolicy match = MatchPolicy::kExact;
  if (!arg_string(args, 0, &procedure) || !options_match(args, 1, &match)) {
    return fail(caller, request, kInvalidArgument);
  }
  const Registration* reg = ctx.dealer.find(procedure, match);
  reply(caller, request, reg ? Json(reg->id) : Json(nullptr));
}

void registration_match(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  std::string procedure;
  if (!arg_string(args, 0, &procedure)) return fail(caller, request, kInvalidArgument);
  const Registration* reg = ctx.dealer.best_match(wamp_topic_parts(procedure), procedure);
  reply(caller, request, reg ? Json(reg->id) : Json(nullptr));
}

const Registration* registration_arg(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  Id id = 0;
  if (!arg_id(args, 0, &id)) {
    fail(caller, request, kInvalidArgument);
    return nullptr;
  }
  const Registration* reg = ctx.dealer.find(id);
  if (!reg) fail(caller, request, kNoSuchRegistration);
  return reg;
}

void registration_get(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  if (const auto* reg = registration_arg(ctx, caller, request, args)) {
    reply(caller, request, registration_details(*reg));
  }
}

void registration_list_callees(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  const auto* reg = registration_arg(ctx, caller, request, args);
  if (!reg) return;
  Json ids = Json::array();
  // A cluster's other nodes' callees (remote.cpp) are not sessions of this node.
  for (const auto& callee : reg->callees) {
    if (!callee.remote) ids.push_back(callee.session->id);
  }
  reply(caller, request, std::move(ids));
}

void registration_count_callees(MetaContext& ctx, Peer& caller, Id request, const Json& args) {
  if (const auto* reg = registration_arg(ctx, caller, request, args)) {
    reply(caller, request, static_cast<std::size_t>(std::count_if(
                               reg->callees.begin(), reg->callees.end(),
                               [](const Callee& c) { return !c.remote; })));
  }
}

const std::unordered_map<std::string, Handler>& handlers() {
  static const std::unordered_map<std::string, Handler> table = {
      {"wamp.session.count", session_count},
      {"wamp.session.list", session_list},
      {"wamp.session.get", session_get},
      {"wamp.subscription.list", subscription_list},
      {"wamp.subscription.lookup", subscription_lookup},
      {"wamp.subscription.match", subscription_match},
      {"wamp.subscription.get", subscription_get},
      {"wamp.subscription.list_subscribers", subscription_list_subscribers},
      {"wamp.subscription.count_subscribers", subscription_count_subscribers},
      {"wamp.registration.list", registration_list},
      {"wamp.registration.lookup", registration_lookup},
      {"wamp.registration.match", registration_match},
      {"wamp.registration.get", registration_get},
      {"wamp.registration.list_callees", registration_list_callees},
      {"wamp.registration.count_callees", registration_count_callees},
  };
  return table;
}

}  // namespace

bool is_reserved_procedure(const std::string& uri) { return uri.rfind("wamp.", 0) == 0; }

bool handle_meta_call(MetaContext& context, Peer& caller, Id request, const std::string& uri,
                      const Json& args, const Json& /*kwargs*/) {
  if (!is_reserved_procedure(uri)) return false;
  const auto& table = handlers();
  auto it = table.find(uri);
  if (it == table.end()) return false;
  it->second(context, caller, request, args);
  return true;
}

Json session_details(const SessionEntry& session) {
  return Json{{"session", session.id},
              {"authid", session.info.authid},
              {"authrole", session.info.authrole},
              {"authmethod", session.info.authmethod},
              {"authprovider", session.info.authprovider},
              {"transport",
               Json{{"type", session.info.transport},
                    {"serializer", session.info.serializer},
                    {"peer", session.info.peer_address}}}};
}

Json subscription_details(const Subscription& subscription) {
  Json details{{"id", subscription.id},
               {"created", iso8601_utc(subscription.created_ms)},
               {"uri", subscription.uri},
               {"match", match_policy_name(subscription.match)}};
  // fox extras that make a subscription distinct from another of the same topic.
  if (subscription.options.has_filter) details["filter"] = subscription.options.filter;
  if (subscription.options.snapshot) details["snapshot"] = true;
  return details;
}

Json registration_details(const Registration& registration) {
  return Json{{"id", registration.id},
              {"created", iso8601_utc(registration.created_ms)},
              {"uri", registration.uri},
              {"match", match_policy_name(registration.match)},
              {"invoke", invoke_policy_name(registration.invoke)}};
}

const char* match_policy_name(MatchPolicy match) {
  switch (match) {
    case MatchPolicy::kExact: return "exact";
    case MatchPolicy::kPrefix: return "prefix";
    case MatchPolicy::kWildcard: return "wildcard";
  }
  return "exact";
}

const char* invoke_policy_name(InvokePolicy invoke) {
  switch (invoke) {
    case InvokePolicy::kSingle: return "single";
    case InvokePolicy::kRoundRobin: return "roundrobin";
    case InvokePolicy::kRandom: return "random";
    case InvokePolicy::kFirst: return "first";
    case InvokePolicy::kLast: return "last";
  }
  return "single";
}

std::string iso8601_utc(std::uint64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  std::size_t len = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text + len, sizeof text - len, ".%03uZ", static_cast<unsigned>(ms % 1000));
  return text;
}

}  // namespace fox
