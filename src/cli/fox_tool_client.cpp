#include "cli/fox_tool_client.hpp"

#include "core/topic.hpp"
#include "fox/body.hpp"

namespace fox::cli {
namespace {

// A WAMP URI (escapes decoded) as FOX sends it: its parts ("a.b.c" → ["a","b","c"]); in a
// subscription `*` and `#` parts are FOX's wildcards too.
Json uri_parts(const std::string& uri, bool pattern = false) {
  Json parts = Json::array();
  for (const std::string& p : pattern ? wamp_pattern_parts(uri) : wamp_topic_parts(uri)) {
    parts.push_back(p == kAnyPart ? std::string("*") : p == kAnyParts ? std::string("#") : p);
  }
  return parts;
}

// An EVENT's or TASK's uri (literal parts) as WAMP text, as the WAMP tools print it.
std::string uri_text(const Json& answer) {
  auto uri = answer.find("uri");
  if (uri == answer.end() || !uri->is_array()) return {};
  TopicParts parts;
  for (const Json& p : *uri) parts.push_back(p.is_string() ? p.get<std::string>() : std::string());
  return wamp_uri(parts);
}

Id qid_of(const Json& answer) {
  Id qid = 0;
  if (auto it = answer.find("qid"); it != answer.end()) foxp::read_id(*it, &qid);
  return qid;
}

// An ERR answer as the tools print WAMP errors: the code is the uri, the message the one arg.
WampError error_of(const Json& answer) {
  WampError e;
  e.uri = "fox.error.unknown";
  auto data = answer.find("data");
  if (data != answer.end() && data->is_object()) {
    if (auto code = data->find("code"); code != data->end() && code->is_string()) e.uri = *code;
    if (auto m = data->find("message"); m != data->end() && m->is_string()) {
      e.args = Json::array({*m});
    }
  }
  return e;
}

void read_data(const Json& answer, Json* args, Json* kwargs) {
  auto data = answer.find("data");
  foxp::Body body;
  std::string ignored;
  if (data == answer.end() || !foxp::read_body(*data, &body, &ignored)) return;
  if (body.payload) body.args = Json::array({Json::binary({body.payload->begin(), body.payload->end()})});
  *args = std::move(body.args);
  *kwargs = std::move(body.kwargs);
}

std::string rsp(const Json& answer) {
  auto it = answer.find("rsp");
  return it != answer.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

FoxToolClient::FoxToolClient(uv_loop_t* loop, net::UvEnv& timers) : timers_(timers), loop_(loop) {}

void FoxToolClient::connect(const std::string& host, int port, const std::string& realm,
                            std::function<void()> on_joined, CloseFn on_close) {
  foxp::ClientOptions o;
  o.host = host;
  o.port = port;
  o.realm = realm;
  client_ = std::make_unique<foxp::Client>(loop_, timers_, std::move(o));
  client_->start([on_joined = std::move(on_joined), on_close = std::move(on_close)](
                     foxp::Client::State state, const std::string& why) {
    if (state == foxp::Client::State::kUp) {
      if (on_joined) on_joined();
    } else if (on_close) {
      on_close(why);
    }
  });
}

void FoxToolClient::publish(const std::string& topic, Json args, Json kwargs, Json options,
                            WampClient::PublishedFn done) {
  const bool ack = json_true(options, "acknowledge");
  options.erase("acknowledge");
  Json push = {{"ft", "PUSH"}, {"uri", uri_parts(topic)}, {"opt", options},
               {"data", foxp::exact_body(args, kwargs)}};
  if (ack) push["ack"] = true;
  if (!ack || !done) {
    client_->send(std::move(push), nullptr);
    return;
  }
  client_->send(std::move(push), [done = std::move(done)](const Json& answer) {
    if (foxp::Client::is_error(answer)) {
      WampError e = error_of(answer);
      done(0, &e);
      return;
    }
    done(qid_of(answer), nullptr);
  });
}

void FoxToolClient::subscribe(const std::string& topic, Json options, WampClient::EventFn on_event,
                              WampClient::SubscribedFn done, WampClient::RevokedFn on_revoked) {
  client_->send(Json{{"ft", "TRACE"}, {"uri", uri_parts(topic, true)}, {"opt", options}},
                [on_event = std::move(on_event), done = std::move(done),
                 on_revoked = std::move(on_revoked),
                 acked = std::make_shared<bool>(false)](const Json& answer) {
                  const std::string r = rsp(answer);
                  if (r == "ACK") {
                    if (!*acked && done) done(qid_of(answer), nullptr);
                    *acked = true;
                  } else if (r == "EVENT") {
                    wamp::Event ev;
                    ev.publication = qid_of(answer);
                    ev.details["topic"] = uri_text(answer);
                    auto opt = answer.find("opt");
                    if (opt != answer.end() && json_true(*opt, "retained")) ev.details["retained"] = true;
                    read_data(answer, &ev.args, &ev.kwargs);
                    on_event(ev);
                  } else if (r == "ERR" && !*acked) {
                    WampError e = error_of(answer);
                    if (done) done(0, &e);
                  } else if (r == "OK" && on_revoked) {
                    // The server ended the trace (the end of a snapshot). An ERR after the ACK
                    // is the connection going away, which on_close reports.
                    on_revoked(answer);
                  }
                });
}

void FoxToolClient::call(const std::string& procedure, Json args, Json kwargs, Json options,
                         WampClient::ResultFn done) {
  client_->send(Json{{"ft", "CALL"}, {"uri", uri_parts(procedure)}, {"opt", options},
                     {"data", foxp::exact_body(args, kwargs)}},
                [done = std::move(done)](const Json& answer) {
                  const std::string r = rsp(answer);
                  if (r == "EMIT") return;   // progress: the tools print the final result only
                  if (r == "ERR") {
                    WampError e = error_of(answer);
                    done(nullptr, &e);
                    return;
                  }
                  wamp::Result result;
                  read_data(answer, &result.args, &result.kwargs);
                  done(&result, nullptr);
                });
}

void FoxToolClient::register_procedure(const std::string& procedure, Json options,
                                       WampClient::InvocationFn on_invocation,
                                       WampClient::RegisteredFn done) {
  // A tool's callee takes calls as they come (fox-wamp's default is one at a time).
  if (!options.contains("simultaneousTaskLimit")) options["simultaneousTaskLimit"] = 0;
  client_->send(Json{{"ft", "REG"}, {"uri", uri_parts(procedure)}, {"opt", options}},
                [on_invocation = std::move(on_invocation), done = std::move(done),
                 acked = std::make_shared<bool>(false)](const Json& answer) {
                  const std::string r = rsp(answer);
                  if (r == "ACK") {
                    if (!*acked && done) done(qid_of(answer), nullptr);
                    *acked = true;
                  } else if (r == "TASK") {
                    wamp::Invocation inv;
                    inv.request = qid_of(answer);
                    inv.details["procedure"] = uri_text(answer);
                    read_data(answer, &inv.args, &inv.kwargs);
                    on_invocation(inv);
                  } else if (r == "ERR" && !*acked && done) {
                    WampError e = error_of(answer);
                    done(0, &e);
                  }
                });
}

void FoxToolClient::yield(Id invocation, Json args, Json kwargs) {
  client_->send(Json{{"ft", "YIELD"}, {"qid", invocation}, {"rqt", "OK"},
                     {"data", foxp::exact_body(args, kwargs)}},
                nullptr);
}

void FoxToolClient::error(Id invocation, const std::string& uri, Json args, Json kwargs) {
  client_->send(Json{{"ft", "YIELD"}, {"qid", invocation}, {"rqt", "ERR"}, {"err", uri},
                     {"data", foxp::exact_body(args, kwargs)}},
                nullptr);
}

void FoxToolClient::leave(std::function<void()> done) {
  if (!client_) {
    if (done) done();
    return;
  }
  client_->close(std::move(done));
}

void FoxToolClient::shutdown() {
  if (client_) client_->shutdown();
}

}  // namespace fox::cli
