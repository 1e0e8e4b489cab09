// A FOX client over net::TcpClient, on the caller's libuv loop: the client tools' `--fox` and the
// base the cluster's node links build on.
//
// Commands are FOX maps without `id`: send() gives each one, and every answer carrying that id
// (ACK, EVENT, TASK, EMIT, then the final OK or ERR) goes to the command's handler. A command
// ends at its OK or ERR; TRACE and REG stand between their ACK and that end.
//
// The connection: LOGIN goes first; commands sent before its OK (also before start()) wait for
// it, at most max_pending of them. When the connection is lost every command in flight ends with a local ERR
// `fox.error.connection_lost` — none is left waiting, unlike the reference client. With
// `reconnect` the client then tries again (delays doubling from reconnect_min_ms to
// reconnect_max_ms, with jitter), logs in again and sends its standing TRACEs and REGs again
// (their handlers see a new ACK); commands sent while it is down wait for the next LOGIN. The
// state callback says each up and down. A refused LOGIN is final, reconnect or not.
//
// Callbacks may send, close(), shutdown() or destroy the client; after shutdown() or the
// destructor no callback runs.
#pragma once
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/env.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "fox/codec.hpp"
#include "net/client.hpp"

namespace fox::net {
class TcpClient;
}

namespace fox::foxp {

// The code of the local ERR that ends a command whose connection went away.
inline constexpr const char* kConnectionLost = "fox.error.connection_lost";
// ... and of one sent while max_pending commands wait.
inline constexpr const char* kTooManyPending = "fox.error.too_many_pending";
inline constexpr int kDefaultPort = 1735;

struct ClientOptions {
  std::string host = "127.0.0.1";
  int port = kDefaultPort;
  std::string realm = "realm1";
  std::size_t max_message_size = 16u << 20;   // an answer over it ends the connection
  std::uint64_t connect_timeout_ms = 10'000;  // resolve + connect + LOGIN's OK
  bool reconnect = false;
  std::uint64_t reconnect_min_ms = 100;
  std::uint64_t reconnect_max_ms = 5'000;
  std::size_t max_pending = 10'000;           // commands sent and not ended; beyond: local ERR
};

class Client {
public:
  enum class State {
    kUp,       // logged in
    kDown,     // the connection is gone (or never came); with reconnect a new attempt follows
    kFailed,   // final: no reconnect, a refused LOGIN, or close() done
  };
  using StateFn = std::function<void(State state, const std::string& why)>;
  // One answer map (rsp, and uri/qid/opt/hdr/sid/data as the server sent them), or a local ERR.
  using Handler = std::function<void(const Json& answer)>;

  Client(uv_loop_t* loop, Env& env, ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects and logs in; on_state follows every change (always from a later loop turn).
  void start(StateFn on_state);
  bool up() const { return up_; }
  const std::string& where() const { return where_; }

  // Sends `command` (a map with ft, no id) and returns its id; `handler` may be empty when no
  // answer matters. YIELD, CONFIRM and PUSH without ack get no answer: their handler is never
  // called. TRACE and REG are sent again after a reconnect. After close() or a final failure,
  // or beyond max_pending, the handler gets the local ERR (from a later loop turn).
  Id send(Json command, Handler handler);
  // Ends a standing command (TRACE or REG) on the client's side: no answer reaches its handler
  // any more and it is not sent again. The caller sends the UNTRACE or UNREG.
  void forget(Id id);
  // The server's qid of a standing command's latest ACK (0 before it).
  Id qid_of(Id id) const;

  // GOODBYE once what is queued is written, then the connection closes; done() after. Commands
  // still in flight end with the local ERR first.
  void close(std::function<void()> done);
  // Drops the connection now; no callback runs afterwards.
  void shutdown();

  // The answer's rsp is ERR.
  static bool is_error(const Json& answer);
  // "code: message" of an ERR answer.
  static std::string error_text(const Json& answer);

private:
  using Link = net::ClientLink<Client>;   // the connection's handler
  struct Command {
    Json message;          // with its id
    std::shared_ptr<Handler> handler;   // shared: an answer's call survives forget()
    bool standing = false; // TRACE, REG
    Id qid = 0;            // from the latest ACK
  };

  void connect();
  void on_bytes(std::string_view bytes);
  void on_answer(const Json& answer);
  void on_connection_closed(std::optional<net::ClientFailure> failure);
  void lost(const std::string& why);      // the connection is gone: end, maybe retry
  void fail(const std::string& why);      // final
  void write(const Json& message);
  void flush_waiting();                   // after LOGIN's OK
  void end_in_flight(const std::string& why, bool keep_standing);
  void end_command(Id id, const std::string& code, const std::string& why);
  void notify(State state, const std::string& why);
  void drop_connection();
  void cancel_timers();
  std::uint64_t next_delay();

  uv_loop_t* loop_;
  Env& env_;
  ClientOptions options_;
  std::string where_;
  StateFn on_state_;
  net::TcpClient* conn_ = nullptr;   // valid until Link::on_close
  Link* link_ = nullptr;             // owned by conn_
  std::unique_ptr<StreamDecoder> decoder_;
  bool started_ = false, up_ = false, failed_ = false, closing_ = false, shut_down_ = false;
  Id next_id_ = 0;
  Id login_id_ = 0;
  std::map<Id, Command> commands_;   // by id, in order of sending
  std::deque<Id> waiting_;           // sent before LOGIN's OK
  std::function<void()> close_done_;
  Env::TimerId retry_timer_ = 0, login_timer_ = 0;
  unsigned attempts_ = 0;            // failed attempts since the last LOGIN OK
  std::string out_;                  // encode buffer
  // Expires with shutdown() or the destructor: code after a callback checks it before touching
  // the client again, and scheduled callbacks do not run.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace fox::foxp
