#include "core/topic.hpp"

#include <algorithm>

namespace fox {

const std::string kAnyPart("\0+", 2);
const std::string kAnyParts("\0#", 2);

namespace {

// Characters a WAMP URI part cannot hold (loose URI rules: no '.', no whitespace, no '#').
bool wamp_special(char c) {
  return c == '.' || c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The character a "%XX" at `text[i]` stands for, or -1: only the escapes wamp_part() writes are
// decoded, so any other '%' in a WAMP URI is plain text.
int escape_at(std::string_view text, std::size_t i) {
  if (i + 2 >= text.size() || text[i] != '%') return -1;
  const int hi = hex_value(text[i + 1]);
  const int lo = hex_value(text[i + 2]);
  if (hi < 0 || lo < 0) return -1;
  const char c = static_cast<char>(hi * 16 + lo);
  return (wamp_special(c) || c == '%' || c == '*') ? c : -1;
}

std::string decode_part(std::string_view part) {
  if (part.find('%') == std::string_view::npos) return std::string(part);
  std::string out;
  out.reserve(part.size());
  for (std::size_t i = 0; i < part.size(); ++i) {
    const int c = escape_at(part, i);
    if (c >= 0) {
      out += static_cast<char>(c);
      i += 2;
    } else {
      out += part[i];
    }
  }
  return out;
}

bool needs_escapes(std::string_view part) {
  if (part == "*") return true;
  for (std::size_t i = 0; i < part.size(); ++i) {
    if (wamp_special(part[i])) return true;
    if (escape_at(part, i) >= 0) return true;
  }
  return false;
}

void append_escape(char c, std::string& out) {
  static const char kHex[] = "0123456789ABCDEF";
  out += '%';
  out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
  out += kHex[static_cast<unsigned char>(c) & 0xF];
}

}  // namespace

bool is_wildcard_part(std::string_view part) { return part == kAnyPart || part == kAnyParts; }

namespace {
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool bad_uri_char(char c) { return is_space(c) || c == '#' || c == '\0'; }
}  // namespace

bool valid_wamp_uri(std::string_view uri, bool wildcards, bool empty_parts) {
  // One pass over the text, no allocation (this runs for every PUBLISH).
  std::size_t start = 0;
  while (true) {
    const std::size_t end = std::min(uri.find('.', start), uri.size());
    const std::string_view p = uri.substr(start, end - start);
    if (p.empty()) {
      if (!empty_parts) return false;
    } else if (!(wildcards && (p == "*" || p == "#"))) {
      for (char c : p) {
        if (bad_uri_char(c)) return false;
      }
    }
    if (end == uri.size()) return true;
    start = end + 1;
  }
}

bool valid_wamp_prefix(std::string_view uri) {
  if (uri.empty()) return false;
  for (char c : uri) {
    if (bad_uri_char(c)) return false;
  }
  return true;
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

TopicParts wamp_topic_parts(std::string_view uri) {
  TopicParts parts = split_topic(uri, kWampSeparator);
  for (auto& part : parts) {
    if (part.find('%') != std::string::npos) part = decode_part(part);
  }
  return parts;
}

TopicParts wamp_pattern_parts(std::string_view uri) {
  TopicParts parts = split_topic(uri, kWampSeparator);
  for (auto& part : parts) {
    if (part == "*") {
      part = kAnyPart;
    } else if (part == "#") {
      part = kAnyParts;
    } else if (part.find('%') != std::string::npos) {
      part = decode_part(part);
    }
  }
  return parts;
}

std::string wamp_part(std::string_view part) {
  if (part == kAnyPart) return "*";
  if (part == kAnyParts) return "#";
  if (!needs_escapes(part)) return std::string(part);
  std::string out;
  out.reserve(part.size() + 6);
  for (char c : part) {
    if (c == '%' || wamp_special(c) || (c == '*' && part.size() == 1)) {
      append_escape(c, out);
    } else {
      out += c;
    }
  }
  return out;
}

std::string wamp_uri(const TopicParts& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += kWampSeparator;
    if (needs_escapes(parts[i]) || is_wildcard_part(parts[i])) {
      out += wamp_part(parts[i]);
    } else {
      out += parts[i];
    }
  }
  return out;
}

TopicParts mqtt_topic_parts(std::string_view topic) { return split_topic(topic, kMqttSeparator); }

TopicParts mqtt_filter_parts(std::string_view filter) {
  TopicParts parts = split_topic(filter, kMqttSeparator);
  for (auto& part : parts) {
    if (part == "+") part = kAnyPart;
    else if (part == "#") part = kAnyParts;
  }
  return parts;
}

bool mqtt_topic_name(const TopicParts& parts, std::string* out) {
  // '/' would split the part; '+' and '#' are not allowed in an MQTT topic name (MQTT-4.7.1-1).
  for (const auto& part : parts) {
    if (part.find_first_of("/+#") != std::string::npos || is_wildcard_part(part)) return false;
  }
  *out = join_topic(parts, kMqttSeparator);
  return true;
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
