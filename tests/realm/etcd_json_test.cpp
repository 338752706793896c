// The gateway's encoding without an etcd: base64, prefix ranges, and readers that turn every
// malformed answer into an error.
#include "lib/realm/etcd_json.h"

#include "lib/common/base64.h"

#include <gtest/gtest.h>

namespace maya::realm::etcd {
namespace {

using nlohmann::json;

TEST(EtcdJson, Base64RoundTripsEveryByteAndLength) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t n = 0; n <= all.size(); n += (n < 8 ? 1 : 37)) {
    std::string bytes = all.substr(all.size() - n);
    auto back = base64_decode(base64_encode(bytes));
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_EQ(*back, bytes) << "length " << n;
  }
  EXPECT_EQ(base64_encode("a"), "YQ==");
  EXPECT_EQ(base64_encode("ab"), "YWI=");
  EXPECT_EQ(base64_encode("abc"), "YWJj");
}

TEST(EtcdJson, Base64RefusesWhatIsNotBase64) {
  for (const char* bad : {"abc", "ab=c", "a===", "@@@@", "YQ==YQ==", "Y Q=", "YQ=\n"}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
  }
}

TEST(EtcdJson, PrefixEndIsThePrefixWithItsLastByteIncremented) {
  EXPECT_EQ(prefix_end("a/"), "a0");
  EXPECT_EQ(prefix_end("a"), "b");
  EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_end(std::string("\xff\xff", 2)), std::string(1, '\0'));
  EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
  // "ab" sorts outside ["a/", "a0"): a sibling prefix is not listed.
  EXPECT_FALSE(std::string("ab") < prefix_end("a/"));
}

TEST(EtcdJson, KeyValueReadsTheGatewaysShapes) {
  // proto3 leaves out zeros and empty strings.
  auto kv = key_value(json::parse(R"({"key":"YQ==","create_revision":"2","mod_revision":"7"})"));
  ASSERT_TRUE(kv.has_value()) << kv.error().message;
  EXPECT_EQ(kv->key, "a");
  EXPECT_EQ(kv->value, "");
  EXPECT_EQ(kv->create_revision, 2);
  EXPECT_EQ(kv->mod_revision, 7);
  EXPECT_EQ(kv->lease, 0);
  for (const char* bad : {R"({"key":5})", R"({"key":"!!!!"})", R"({"key":"YQ==","lease":{}})",
                          R"({"key":"YQ==","mod_revision":"12x"})", R"([1,2])", R"("text")",
                          R"({"key":"YQ==","mod_revision":"99999999999999999999"})"}) {
    auto result = key_value(json::parse(bad));
    EXPECT_FALSE(result.has_value()) << bad;
  }
}

TEST(EtcdJson, RefusalsOfUnaryCallsAndStreams) {
  auto unary = refusal(json::parse(R"({"error":"etcdserver: invalid auth token","code":16})"));
  ASSERT_TRUE(unary.has_value());
  EXPECT_EQ(unary->code, 16);
  EXPECT_TRUE(token_rejected(*unary));
  auto stream = refusal(json::parse(R"({"error":{"grpc_code":5,"message":"lease not found"}})"));
  ASSERT_TRUE(stream.has_value());
  EXPECT_EQ(stream->code, 5);
  EXPECT_EQ(stream->message, "lease not found");
  EXPECT_FALSE(token_rejected(*stream));
  EXPECT_FALSE(refusal(json::parse(R"({"header":{}})")).has_value());
  EXPECT_FALSE(refusal(json::parse("[]")).has_value());
}

TEST(EtcdJson, PrintableEscapesBytes) {
  EXPECT_EQ(printable(std::string("a/\0\xff", 4)), "a/\\x00\\xff");
}

}  // namespace
}  // namespace maya::realm::etcd
