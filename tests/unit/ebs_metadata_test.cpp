// Instance metadata (lib/ebs/metadata): the paths, IMDSv2 tokens and their expiry.
#include "lib/ebs/metadata.h"

#include <gtest/gtest.h>

namespace maya::ebs {
namespace {

using Clock = Metadata::Clock;

http::Request get(const std::string& target, const std::string& token = "") {
  http::Request r{"GET", target, ""};
  if (!token.empty()) r.headers.emplace_back("X-aws-ec2-metadata-token", token);
  return r;
}

http::Request put_token(const std::string& ttl) {
  http::Request r{"PUT", "/latest/api/token", ""};
  if (!ttl.empty()) r.headers.emplace_back("x-aws-ec2-metadata-token-ttl-seconds", ttl);
  return r;
}

TEST(EbsMetadata, AnswersTheDocumentedPathsAsPlainText) {
  Metadata md({"host-1234", "maya-1", "maya-1a"});
  auto id = md.handle(get("/latest/meta-data/instance-id"));
  EXPECT_EQ(id.status, 200);
  EXPECT_EQ(id.body, "host-1234");
  EXPECT_EQ(id.content_type, "text/plain");
  EXPECT_EQ(md.handle(get("/latest/meta-data/placement/availability-zone")).body, "maya-1a");
  EXPECT_EQ(md.handle(get("/latest/meta-data/placement/region")).body, "maya-1");
  // botocore asks with a trailing slash.
  EXPECT_EQ(md.handle(get("/latest/meta-data/placement/availability-zone/")).body, "maya-1a");
  EXPECT_EQ(md.handle(get("/latest/meta-data/")).body, "instance-id\nplacement/");
  EXPECT_EQ(md.handle(get("/latest/meta-data/placement/")).body, "availability-zone\nregion");
  EXPECT_EQ(md.handle(get("/latest/meta-data/ami-id")).status, 404);
  EXPECT_EQ(md.handle(http::Request{"POST", "/latest/meta-data/instance-id", ""}).status, 405);
  EXPECT_TRUE(Metadata::handles("/latest/meta-data/instance-id"));
  EXPECT_FALSE(Metadata::handles("/"));
  EXPECT_FALSE(Metadata::handles("/latestx"));
}

TEST(EbsMetadata, TokensAreCheckedAndExpire) {
  Metadata md({"h", "maya-1", "maya-1a"});
  const auto t0 = Clock::now();
  for (const char* bad : {"", "0", "21601", "-1", "10s", "abc"})
    EXPECT_EQ(md.handle(put_token(bad), t0).status, 400) << bad;
  EXPECT_EQ(md.handle(http::Request{"GET", "/latest/api/token", ""}, t0).status, 405);

  auto issued = md.handle(put_token("60"), t0);
  ASSERT_EQ(issued.status, 200);
  const std::string token = issued.body;
  EXPECT_GE(token.size(), 32u);
  EXPECT_EQ(md.handle(get("/latest/meta-data/instance-id", token), t0).body, "h");
  EXPECT_EQ(
      md.handle(get("/latest/meta-data/instance-id", token), t0 + std::chrono::seconds(59)).status,
      200);
  EXPECT_EQ(
      md.handle(get("/latest/meta-data/instance-id", token), t0 + std::chrono::seconds(60)).status,
      401);
  EXPECT_EQ(md.handle(get("/latest/meta-data/instance-id", "forged"), t0).status, 401);
  // Without a token: IMDSv1.
  EXPECT_EQ(md.handle(get("/latest/meta-data/instance-id"), t0).status, 200);
  // Each token is its own.
  EXPECT_NE(md.handle(put_token("21600"), t0).body, token);
}

}  // namespace
}  // namespace maya::ebs
