// The page served at GET / until the dashboard exists.
#pragma once
#include <string>

namespace fox::http {
std::string status_page(const std::string& version);
}
