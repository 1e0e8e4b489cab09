// encode() and encode_event(): one writer per message type, over a reusable per-thread buffer.
#include <charconv>
#include <utility>

#include "wamp/codec.hpp"
#include "wamp/codec_internal.hpp"

namespace fox::wamp {

// ---------------------------------------------------------------------------------------------
// Encoding: the message array is written element by element straight into the output string
// (no intermediate Json array, so args/kwargs/details are never copied).

namespace {

// nlohmann's writers are built once per thread around one reusable buffer: building them per
// message (a shared_ptr adapter, a 512-byte indent string, localeconv()) cost as much as the
// encoding itself. Messages are never encoded re-entrantly, so one buffer per thread suffices.
struct Scratch {
  std::string out;
  nlohmann::detail::output_adapter_t<char> adapter = nlohmann::detail::output_adapter<char>(out);
  nlohmann::detail::serializer<Json> json{adapter, ' ', nlohmann::json::error_handler_t::replace};
  nlohmann::detail::binary_writer<Json, char> binary{adapter};
};

// Above this size the buffer leaves with the message instead of being copied (and kept).
constexpr std::size_t kScratchKeep = 64 * 1024;

Scratch& scratch() {
  thread_local Scratch instance;
  return instance;
}

class Writer {
public:
  // Writes the array header and the message type code.
  Writer(Serializer serializer, std::size_t count, MessageType type)
      : serializer_(serializer), scratch_(scratch()), out_(scratch_.out) {
    out_.clear();
    switch (serializer_) {
      case Serializer::kJson: out_ += '['; break;
      // Every WAMP message has fewer than 16 elements: one-byte array headers.
      case Serializer::kMsgpack: out_ += static_cast<char>(0x90 | count); break;
      case Serializer::kCbor: out_ += static_cast<char>(0x80 | count); break;
    }
    uint(static_cast<std::uint64_t>(type));
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void uint(std::uint64_t v) {
    separator();
    switch (serializer_) {
      case Serializer::kJson: {
        char buf[24];
        const auto res = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, res.ptr);
        break;
      }
      case Serializer::kMsgpack:
        if (v < 0x80) {
          out_ += static_cast<char>(v);
        } else if (v <= 0xff) {
          out_ += static_cast<char>(0xcc);
          big_endian(v, 1);
        } else if (v <= 0xffff) {
          out_ += static_cast<char>(0xcd);
          big_endian(v, 2);
        } else if (v <= 0xffffffff) {
          out_ += static_cast<char>(0xce);
          big_endian(v, 4);
        } else {
          out_ += static_cast<char>(0xcf);
          big_endian(v, 8);
        }
        break;
      case Serializer::kCbor: cbor_head(0x00, v); break;
    }
  }

  void str(std::string_view s) {
    switch (serializer_) {
      case Serializer::kJson:
        value(Json(s));  // nlohmann escapes (and repairs invalid UTF-8)
        return;
      case Serializer::kMsgpack:
        separator();
        if (s.size() < 32) {
          out_ += static_cast<char>(0xa0 | s.size());
        } else if (s.size() <= 0xff) {
          out_ += static_cast<char>(0xd9);
          big_endian(s.size(), 1);
        } else if (s.size() <= 0xffff) {
          out_ += static_cast<char>(0xda);
          big_endian(s.size(), 2);
        } else {
          out_ += static_cast<char>(0xdb);
          big_endian(s.size(), 4);
        }
        break;
      case Serializer::kCbor:
        separator();
        cbor_head(0x60, s.size());
        break;
    }
    out_.append(s);
  }

  // A dict field: null (a default-constructed Json) is written as {} so the output stays valid.
  void dict(const Json& d) {
    if (d.is_null()) {
      empty_container('{', 0x80, 0xa0);
    } else {
      value(d);
    }
  }

  void empty_array() { empty_container('[', 0x90, 0x80); }

  void value(const Json& v) {
    separator();
    if (serializer_ == Serializer::kJson) {
      if ((v.is_structured() || v.is_binary()) && contains_binary(v)) {
        scratch_.json.dump(to_json_binary(v), false, false, 0);
      } else {
        scratch_.json.dump(v, false, false, 0);
      }
      return;
    }
    if (serializer_ == Serializer::kMsgpack) {
      scratch_.binary.write_msgpack(v);
    } else {
      scratch_.binary.write_cbor(v);
    }
  }

  // Arguments|list, ArgumentsKw|dict or the passthru payload, whichever are present.
  static std::size_t tail_count(const Json& args, const Json& kwargs, const Json& payload) {
    if (!payload.is_null()) return 1;
    if (!kwargs.is_null()) return 2;
    return args.is_null() ? 0 : 1;
  }

  void tail(const Json& args, const Json& kwargs, const Json& payload) {
    if (!payload.is_null()) {
      value(payload);
      return;
    }
    if (kwargs.is_null() && args.is_null()) return;
    if (args.is_null()) {
      empty_array();
    } else {
      value(args);
    }
    if (!kwargs.is_null()) value(kwargs);
  }

  std::string finish() {
    if (serializer_ == Serializer::kJson) out_ += ']';
    if (out_.size() > kScratchKeep) return std::exchange(out_, std::string());
    return out_;
  }

private:
  void separator() {
    if (serializer_ == Serializer::kJson && !first_) out_ += ',';
    first_ = false;
  }

  void empty_container(char json_open, unsigned msgpack, unsigned cbor) {
    separator();
    switch (serializer_) {
      case Serializer::kJson:
        out_ += json_open;
        out_ += json_open == '[' ? ']' : '}';
        break;
      case Serializer::kMsgpack: out_ += static_cast<char>(msgpack); break;
      case Serializer::kCbor: out_ += static_cast<char>(cbor); break;
    }
  }

  void big_endian(std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }

  void cbor_head(unsigned major, std::uint64_t v) {
    if (v < 24) {
      out_ += static_cast<char>(major | v);
    } else if (v <= 0xff) {
      out_ += static_cast<char>(major | 24);
      big_endian(v, 1);
    } else if (v <= 0xffff) {
      out_ += static_cast<char>(major | 25);
      big_endian(v, 2);
    } else if (v <= 0xffffffff) {
      out_ += static_cast<char>(major | 26);
      big_endian(v, 4);
    } else {
      out_ += static_cast<char>(major | 27);
      big_endian(v, 8);
    }
  }

  Serializer serializer_;
  Scratch& scratch_;
  std::string& out_;
  bool first_ = true;
};

std::string write(Serializer s, const Hello& m) {
  Writer w(s, 3, Hello::kType);
  w.str(m.realm);
  w.dict(m.details);
  return w.finish();
}

std::string write(Serializer s, const Welcome& m) {
  Writer w(s, 3, Welcome::kType);
  w.uint(m.session);
  w.dict(m.details);
  return w.finish();
}

std::string write(Serializer s, const Abort& m) {
  Writer w(s, 3, Abort::kType);
  w.dict(m.details);
  w.str(m.reason);
  return w.finish();
}

std::string write(Serializer s, const Challenge& m) {
  Writer w(s, 3, Challenge::kType);
  w.str(m.authmethod);
  w.dict(m.extra);
  return w.finish();
}

std::string write(Serializer s, const Authenticate& m) {
  Writer w(s, 3, Authenticate::kType);
  w.str(m.signature);
  w.dict(m.extra);
  return w.finish();
}

std::string write(Serializer s, const Goodbye& m) {
  Writer w(s, 3, Goodbye::kType);
  w.dict(m.details);
  w.str(m.reason);
  return w.finish();
}

std::string write(Serializer s, const Error& m) {
  Writer w(s, 5 + Writer::tail_count(m.args, m.kwargs, m.payload), Error::kType);
  w.uint(static_cast<std::uint64_t>(m.request_type));
  w.uint(m.request);
  w.dict(m.details);
  w.str(m.error);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Publish& m) {
  Writer w(s, 4 + Writer::tail_count(m.args, m.kwargs, m.payload), Publish::kType);
  w.uint(m.request);
  w.dict(m.options);
  w.str(m.topic);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Published& m) {
  Writer w(s, 3, Published::kType);
  w.uint(m.request);
  w.uint(m.publication);
  return w.finish();
}

std::string write(Serializer s, const Subscribe& m) {
  Writer w(s, 4, Subscribe::kType);
  w.uint(m.request);
  w.dict(m.options);
  w.str(m.topic);
  return w.finish();
}

std::string write(Serializer s, const Subscribed& m) {
  Writer w(s, 3, Subscribed::kType);
  w.uint(m.request);
  w.uint(m.subscription);
  return w.finish();
}

std::string write(Serializer s, const Unsubscribe& m) {
  Writer w(s, 3, Unsubscribe::kType);
  w.uint(m.request);
  w.uint(m.subscription);
  return w.finish();
}

std::string write(Serializer s, const Unsubscribed& m) {
  Writer w(s, m.details.is_null() ? 2 : 3, Unsubscribed::kType);
  w.uint(m.request);
  if (!m.details.is_null()) w.dict(m.details);
  return w.finish();
}

std::string write(Serializer s, const Event& m) {
  Writer w(s, 4 + Writer::tail_count(m.args, m.kwargs, m.payload), Event::kType);
  w.uint(m.subscription);
  w.uint(m.publication);
  w.dict(m.details);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Call& m) {
  Writer w(s, 4 + Writer::tail_count(m.args, m.kwargs, m.payload), Call::kType);
  w.uint(m.request);
  w.dict(m.options);
  w.str(m.procedure);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Cancel& m) {
  Writer w(s, 3, Cancel::kType);
  w.uint(m.request);
  w.dict(m.options);
  return w.finish();
}

std::string write(Serializer s, const Result& m) {
  Writer w(s, 3 + Writer::tail_count(m.args, m.kwargs, m.payload), Result::kType);
  w.uint(m.request);
  w.dict(m.details);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Register& m) {
  Writer w(s, 4, Register::kType);
  w.uint(m.request);
  w.dict(m.options);
  w.str(m.procedure);
  return w.finish();
}

std::string write(Serializer s, const Registered& m) {
  Writer w(s, 3, Registered::kType);
  w.uint(m.request);
  w.uint(m.registration);
  return w.finish();
}

std::string write(Serializer s, const Unregister& m) {
  Writer w(s, 3, Unregister::kType);
  w.uint(m.request);
  w.uint(m.registration);
  return w.finish();
}

std::string write(Serializer s, const Unregistered& m) {
  Writer w(s, m.details.is_null() ? 2 : 3, Unregistered::kType);
  w.uint(m.request);
  if (!m.details.is_null()) w.dict(m.details);
  return w.finish();
}

std::string write(Serializer s, const Invocation& m) {
  Writer w(s, 4 + Writer::tail_count(m.args, m.kwargs, m.payload), Invocation::kType);
  w.uint(m.request);
  w.uint(m.registration);
  w.dict(m.details);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

std::string write(Serializer s, const Interrupt& m) {
  Writer w(s, 3, Interrupt::kType);
  w.uint(m.request);
  w.dict(m.options);
  return w.finish();
}

std::string write(Serializer s, const Yield& m) {
  Writer w(s, 3 + Writer::tail_count(m.args, m.kwargs, m.payload), Yield::kType);
  w.uint(m.request);
  w.dict(m.options);
  w.tail(m.args, m.kwargs, m.payload);
  return w.finish();
}

}  // namespace

std::string encode(Serializer serializer, const Message& message) {
  try {
    return std::visit([serializer](const auto& m) { return write(serializer, m); }, message);
  } catch (...) {
    // Only memory exhaustion can get here; an empty frame is dropped by the session.
    return {};
  }
}

std::string encode_event(Serializer serializer, Id subscription, Id publication,
                         const Json& details, const Json& args, const Json& kwargs) {
  try {
    static const Json kNoPayload;
    Writer w(serializer, 4 + Writer::tail_count(args, kwargs, kNoPayload), MessageType::kEvent);
    w.uint(subscription);
    w.uint(publication);
    w.dict(details);
    w.tail(args, kwargs, kNoPayload);
    return w.finish();
  } catch (...) {
    return {};
  }
}

}  // namespace fox::wamp
