// The one options layer of WAMP: the well-known keys of the Options/Details dicts, each with its
// type as the WAMP spec defines it, per message. Unknown keys pass: the spec lets peers add their
// own (fox-wamp extras, x_ keys). Internal to wamp/ (the decoder checks every dict here).
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.hpp"
#include "core/json.hpp"
#include "router/types.hpp"

namespace fox::wamp {

// An id as WAMP sends it (an integer in [1, 2^53], or [0, 2^53] with allow_zero).
bool read_id(const Json& value, bool allow_zero, Id& out);

// Reading the typed Options/Details of a message into the router's option structs (the session's
// half; their spec types were checked by the decoder with the rules below).
// Reads an optional typed option; a present value of the wrong type is an error.
bool opt_bool(const Json& options, const char* key, bool* out);
// True when `options[key]` is the boolean true.
bool json_true_option(const Json& options, const char* key);
bool opt_ids(const Json& options, const char* key, std::vector<Id>* out, bool* present);
bool opt_strings(const Json& options, const char* key, std::vector<std::string>* out, bool* present);

namespace options {

enum class Kind { kBool, kId, kNonNegativeInt, kString, kDict, kIdList, kStringList, kDictList, kEnum };

// One well-known key: its type, and for kEnum the values it may take.
struct Rule {
  std::string_view key;
  Kind kind;
  std::span<const std::string_view> values = {};
};

// True if every key of `dict` that `rules` names has its type. Otherwise false, and `*reason` (when
// not null) names the first wrong key and what it must be: "exclude must be a list of ids".
bool check_dict(const Json& dict, std::span<const Rule> rules, std::string* reason);

// The well-known keys of each dict (Abort, Goodbye, Challenge and Authenticate have none).
extern const std::span<const Rule> kPublishOptions;
extern const std::span<const Rule> kSubscribeOptions;
extern const std::span<const Rule> kEventDetails;
extern const std::span<const Rule> kCallOptions;
extern const std::span<const Rule> kRegisterOptions;
extern const std::span<const Rule> kInvocationDetails;
extern const std::span<const Rule> kYieldOptions;
extern const std::span<const Rule> kResultDetails;
extern const std::span<const Rule> kErrorDetails;
extern const std::span<const Rule> kCancelOptions;
extern const std::span<const Rule> kInterruptOptions;
extern const std::span<const Rule> kSessionDetails;       // HELLO and WELCOME
extern const std::span<const Rule> kRevokedSubscription;  // router-initiated UNSUBSCRIBED
extern const std::span<const Rule> kRevokedRegistration;  // router-initiated UNREGISTERED

}  // namespace options
}  // namespace fox::wamp
