#include <doctest/doctest.h>

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
  CHECK_FALSE(valid_publish_topic(split_topic("a.*"), false));
  CHECK_FALSE(valid_publish_topic(split_topic("#"), true));
  CHECK(valid_publish_topic(split_topic("a.b*"), false));  // only whole parts are wildcards
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
