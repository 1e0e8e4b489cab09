// The WAMP meta API answered by the router itself (no internal sessions): wamp.session.*,
// wamp.subscription.*, wamp.registration.* procedures, plus the details dictionaries that the
// meta events (published by the realm) carry. Shapes follow the WAMP advanced profile.
#pragma once
#include <cstdint>
#include <string>

#include "router/broker.hpp"
#include "router/dealer.hpp"
#include "router/session.hpp"

namespace fox {

struct MetaContext {
  const SessionMap& sessions;
  Broker& broker;
  Dealer& dealer;
};

// Procedures under this prefix belong to the router; clients may not register them.
bool is_reserved_procedure(const std::string& uri);

// Answers a CALL to a meta procedure through `caller` (send_result/send_error). False when `uri`
// is not a meta procedure the router implements (the caller then gets no_such_procedure).
bool handle_meta_call(MetaContext& context, Peer& caller, Id request, const std::string& uri,
                      const Json& args, const Json& kwargs);

Json session_details(const SessionEntry& session);
Json subscription_details(const Subscription& subscription);
Json registration_details(const Registration& registration);
const char* match_policy_name(MatchPolicy match);
const char* invoke_policy_name(InvokePolicy invoke);
// "2024-05-17T12:30:00.123Z" from milliseconds since the epoch.
std::string iso8601_utc(std::uint64_t ms);

}  // namespace fox
