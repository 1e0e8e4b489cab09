#include "http/status_page.hpp"

namespace fox::http {

std::string status_page(const std::string& version) {
  return "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>fox</title></head>\n"
         "<body><h1>fox " + version + "</h1>\n"
         "<p>WAMP v2 router and MQTT broker. WAMP over WebSocket: <code>/wamp</code> "
         "(wamp.2.json, wamp.2.msgpack, wamp.2.cbor).</p>\n"
         "<p>The dashboard will live here.</p>\n</body></html>\n";
}

}  // namespace fox::http
