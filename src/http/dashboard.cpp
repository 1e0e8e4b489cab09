#include "http/dashboard.hpp"

#include "dashboard_html.hpp"

namespace fox::http {

const std::string& dashboard_page() {
  static const std::string page(kDashboardHtml, sizeof kDashboardHtml - 1);
  return page;
}

}  // namespace fox::http
