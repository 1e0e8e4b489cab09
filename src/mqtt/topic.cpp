#include "mqtt/topic.hpp"

#include "mqtt/utf8.hpp"

namespace fox::mqtt {

bool valid_topic_name(std::string_view topic) {
  if (topic.empty()) return false;
  if (topic.find_first_of("+#") != std::string_view::npos) return false;
  return valid_mqtt_string(topic);
}

bool valid_topic_filter(std::string_view filter) {
  if (filter.empty()) return false;
  if (!valid_mqtt_string(filter)) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = filter.find('/', start);
    bool last = slash == std::string_view::npos;
    std::string_view level = filter.substr(start, last ? std::string_view::npos : slash - start);
    if (level.size() > 1 && level.find_first_of("+#") != std::string_view::npos) return false;
    if (level == "#" && !last) return false;
    if (last) return true;
    start = slash + 1;
  }
}

}  // namespace fox::mqtt
