#include "router/kv_value.hpp"

namespace fox {

PublicationValue publication_value(const Publication& pub) {
  PublicationValue out;
  if (pub.payload) {
    out.source = PublicationValue::Source::kPayload;
    if (pub.payload->empty()) return out;
    Json parsed;
    if (parse_json(JsonFormat::kJson, *pub.payload, &parsed) != JsonParse::kOk) {
      out.kind = PublicationValue::Kind::kOpaque;
    } else {
      out.kind = PublicationValue::Kind::kJson;
      out.json = std::move(parsed);
    }
    return out;
  }
  const bool has_args = pub.args.is_array() && !pub.args.empty();
  if (has_args) {
    out.kind = PublicationValue::Kind::kJson;
    if (pub.args.size() == 1) {
      out.source = PublicationValue::Source::kFirstArg;
      out.json = pub.args[0];
    } else {
      out.source = PublicationValue::Source::kArgs;
      out.json = pub.args;
    }
    return out;
  }
  if (pub.kwargs.is_object() && !pub.kwargs.empty()) {
    out.kind = PublicationValue::Kind::kJson;
    out.source = PublicationValue::Source::kKwargs;
    out.json = pub.kwargs;
  }
  return out;
}

bool is_empty_publication(const Publication& pub) {
  if (pub.payload) return pub.payload->empty();
  const bool no_args = pub.args.is_null() || (pub.args.is_array() && pub.args.empty()) ||
                       (pub.args.is_array() && pub.args.size() == 1 && pub.args[0].is_null());
  const bool no_kwargs = pub.kwargs.is_null() || (pub.kwargs.is_object() && pub.kwargs.empty());
  return no_args && no_kwargs;
}

bool value_matches(const Json& condition, const PublicationValue& value) {
  using Kind = PublicationValue::Kind;
  if (condition.is_null()) {
    return value.kind == Kind::kAbsent || (value.kind == Kind::kJson && value.json.is_null());
  }
  if (value.kind != Kind::kJson) return false;
  return json_subset(condition, value.json);
}

}  // namespace fox
