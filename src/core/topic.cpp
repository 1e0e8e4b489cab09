#include "core/topic.hpp"

namespace fox {

TopicParts split_topic(std::string_view text, char separator) {
  TopicParts parts;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.emplace_back(text.substr(start));
      return parts;
    }
    parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
}

std::string join_topic(const TopicParts& parts, char separator) {
  std::string out;
  std::size_t size = parts.empty() ? 0 : parts.size() - 1;
  for (const auto& part : parts) size += part.size();
  out.reserve(size);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

bool is_wildcard_part(std::string_view part) {
  return part == kWildcardOne || part == kWildcardMany;
}

bool has_wildcard_part(const TopicParts& parts) {
  for (const auto& part : parts) {
    if (is_wildcard_part(part)) return true;
  }
  return false;
}

bool has_empty_part(const TopicParts& parts) {
  for (const auto& part : parts) {
    if (part.empty()) return true;
  }
  return false;
}

bool valid_publish_topic(const TopicParts& parts, bool allow_empty_parts) {
  if (parts.empty()) return false;
  if (has_wildcard_part(parts)) return false;
  if (!allow_empty_parts && has_empty_part(parts)) return false;
  return true;
}

bool is_dollar_topic(const TopicParts& parts) {
  return !parts.empty() && !parts[0].empty() && parts[0][0] == '$';
}

}  // namespace fox
