#include "core/json.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace fox {
namespace {

// Objects up to this size are searched linearly; a larger one gets a hash index.
constexpr std::size_t kIndexFrom = 32;

using Object = Json::object_t;   // ordered_map: a vector of (key, value)

// The member at a position (ordered_map's operator[] takes a key, not a position).
Object::value_type& nth(Object& o, std::size_t i) { return *(o.begin() + static_cast<long>(i)); }
const Object::value_type& nth(const Object& o, std::size_t i) {
  return *(o.begin() + static_cast<long>(i));
}

// Key → position in an object, for the large ones.
class ObjectIndex {
public:
  explicit ObjectIndex(const Object& object) {
    map_.reserve(object.size() * 2);
    for (std::size_t i = 0; i < object.size(); ++i) map_.emplace(nth(object, i).first, i);
  }
  const std::size_t* find(std::string_view key) const {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }
  void add(std::string_view key, std::size_t position) { map_.emplace(key, position); }

private:
  // Keys are copied: the object's own strings move when its vector grows.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::size_t, Hash, std::equal_to<>> map_;
};

const Json* find_member(const Object& object, const ObjectIndex* index, std::string_view key) {
  if (index) {
    const std::size_t* at = index->find(key);
    return at ? &nth(object, *at).second : nullptr;
  }
  for (const auto& [k, v] : object) {
    if (k == key) return &v;
  }
  return nullptr;
}

// A SAX handler that builds an ordered_json DOM in linear time, with the nesting and length
// limits of every parser in fox.
class Builder {
public:
  Builder(Json& root, std::size_t input_size) : root_(root), input_size_(input_size) {}

  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(Json::number_integer_t v) { return put(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return put(v); }
  bool number_float(Json::number_float_t v, const Json::string_t&) { return put(v); }
  bool string(Json::string_t& v) { return put(std::move(v)); }
  bool binary(Json::binary_t& v) { return put(std::move(v)); }

  bool start_object(std::size_t len) {
    if (!enter(len)) return false;
    stack_.push_back(Frame{place(Json::value_t::object), nullptr});
    return true;
  }
  bool key(Json::string_t& k) {
    Frame& f = stack_.back();
    Object& object = f.value->get_ref<Object&>();
    if (f.index) {
      if (const std::size_t* at = f.index->find(k)) {
        member_ = &nth(object, *at).second;
        return true;
      }
    } else {
      for (auto& [existing, value] : object) {
        if (existing == k) {
          member_ = &value;
          return true;
        }
      }
    }
    object.emplace_back(std::move(k), nullptr);
    if (f.index) {
      f.index->add(object.back().first, object.size() - 1);
    } else if (object.size() >= kIndexFrom) {
      f.index = std::make_unique<ObjectIndex>(object);
    }
    member_ = &object.back().second;
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t len) {
    if (!enter(len)) return false;
    stack_.push_back(Frame{place(Json::value_t::array), nullptr});
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception&) {
    return false;
  }

  bool too_deep() const { return too_deep_; }
  bool bad_length() const { return bad_length_; }

private:
  struct Frame {
    Json* value;
    std::unique_ptr<ObjectIndex> index;   // objects of kIndexFrom members or more
  };

  // Builds the next value in place: at the root, at the end of the current array, or in the
  // member whose key came last. A pointer into a container stays valid while a nested value is
  // built: only the innermost container grows.
  template <typename V>
  Json* place(V&& v) {
    if (stack_.empty()) {
      root_ = Json(std::forward<V>(v));
      return &root_;
    }
    Json& top = *stack_.back().value;
    if (top.is_array()) {
      auto& array = top.get_ref<Json::array_t&>();
      array.emplace_back(std::forward<V>(v));
      return &array.back();
    }
    *member_ = Json(std::forward<V>(v));
    return member_;
  }
  template <typename V>
  bool put(V&& v) {
    place(std::forward<V>(v));
    return true;
  }
  bool enter(std::size_t len) {
    if (stack_.size() + 1 > static_cast<std::size_t>(kMaxJsonNesting)) {
      too_deep_ = true;
      return false;
    }
    if (len != static_cast<std::size_t>(-1) && len > input_size_) {
      bad_length_ = true;
      return false;
    }
    return true;
  }

  Json& root_;
  std::size_t input_size_;
  std::vector<Frame> stack_;
  Json* member_ = nullptr;
  bool too_deep_ = false;
  bool bad_length_ = false;
};

}  // namespace

JsonParse parse_json(JsonFormat format, std::string_view bytes, Json* out) {
  Builder builder(*out, bytes.size());
  const char* begin = bytes.data();
  const char* end = begin + bytes.size();
  bool ok = false;
  try {
    if (format == JsonFormat::kJson) {
      ok = Json::sax_parse(begin, end, &builder, Json::input_format_t::json, /*strict=*/true,
                           /*ignore_comments=*/false);
    } else {
      const auto f = format == JsonFormat::kMsgpack ? Json::input_format_t::msgpack
                                                    : Json::input_format_t::cbor;
      auto adapter = nlohmann::detail::input_adapter(begin, end);
      nlohmann::detail::binary_reader<Json, decltype(adapter), Builder> reader(std::move(adapter),
                                                                              f);
      // Tags carry no meaning for fox; ignoring them keeps encoders that add a self-describe tag
      // working.
      ok = reader.sax_parse(f, &builder, /*strict=*/true, Json::cbor_tag_handler_t::ignore);
    }
  } catch (...) {
    // nlohmann's readers report errors through parse_error; anything else (allocation) is a
    // refusal of this one input, never an exception through the loop.
    ok = false;
  }
  if (ok) return JsonParse::kOk;
  if (builder.too_deep()) return JsonParse::kTooDeep;
  if (builder.bad_length()) return JsonParse::kBadLength;
  return JsonParse::kSyntax;
}

bool json_equal(const Json& a, const Json& b) {
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    const Object& bo = b.get_ref<const Object&>();
    std::unique_ptr<ObjectIndex> index;
    if (bo.size() >= kIndexFrom) index = std::make_unique<ObjectIndex>(bo);
    for (const auto& [key, value] : a.get_ref<const Object&>()) {
      const Json* found = find_member(bo, index.get(), key);
      if (!found || !json_equal(value, *found)) return false;
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!json_equal(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

bool json_subset(const Json& pattern, const Json& value) {
  if (!pattern.is_object()) return json_equal(pattern, value);
  if (!value.is_object()) return false;
  const Object& vo = value.get_ref<const Object&>();
  std::unique_ptr<ObjectIndex> index;
  if (vo.size() >= kIndexFrom && pattern.size() > 1) index = std::make_unique<ObjectIndex>(vo);
  for (const auto& [key, member] : pattern.get_ref<const Object&>()) {
    const Json* found = find_member(vo, index.get(), key);
    if (!found) {
      if (member.is_null()) continue;
      return false;
    }
    if (!json_subset(member, *found)) return false;
  }
  return true;
}

void json_merge_patch(Json& target, const Json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = Json::object();
  Object& to = target.get_ref<Object&>();
  const Object& po = patch.get_ref<const Object&>();
  std::unique_ptr<ObjectIndex> index;
  if (to.size() >= kIndexFrom || po.size() >= kIndexFrom) index = std::make_unique<ObjectIndex>(to);
  std::vector<bool> removed;   // by position in `to`; compacted once at the end
  for (const auto& [key, value] : po) {   // a parsed object has each key once
    std::size_t at = to.size();
    if (index) {
      if (const std::size_t* found = index->find(key)) at = *found;
    } else {
      for (std::size_t i = 0; i < to.size(); ++i) {
        if (nth(to, i).first == key) {
          at = i;
          break;
        }
      }
    }
    if (value.is_null()) {   // RFC 7396: null removes the member
      if (at < to.size()) {
        removed.resize(to.size(), false);
        removed[at] = true;
      }
    } else if (at < to.size()) {
      json_merge_patch(nth(to, at).second, value);
    } else {
      Json fresh;
      json_merge_patch(fresh, value);
      to.emplace_back(key, std::move(fresh));
      if (index) index->add(to.back().first, to.size() - 1);
    }
  }
  if (removed.empty()) return;
  Object kept;
  for (std::size_t i = 0; i < to.size(); ++i) {
    if (i >= removed.size() || !removed[i]) kept.emplace_back(nth(to, i).first, std::move(nth(to, i).second));
  }
  to.swap(kept);
}

Json json_sorted(const Json& value) {
  if (value.is_array()) {
    Json out = Json::array();
    for (const auto& item : value) out.push_back(json_sorted(item));
    return out;
  }
  if (!value.is_object()) return value;
  std::vector<const Object::value_type*> members;
  for (const auto& member : value.get_ref<const Object&>()) members.push_back(&member);
  std::sort(members.begin(), members.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  Json out = Json::object();
  Object& o = out.get_ref<Object&>();
  for (const auto* m : members) o.emplace_back(m->first, json_sorted(m->second));   // keys unique
  return out;
}

bool optional_bool(const Json& object, const char* key, bool* out) {
  if (!object.is_object()) return true;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  if (!it->is_boolean()) return false;
  *out = it->get<bool>();
  return true;
}

}  // namespace fox
