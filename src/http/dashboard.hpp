// The dashboard served at GET / (src/http/dashboard/index.html, compiled in): a WAMP application
// in the browser that connects back to /wamp and uses only the public API.
#pragma once
#include <string>

namespace fox::http {
const std::string& dashboard_page();
}
