// WAMP v2 messages as typed structs: one struct per message type, field names as the WAMP spec
// names them. The codec (codec.hpp) turns bytes into these and back; nothing here does I/O.
//
// Conventions:
// - Dict fields (options, details, extra) are JSON objects; the codec never leaves them null.
// - args/kwargs are null when absent on the wire (so `[null]` and "no args" stay different).
// - payload is set only in Payload PassThru mode (options/details carry `ppt_scheme` or
//   `enc_algo`): the Arguments position then holds an opaque binary (or string) and args/kwargs are
//   null. Binary values are Json::binary_t on every serializer (JSON uses "\u0000"+base64 on the
//   wire).
#pragma once
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "core/ids.hpp"
#include "core/json.hpp"

namespace fox::wamp {

enum class MessageType : int {
  kHello = 1,
  kWelcome = 2,
  kAbort = 3,
  kChallenge = 4,
  kAuthenticate = 5,
  kGoodbye = 6,
  kError = 8,
  kPublish = 16,
  kPublished = 17,
  kSubscribe = 32,
  kSubscribed = 33,
  kUnsubscribe = 34,
  kUnsubscribed = 35,
  kEvent = 36,
  kCall = 48,
  kCancel = 49,
  kResult = 50,
  kRegister = 64,
  kRegistered = 65,
  kUnregister = 66,
  kUnregistered = 67,
  kInvocation = 68,
  kInterrupt = 69,
  kYield = 70,
};

// [HELLO, Realm|uri, Details|dict]
struct Hello {
  static constexpr MessageType kType = MessageType::kHello;
  std::string realm;
  Json details = Json::object();  // roles, authmethods, authid, ...
  bool operator==(const Hello&) const = default;
};

// [WELCOME, Session|id, Details|dict]
struct Welcome {
  static constexpr MessageType kType = MessageType::kWelcome;
  Id session = 0;
  Json details = Json::object();
  bool operator==(const Welcome&) const = default;
};

// [ABORT, Details|dict, Reason|uri]
struct Abort {
  static constexpr MessageType kType = MessageType::kAbort;
  Json details = Json::object();
  std::string reason;
  bool operator==(const Abort&) const = default;
};

// [CHALLENGE, AuthMethod|string, Extra|dict]
struct Challenge {
  static constexpr MessageType kType = MessageType::kChallenge;
  std::string authmethod;
  Json extra = Json::object();
  bool operator==(const Challenge&) const = default;
};

// [AUTHENTICATE, Signature|string, Extra|dict]
struct Authenticate {
  static constexpr MessageType kType = MessageType::kAuthenticate;
  std::string signature;
  Json extra = Json::object();
  bool operator==(const Authenticate&) const = default;
};

// [GOODBYE, Details|dict, Reason|uri]
struct Goodbye {
  static constexpr MessageType kType = MessageType::kGoodbye;
  Json details = Json::object();
  std::string reason;
  bool operator==(const Goodbye&) const = default;
};

// [ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri, Arguments|list,
//  ArgumentsKw|dict]
struct Error {
  static constexpr MessageType kType = MessageType::kError;
  int request_type = 0;  // SUBSCRIBE, UNSUBSCRIBE, PUBLISH, CALL, REGISTER, UNREGISTER, INVOCATION
  Id request = 0;
  Json details = Json::object();
  std::string error;
  Json args = nullptr;
  Json kwargs = nullptr;
  Json payload = nullptr;
  bool operator==(const Error&) const = default;
};

// [PUBLISH, Request|id, Options|dict, Topic|uri, Arguments|list, ArgumentsKw|dict]
struct Publish {
  static constexpr MessageType kType = MessageType::kPublish;
  Id request = 0;
  Json options = Json::object();
  std::string topic;
  Json args = nullptr;
  Json kwargs = nullptr;
  Json payload = nullptr;
  bool operator==(const Publish&) const = default;
};

// [PUBLISHED, PUBLISH.Request|id, Publication|id]
struct Published {
  static constexpr MessageType kType = MessageType::kPublished;
  Id request = 0;
  Id publication = 0;
  bool operator==(const Published&) const = default;
};

// [SUBSCRIBE, Request|id, Options|dict, Topic|uri]
struct Subscribe {
  static constexpr MessageType kType = MessageType::kSubscribe;
  Id request = 0;
  Json options = Json::object();
  std::string topic;
  bool operator==(const Subscribe&) const = default;
};

// [SUBSCRIBED, SUBSCRIBE.Request|id, Subscription|id]
struct Subscribed {
  static constexpr MessageType kType = MessageType::kSubscribed;
  Id request = 0;
  Id subscription = 0;
  bool operator==(const Subscribed&) const = default;
};

// [UNSUBSCRIBE, Request|id, SUBSCRIBED.Subscription|id]
struct Unsubscribe {
  static constexpr MessageType kType = MessageType::kUnsubscribe;
  Id request = 0;
  Id subscription = 0;
  bool operator==(const Unsubscribe&) const = default;
};

// [UNSUBSCRIBED, UNSUBSCRIBE.Request|id] or, when the router revokes a subscription on its own,
// [UNSUBSCRIBED, 0, Details|dict] with details {subscription, reason}.
struct Unsubscribed {
  static constexpr MessageType kType = MessageType::kUnsubscribed;
  Id request = 0;
  Json details = nullptr;  // null = absent (the two-element form)
  bool operator==(const Unsubscribed&) const = default;
};

// [EVENT, SUBSCRIBED.Subscription|id, PUBLISHED.Publication|id, Details|dict, Arguments|list,
//  ArgumentsKw|dict]
struct Event {
  static constexpr MessageType kType = MessageType::kEvent;
  Id subscription = 0;
  Id publication = 0;
  Json details = Json::object();
  Json args = nullptr;
  Json kwargs = nullptr;
  Json payload = nullptr;
  bool operator==(const Event&) const = default;
};

// [CALL, Request|id, Options|dict, Procedure|uri, Arguments|list, ArgumentsKw|dict]
struct Call {
  static constexpr MessageType kType = MessageType::kCall;
  Id request = 0;
  Json options = Json::object();
  std::string procedure;
  Json args = nullptr;
  Json kwargs = nullptr;
  Json payload = nullptr;
  bool operator==(const Call&) const = default;
};

// [CANCEL, CALL.Request|id, Options|dict]
struct Cancel {
  static constexpr MessageType kType = MessageType::kCancel;
  Id request = 0;
  Json options = Json::object();
  bool operator==(const Cancel&) const = default;
};

// [RESULT, CALL.Request|id, Details|dict, YIELD.Arguments|list, YIELD.ArgumentsKw|dict]
struct Result {
  static constexpr MessageType kType = MessageType::kResult;
  Id request = 0;
  Json details = Json::object();
  Json args = nullptr;
  Json kwargs = nullptr;
  Json payload = nullptr;
  bool operator==(const Result&) const = default;
};

// [REGISTER, Request|id, Options|dict, Procedure|uri]
struct Register {
  static constexpr MessageType kType = MessageType::kRegister;
  Id request = 0;
  Json options = Json::object();
  std::string procedure;
  bool operator==(const Register&) const = default;
};

// [REGISTERED, REGISTER.Request|id, Registration|id]
struct Registered {
  static constexpr MessageType kType = MessageType::kRegistered;
  Id request = 0;
  Id registration = 0;
  bool operator==(const Registered&) const = default;
};

// [UNREGISTER, Request|id, REGISTERED.Registration|id]
struct Unregister {
  static constexpr MessageType kType = MessageType::kUnregister;
  Id request = 0;
  Id registration = 0;
  bool operator==(const Unregister&) const = default;
};

// [UNREGISTERED, UNREGISTER.Request|id] or, when the router revokes a registration,
// [UNREGISTERED, 0, Details|dict] with details {registration, reason}.
struct Unregistered {
  static constexpr MessageType kType = MessageType::kUnregistered;
  Id request = 0;
  Json details = nullptr;  // null = absent (the two-element form)
  bool operator==(const Unregistered&) const = default;
};

// [INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict, CALL.Arguments|list,
//  CALL.ArgumentsKw|dict]
struct Invocation {
  static constexpr MessageType kType = MessageType::kInvocation;
  Id request = 0;
  Id registration = 0;
  Json details = Json::object();
  Json args = nullptr;
  Json kwargs = nullptr;
  Json payload = nullptr;
  bool operator==(const Invocation&) const = default;
};

// [INTERRUPT, INVOCATION.Request|id, Options|dict]
struct Interrupt {
  static constexpr MessageType kType = MessageType::kInterrupt;
  Id request = 0;
  Json options = Json::object();
  bool operator==(const Interrupt&) const = default;
};

// [YIELD, INVOCATION.Request|id, Options|dict, Arguments|list, ArgumentsKw|dict]
struct Yield {
  static constexpr MessageType kType = MessageType::kYield;
  Id request = 0;
  Json options = Json::object();
  Json args = nullptr;
  Json kwargs = nullptr;
  Json payload = nullptr;
  bool operator==(const Yield&) const = default;
};

using Message = std::variant<Hello, Welcome, Abort, Challenge, Authenticate, Goodbye, Error, Publish,
                             Published, Subscribe, Subscribed, Unsubscribe, Unsubscribed, Event, Call,
                             Cancel, Result, Register, Registered, Unregister, Unregistered,
                             Invocation, Interrupt, Yield>;

// The WAMP type code of a message.
inline MessageType message_type(const Message& message) {
  return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::kType; }, message);
}

// "PUBLISH", "EVENT", ... ("UNKNOWN" for a code WAMP does not define).
std::string_view message_name(int type);

}  // namespace fox::wamp
