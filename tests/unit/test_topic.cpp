#include <doctest/doctest.h>
#include <set>
#include <string>
#include <vector>

#include "core/topic.hpp"

using namespace fox;

TEST_CASE("a dotted topic splits into its parts and joins back") {
  TopicParts parts = split_topic("a.b.c");
  CHECK(parts == TopicParts{"a", "b", "c"});
  CHECK(join_topic(parts) == "a.b.c");
}

TEST_CASE("empty parts are kept when splitting") {
  CHECK(split_topic("") == TopicParts{""});
  CHECK(split_topic("a..b") == TopicParts{"a", "", "b"});
  CHECK(split_topic(".x.") == TopicParts{"", "x", ""});
  CHECK(join_topic(split_topic("a..b")) == "a..b");
}

TEST_CASE("an MQTT topic splits on slashes and joins with dots") {
  TopicParts parts = split_topic("app/topic/name", kMqttSeparator);
  CHECK(parts == TopicParts{"app", "topic", "name"});
  CHECK(join_topic(parts) == "app.topic.name");
  CHECK(join_topic(split_topic("app.topic.name"), kMqttSeparator) == "app/topic/name");
}

TEST_CASE("a publish topic may not contain wildcard parts") {
  CHECK(valid_publish_topic(split_topic("a.b"), false));
  CHECK_FALSE(valid_publish_topic(wamp_pattern_parts("a.*"), false));
  CHECK_FALSE(valid_publish_topic(wamp_pattern_parts("#"), true));
  CHECK(valid_publish_topic(wamp_pattern_parts("a.b*"), false));  // only whole parts are wildcards
}

TEST_CASE("a WAMP publish topic may not contain empty parts but an MQTT one may") {
  CHECK_FALSE(valid_publish_topic(split_topic("a..b"), false));
  CHECK_FALSE(valid_publish_topic(split_topic(""), false));
  CHECK(valid_publish_topic(split_topic("a//b", kMqttSeparator), true));
  CHECK_FALSE(valid_publish_topic(TopicParts{}, true));
}

TEST_CASE("a topic whose first part starts with a dollar is a dollar topic") {
  CHECK(is_dollar_topic(split_topic("$SYS.broker")));
  CHECK_FALSE(is_dollar_topic(split_topic("a.$SYS")));
  CHECK_FALSE(is_dollar_topic(split_topic("")));
}

// ---- WAMP text and MQTT levels (core/topic.hpp) ------------------------------------------------

TEST_CASE("a part that needs no escape is written as is, so ordinary WAMP URIs never change") {
  for (const char* uri : {"a.b.c", "com.myapp.topic1", "a.b*", "a.**", "x.50%", "x.100%zz", "a+b"}) {
    CHECK(wamp_uri(wamp_topic_parts(uri)) == uri);
  }
}

TEST_CASE("a part with a dot, whitespace, a hash or a lone star is percent-escaped in WAMP text") {
  CHECK(wamp_uri({"r", "x.y"}) == "r.x%2Ey");
  CHECK(wamp_uri({"star", "*"}) == "star.%2A");
  CHECK(wamp_uri({"room 1", "t"}) == "room%201.t");
  CHECK(wamp_uri({"a#b"}) == "a%23b");
  CHECK(wamp_uri({"50%.off"}) == "50%25%2Eoff");   // '%' escaped in a part that needs escapes
  CHECK(wamp_uri({"a%2Eb"}) == "a%252Eb");         // a literal that would read as an escape
  CHECK(wamp_topic_parts("r.x%2Ey") == TopicParts{"r", "x.y"});
  CHECK(wamp_topic_parts("r.x%2ey") == TopicParts{"r", "x.y"});   // hex in either case
  CHECK(wamp_topic_parts("star.%2A") == TopicParts{"star", "*"});
}

TEST_CASE("every list of parts has one WAMP text and reads back from it") {
  const std::vector<TopicParts> topics = {
      {"a", "b"}, {"a.b"}, {"a", ".b"}, {"*"}, {"**"}, {"%"}, {"%25"}, {"%2E"}, {"a%2Eb"},
      {"x y", "\t"}, {"#"}, {"", ""}, {"."}, {"a/b", "c"}, {"50%.off", "%2A", "*"}};
  std::set<std::string> texts;
  for (const auto& t : topics) {
    const std::string text = wamp_uri(t);
    INFO(text);
    CHECK(wamp_topic_parts(text) == t);
    CHECK(texts.insert(text).second);   // injective
  }
}

TEST_CASE("wildcards are markers: WAMP * and #, MQTT + and #; MQTT's * is a literal level") {
  CHECK(wamp_pattern_parts("a.*.#") == TopicParts{"a", kAnyPart, kAnyParts});
  CHECK(wamp_uri(wamp_pattern_parts("a.*.#")) == "a.*.#");
  CHECK(mqtt_filter_parts("a/+/#") == TopicParts{"a", kAnyPart, kAnyParts});
  CHECK(mqtt_filter_parts("star/*") == TopicParts{"star", "*"});
  CHECK_FALSE(has_wildcard_part(mqtt_topic_parts("star/*")));
  CHECK(wamp_uri(mqtt_filter_parts("star/*")) != wamp_uri(mqtt_filter_parts("star/+")));
}

TEST_CASE("a part holding a slash, plus or hash has no MQTT topic name") {
  std::string name;
  REQUIRE(mqtt_topic_name({"r", "x.y", "*"}, &name));
  CHECK(name == "r/x.y/*");
  CHECK_FALSE(mqtt_topic_name({"a", "b/c"}, &name));
  CHECK_FALSE(mqtt_topic_name({"a", "+"}, &name));
  CHECK_FALSE(mqtt_topic_name({"a", "x#y"}, &name));
  CHECK_FALSE(mqtt_topic_name({"a", kAnyPart}, &name));
}
