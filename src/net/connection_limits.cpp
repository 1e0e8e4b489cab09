#include "net/connection_limits.hpp"

namespace fox::net {

bool ConnectionLimits::admit(const std::string& ip, std::string* why) {
  if (total_ >= max_total_) {
    *why = std::to_string(max_total_) + " connections already open (limits.max_connections)";
    return false;
  }
  std::size_t& n = per_ip_[ip];
  if (n >= max_per_ip_) {
    if (n == 0) per_ip_.erase(ip);
    *why = std::to_string(max_per_ip_) + " connections already open from " + ip +
           " (limits.max_connections_per_ip)";
    return false;
  }
  ++n;
  ++total_;
  return true;
}

void ConnectionLimits::release(const std::string& ip) {
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end()) return;
  if (--it->second == 0) per_ip_.erase(it);
  if (total_ > 0) --total_;
}

}  // namespace fox::net
