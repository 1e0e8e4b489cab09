#include "fox/client.hpp"

#include <algorithm>
#include <vector>

#include "net/tcp_client.hpp"

namespace fox::foxp {
namespace {

Json local_error(Id id, const std::string& code, const std::string& message) {
  return Json{{"id", id}, {"rsp", "ERR"}, {"data", {{"code", code}, {"message", message}}}};
}

std::string rsp_of(const Json& answer) {
  auto it = answer.find("rsp");
  return it != answer.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool is_standing(const Json& command) {
  auto ft = command.find("ft");
  return ft != command.end() && ft->is_string() && (*ft == "TRACE" || *ft == "REG");
}

// YIELD, CONFIRM, GOODBYE and a PUSH without ack get no answer.
bool expects_answer(const Json& command) {
  auto ft = command.find("ft");
  if (ft == command.end() || !ft->is_string()) return true;
  if (*ft == "YIELD" || *ft == "CONFIRM" || *ft == "GOODBYE") return false;
  if (*ft != "PUSH") return true;
  auto ack = command.find("ack");
  return ack != command.end() && ack->is_boolean() && ack->get<bool>();
}

}  // namespace

Client::Client(uv_loop_t* loop, Env& env, ClientOptions options)
    : loop_(loop), env_(env), options_(std::move(options)) {
  where_ = options_.host + ":" + std::to_string(options_.port);
}

Client::~Client() { shutdown(); }

bool Client::is_error(const Json& answer) { return rsp_of(answer) == "ERR"; }

std::string Client::error_text(const Json& answer) {
  auto data = answer.find("data");
  if (data == answer.end() || !data->is_object()) return "fox.error.unknown: no error data";
  auto code = data->find("code");
  auto message = data->find("message");
  std::string text = code != data->end() && code->is_string() ? code->get<std::string>()
                                                              : std::string("fox.error.unknown");
  if (message != data->end() && message->is_string()) text += ": " + message->get<std::string>();
  return text;
}

void Client::start(StateFn on_state) {
  if (started_ || shut_down_) return;
  started_ = true;
  on_state_ = std::move(on_state);
  connect();
}

void Client::connect() {
  decoder_ = std::make_unique<StreamDecoder>(options_.max_message_size);
  net::TcpClientOptions o;
  o.name = "fox";
  o.host = options_.host;
  o.port = options_.port;
  o.env = &env_;
  o.connect_timeout_ms = options_.connect_timeout_ms;
  auto link = std::make_unique<Link>(this, &Client::on_bytes, &Client::on_connection_closed);
  link_ = link.get();
  conn_ = net::TcpClient::connect(loop_, std::move(o), std::move(link));
  // LOGIN first: queued now, written once the connection is up; every other command waits for
  // its OK.
  login_id_ = ++next_id_;
  write(Json{{"ft", "LOGIN"}, {"id", login_id_}, {"data", {{"realm", options_.realm}}}});
  if (options_.connect_timeout_ms > 0) {
    login_timer_ = env_.start_timer(options_.connect_timeout_ms, [this] {
      login_timer_ = 0;
      if (up_) return;
      drop_connection();
      lost("no answer to LOGIN from " + where_ + " within " +
           std::to_string(options_.connect_timeout_ms / 1000) + " s");
    });
  }
}

void Client::write(const Json& message) {
  if (!conn_) return;
  out_.clear();
  encode_message(message, out_);
  // A server that stops reading makes the connection cut itself off: on_connection_closed says.
  conn_->send(out_);
}

Id Client::send(Json command, Handler handler) {
  const Id id = ++next_id_;
  command["id"] = id;
  if (failed_ || closing_ || shut_down_ || commands_.size() >= options_.max_pending) {
    if (handler && !shut_down_) {
      const bool full = !failed_ && !closing_;
      Json answer = local_error(id, full ? kTooManyPending : kConnectionLost,
                                full ? std::to_string(options_.max_pending) + " commands pending"
                                     : "the client is closed");
      env_.start_timer(0, [alive = std::weak_ptr<bool>(alive_), handler = std::move(handler),
                           answer = std::move(answer)] {
        if (!alive.expired()) handler(answer);
      });
    }
    return id;
  }
  const bool standing = is_standing(command);
  if (!expects_answer(command)) handler = nullptr;   // it would wait for nothing
  if (up_) write(command);
  if (!handler && !standing && up_) return id;   // nothing to wait for
  Command& c = commands_[id];
  c.message = std::move(command);
  if (handler) c.handler = std::make_shared<Handler>(std::move(handler));
  c.standing = standing;
  if (!up_) waiting_.push_back(id);
  return id;
}

void Client::forget(Id id) { commands_.erase(id); }

Id Client::qid_of(Id id) const {
  auto it = commands_.find(id);
  return it == commands_.end() ? 0 : it->second.qid;
}

void Client::on_bytes(std::string_view bytes) {
  if (!decoder_ || shut_down_) return;
  const std::weak_ptr<bool> alive = alive_;
  decoder_->feed(bytes);
  for (;;) {
    Json answer;
    std::string error;
    Next next = decoder_->next(&answer, &error);
    if (next == Next::kNeedMore) return;
    if (next == Next::kError) {
      drop_connection();
      lost("bad data from " + where_ + ": " + error);
      return;
    }
    on_answer(answer);
    // The answer's handler may have closed, shut down or destroyed the client.
    if (alive.expired() || !conn_ || shut_down_) return;
  }
}

void Client::on_answer(const Json& answer) {
  Id id = 0;
  auto id_it = answer.find("id");
  if (id_it == answer.end() || !read_id(*id_it, &id)) return;   // nothing to correlate
  const std::string rsp = rsp_of(answer);
  if (id == login_id_ && !up_) {
    if (rsp == "ERR") {
      drop_connection();
      fail("LOGIN to realm " + options_.realm + " at " + where_ + " refused: " + error_text(answer));
      return;
    }
    if (rsp != "OK") return;
    up_ = true;
    attempts_ = 0;
    if (login_timer_) env_.cancel_timer(login_timer_);
    login_timer_ = 0;
    flush_waiting();
    notify(State::kUp, {});
    return;
  }
  auto it = commands_.find(id);
  if (it == commands_.end()) return;   // forgotten, or an answer to a command that wanted none
  const bool final = rsp == "OK" || rsp == "ERR";
  if (rsp == "ACK") {
    if (auto qid = answer.find("qid"); qid != answer.end()) read_id(*qid, &it->second.qid);
  }
  std::shared_ptr<Handler> handler = it->second.handler;
  if (final) commands_.erase(it);
  if (handler) (*handler)(answer);
}

void Client::flush_waiting() {
  // Standing commands of an earlier connection first, in the order they were sent, then what
  // was sent while the client was not logged in.
  std::vector<Id> order;
  for (auto& [id, c] : commands_) {
    if (c.standing && std::find(waiting_.begin(), waiting_.end(), id) == waiting_.end()) {
      order.push_back(id);
    }
  }
  order.insert(order.end(), waiting_.begin(), waiting_.end());
  waiting_.clear();
  std::sort(order.begin(), order.end());
  for (Id id : order) {
    auto it = commands_.find(id);
    if (it == commands_.end()) continue;
    write(it->second.message);
    if (!it->second.handler && !it->second.standing) commands_.erase(it);
  }
}

void Client::on_connection_closed(std::optional<net::ClientFailure> failure) {
  conn_ = nullptr;
  link_ = nullptr;
  if (shut_down_ || failed_) return;
  if (closing_) {
    fail("closed");
    return;
  }
  lost(failure ? net::describe(*failure, where_) : where_ + " closed the connection");
}

void Client::lost(const std::string& why) {
  const bool was_up = up_;
  up_ = false;
  if (login_timer_) env_.cancel_timer(login_timer_);
  login_timer_ = 0;
  if (!options_.reconnect || closing_) {
    fail(why);
    return;
  }
  // What was in flight ends (it may or may not have been done); standing commands and what
  // waits for the connection stay for the next one.
  const std::weak_ptr<bool> alive = alive_;
  end_in_flight(why, true);
  if (alive.expired() || shut_down_ || failed_) return;   // a handler closed or destroyed it
  notify(State::kDown, why);
  if (alive.expired() || shut_down_ || failed_) return;
  if (was_up) attempts_ = 0;
  retry_timer_ = env_.start_timer(next_delay(), [this] {
    retry_timer_ = 0;
    if (!shut_down_ && !failed_) connect();
  });
}

std::uint64_t Client::next_delay() {
  std::uint64_t delay = std::max<std::uint64_t>(options_.reconnect_min_ms, 1);
  for (unsigned i = 0; i < attempts_ && delay < options_.reconnect_max_ms; ++i) delay *= 2;
  delay = std::min(delay, std::max(options_.reconnect_max_ms, options_.reconnect_min_ms));
  ++attempts_;
  // Jitter: between half and all of it, so a cluster's links do not retry in step.
  return delay / 2 + env_.random64() % (delay / 2 + 1);
}

void Client::end_in_flight(const std::string& why, bool keep_standing) {
  std::vector<Id> ended;
  for (auto& [id, c] : commands_) {
    const bool waiting = std::find(waiting_.begin(), waiting_.end(), id) != waiting_.end();
    if (keep_standing && (c.standing || waiting)) continue;
    ended.push_back(id);
  }
  if (!keep_standing) waiting_.clear();
  const std::weak_ptr<bool> alive = alive_;
  for (Id id : ended) {
    if (alive.expired() || shut_down_) return;
    end_command(id, kConnectionLost, why);
  }
}

void Client::end_command(Id id, const std::string& code, const std::string& why) {
  auto it = commands_.find(id);
  if (it == commands_.end()) return;
  std::shared_ptr<Handler> handler = std::move(it->second.handler);
  commands_.erase(it);
  if (handler) (*handler)(local_error(id, code, why));
}

void Client::fail(const std::string& why) {
  if (failed_ || shut_down_) return;
  failed_ = true;
  up_ = false;
  cancel_timers();
  drop_connection();
  const std::weak_ptr<bool> alive = alive_;
  end_in_flight(why, false);
  if (alive.expired() || shut_down_) return;
  if (closing_) {
    auto done = std::move(close_done_);
    close_done_ = nullptr;
    if (done) done();
    return;
  }
  notify(State::kFailed, why);
}

void Client::notify(State state, const std::string& why) {
  if (shut_down_ || !on_state_) return;
  StateFn fn = on_state_;   // the callback may close or destroy this client's owner's state
  fn(state, why);
}

void Client::close(std::function<void()> done) {
  if (closing_ || shut_down_) return;
  closing_ = true;
  close_done_ = std::move(done);
  if (failed_) {
    auto fn = std::move(close_done_);
    close_done_ = nullptr;
    if (fn) fn();
    return;
  }
  if (!conn_ || !up_) {
    fail("closed");
    return;
  }
  // What is queued (a PUSH without ack, YIELDs) goes out before GOODBYE; answers still due are
  // not waited for.
  const std::weak_ptr<bool> alive = alive_;
  end_in_flight("the client closed", false);
  if (alive.expired() || shut_down_ || !conn_) return;
  write(Json{{"ft", "GOODBYE"}});
  conn_->close();   // on_connection_closed finishes
}

void Client::drop_connection() {
  if (!conn_) return;
  link_->detach();
  conn_->abort();
  conn_ = nullptr;
  link_ = nullptr;
}

void Client::cancel_timers() {
  for (auto* id : {&retry_timer_, &login_timer_}) {
    if (*id) env_.cancel_timer(*id);
    *id = 0;
  }
}

void Client::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  alive_.reset();   // callbacks already scheduled (send()'s local ERRs) do not run
  cancel_timers();
  drop_connection();
  commands_.clear();
  waiting_.clear();
}

}  // namespace fox::foxp
