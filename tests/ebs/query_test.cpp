// The EC2 Query parser: the shapes botocore sends, and hostile bodies.
#include <gtest/gtest.h>

#include "lib/ebs/query.h"

namespace maya::ebs {
namespace {

Query parse_ok(std::string_view body, std::string_view target = "/") {
  auto q = parse_query(target, body);
  EXPECT_TRUE(q.has_value()) << (q ? "" : q.error().code + ": " + q.error().message);
  return q ? *q : Query{};
}

ApiError parse_error(std::string_view body, std::string_view target = "/") {
  auto q = parse_query(target, body);
  EXPECT_FALSE(q.has_value()) << "parsed: " << body;
  return q ? ApiError{} : q.error();
}

constexpr std::string_view kHead = "Action=DescribeVolumes&Version=2016-11-15";

TEST(EbsQuery, ActionVersionAndDecodedParameters) {
  auto q = parse_ok(
      "Action=CreateVolume&Version=2016-11-15&Size=8&AvailabilityZone=maya-1a"
      "&TagSpecification.1.Tag.1.Value=a+b%20c%2Bd%26e%3D&Empty=&Bare");
  EXPECT_EQ(q.action, "CreateVolume");
  EXPECT_EQ(q.version, "2016-11-15");
  EXPECT_FALSE(q.has("Action"));
  EXPECT_EQ(q.get("Size"), "8");
  EXPECT_EQ(q.get("TagSpecification.1.Tag.1.Value"), "a b c+d&e=");
  EXPECT_EQ(q.get("Empty"), "");
  EXPECT_EQ(q.get("Bare"), "");
  EXPECT_EQ(q.get("Missing"), std::nullopt);
  EXPECT_EQ(q.params.size(), 5u);
}

TEST(EbsQuery, Utf8ValuesDecode) {
  auto q = parse_ok(std::string(kHead) + "&Tag.1.Key=Name&Tag.1.Value=%C3%A9t%C3%A9+%F0%9F%98%80");
  EXPECT_EQ(q.get("Tag.1.Value"), "\xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(EbsQuery, UrlQueryStringAndBodyTogether) {
  auto get = parse_ok("", "/?Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=vol-1");
  EXPECT_EQ(get.action, "DescribeVolumes");
  EXPECT_EQ(get.get("VolumeId.1"), "vol-1");
  auto both = parse_ok("VolumeId.1=vol-1", "/?Action=DescribeVolumes&Version=2016-11-15#frag");
  EXPECT_EQ(both.action, "DescribeVolumes");
  EXPECT_EQ(both.get("VolumeId.1"), "vol-1");
  // A name in both is a duplicate.
  EXPECT_EQ(parse_error(kHead, "/?Action=DescribeVolumes").code, "MalformedQueryString");
}

TEST(EbsQuery, ActionAndVersionAreRequired) {
  auto e = parse_error("Version=2016-11-15");
  EXPECT_EQ(e.code, "MissingParameter");
  EXPECT_NE(e.message.find("Action"), std::string::npos);
  EXPECT_EQ(parse_error("Action=DescribeVolumes").code, "MissingParameter");
  EXPECT_EQ(parse_error("Action=&Version=2016-11-15").code, "MissingParameter");
  EXPECT_EQ(parse_error("").code, "MissingParameter");
}

TEST(EbsQuery, MalformedBodies) {
  for (std::string_view bad : {"%", "%4", "%zz", "Action=%G1", "a%2=1", "x=%"}) {
    auto e = parse_error(std::string(kHead) + "&" + std::string(bad));
    EXPECT_EQ(e.code, "MalformedQueryString") << bad;
    EXPECT_EQ(e.http_status, 400);
  }
  // Duplicates, even of Action/Version.
  EXPECT_EQ(parse_error(std::string(kHead) + "&Size=1&Size=1").code, "MalformedQueryString");
  EXPECT_EQ(parse_error(std::string(kHead) + "&Action=CreateVolume").code, "MalformedQueryString");
  EXPECT_EQ(parse_error(std::string(kHead) + "&Version=2016-11-15").code, "MalformedQueryString");
  // No name.
  EXPECT_EQ(parse_error(std::string(kHead) + "&=x").code, "MalformedQueryString");
  // Names: printable ASCII only (no UTF-8, no space, no control).
  for (std::string_view bad : {"%C3%A9=1", "%FF=1", "a+b=1", "a%00=1", "a%7F=1"}) {
    auto e = parse_error(std::string(kHead) + "&" + std::string(bad));
    EXPECT_EQ(e.code, "MalformedQueryString") << bad;
  }
  // Values: UTF-8, no controls but tab/LF/CR.
  for (std::string_view bad :
       {"v=%FF", "v=%C0%AF", "v=%ED%A0%80", "v=%F4%90%80%80", "v=%E2%82", "v=%00", "v=%1B"}) {
    auto e = parse_error(std::string(kHead) + "&" + std::string(bad));
    EXPECT_EQ(e.code, "InvalidParameterValue") << bad;
  }
  EXPECT_EQ(parse_ok(std::string(kHead) + "&v=a%09b%0Ac%0D").get("v"), "a\tb\nc\r");
  // Empty pieces are skipped.
  EXPECT_EQ(parse_ok(std::string("&&") + std::string(kHead) + "&&").params.size(), 0u);
}

TEST(EbsQuery, SizeAndCountLimits) {
  std::string big = std::string(kHead) + "&v=" + std::string(kMaxQueryBytes, 'a');
  auto e = parse_error(big);
  EXPECT_EQ(e.http_status, 413);
  EXPECT_NE(e.message.find(std::to_string(big.size())), std::string::npos);
  std::string exact = std::string(kHead) + "&v=";
  exact += std::string(kMaxQueryBytes - exact.size(), 'a');
  EXPECT_EQ(parse_ok(exact).get("v")->size(), kMaxQueryBytes - kHead.size() - 3);

  std::string many(kHead);
  for (std::size_t i = 0; i <= kMaxQueryParameters; ++i) many += "&p" + std::to_string(i) + "=";
  EXPECT_EQ(parse_error(many).code, "MalformedQueryString");
}

TEST(EbsQuery, RequireIntegerBoolean) {
  auto q = parse_ok(std::string(kHead) +
                    "&Size=16&Neg=-3&Big=99999999999999999999&Word=ten&Half=1.5&Force=TRUE"
                    "&DryRun=false&Maybe=yes&Blank=");
  EXPECT_EQ(q.require("Size").value(), "16");
  auto missing = q.require("VolumeId");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "MissingParameter");
  EXPECT_EQ(missing.error().message, "The request must contain the parameter VolumeId.");

  EXPECT_EQ(q.integer("Size", 1, 65536).value(), 16);
  EXPECT_EQ(q.integer("Absent", 1, 2).value(), std::nullopt);
  EXPECT_EQ(q.integer("Neg", -5, 5).value(), -3);
  for (auto name : {"Neg", "Big", "Word", "Half", "Blank"}) {
    auto r = q.integer(name, 1, 65536);
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, "InvalidParameterValue");
    EXPECT_NE(r.error().message.find(name), std::string::npos);
  }
  EXPECT_NE(q.integer("Size", 1, 8).error().message.find("between 1 and 8"), std::string::npos);

  EXPECT_EQ(q.boolean("Force").value(), true);
  EXPECT_EQ(q.boolean("DryRun").value(), false);
  EXPECT_EQ(q.boolean("Absent").value(), std::nullopt);
  EXPECT_EQ(q.boolean("Maybe").error().code, "InvalidParameterValue");
  EXPECT_EQ(q.boolean("Blank").error().code, "InvalidParameterValue");
}

TEST(EbsQuery, ListsInIndexOrderWithGaps) {
  auto q = parse_ok(std::string(kHead) +
                    "&VolumeId.10=vol-j&VolumeId.2=vol-b&VolumeId.1=vol-a&VolumeId.12=vol-l"
                    "&VolumeIdX=other&VolumeIds.1=other");
  EXPECT_EQ(q.list("VolumeId").value(),
            (std::vector<std::string>{"vol-a", "vol-b", "vol-j", "vol-l"}));
  EXPECT_EQ(q.list("SnapshotId").value(), std::vector<std::string>{});
  for (std::string_view bad : {"VolumeId.0=x", "VolumeId.01=x", "VolumeId.x=x", "VolumeId.=x",
                               "VolumeId.1.Name=x", "VolumeId.-1=x", "VolumeId.99999999=x"}) {
    auto r = parse_ok(std::string(kHead) + "&" + std::string(bad)).list("VolumeId");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "UnknownParameter") << bad;
  }
}

TEST(EbsQuery, Filters) {
  auto q = parse_ok(std::string(kHead) +
                    "&Filter.1.Name=status&Filter.1.Value.1=available&Filter.1.Value.2=in-use"
                    "&Filter.2.Name=tag%3AName&Filter.2.Value.1=db&Filter.3.Name=tag-key");
  auto f = q.filters().value();
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].name, "status");
  EXPECT_EQ(f[0].values, (std::vector<std::string>{"available", "in-use"}));
  EXPECT_EQ(f[1].name, "tag:Name");
  EXPECT_EQ(f[1].values, std::vector<std::string>{"db"});
  EXPECT_EQ(f[2].name, "tag-key");
  EXPECT_TRUE(f[2].values.empty());

  auto no_name = parse_ok(std::string(kHead) + "&Filter.1.Value.1=x").filters();
  ASSERT_FALSE(no_name);
  EXPECT_EQ(no_name.error().code, "MissingParameter");
  EXPECT_NE(no_name.error().message.find("Filter.1.Name"), std::string::npos);
  for (std::string_view bad :
       {"Filter.1.Name=a&Filter.1.Other=x", "Filter.1.Name=a&Filter.1.Value=x",
        "Filter.1.Name=a&Filter.1.Value.0=x", "Filter.1=a"}) {
    auto r = parse_ok(std::string(kHead) + "&" + std::string(bad)).filters();
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "UnknownParameter") << bad;
  }
}

TEST(EbsQuery, TagsAndTagSpecifications) {
  auto q = parse_ok(std::string(kHead) +
                    "&Tag.1.Key=Name&Tag.1.Value=db&Tag.2.Key=empty&Tag.2.Value=&Tag.3.Key=k"
                    "&TagSpecification.1.ResourceType=volume"
                    "&TagSpecification.1.Tag.1.Key=maya%3Areplicas&TagSpecification.1.Tag.1.Value=3"
                    "&TagSpecification.1.Tag.2.Key=Name&TagSpecification.1.Tag.2.Value=data"
                    "&TagSpecification.2.ResourceType=snapshot");
  auto tags = q.tags().value();
  ASSERT_EQ(tags.size(), 3u);
  EXPECT_EQ(tags[0].key, "Name");
  EXPECT_EQ(tags[0].value, "db");
  EXPECT_EQ(tags[1].value, "");
  EXPECT_EQ(tags[2].value, std::nullopt);

  auto specs = q.tag_specifications().value();
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].resource_type, "volume");
  ASSERT_EQ(specs[0].tags.size(), 2u);
  EXPECT_EQ(specs[0].tags[0].key, "maya:replicas");
  EXPECT_EQ(specs[0].tags[0].value, "3");
  EXPECT_EQ(specs[0].tags[1].key, "Name");
  EXPECT_EQ(specs[1].resource_type, "snapshot");
  EXPECT_TRUE(specs[1].tags.empty());

  auto no_key =
      parse_ok(std::string(kHead) + "&TagSpecification.1.Tag.1.Value=v").tag_specifications();
  ASSERT_FALSE(no_key);
  EXPECT_EQ(no_key.error().code, "MissingParameter");
  EXPECT_NE(no_key.error().message.find("TagSpecification.1.Tag.1.Key"), std::string::npos);
  auto extra = parse_ok(std::string(kHead) + "&Tag.1.Key=k&Tag.1.Colour=red").tags();
  ASSERT_FALSE(extra);
  EXPECT_EQ(extra.error().code, "UnknownParameter");
  EXPECT_NE(extra.error().message.find("Tag.1.Colour"), std::string::npos);
}

TEST(EbsQuery, CheckKnown) {
  auto q = parse_ok(std::string(kHead) + "&Size=1&TagSpecification.1.ResourceType=volume&Bogus=1");
  EXPECT_FALSE(q.check_known({"Size", "TagSpecification.*", "Bogus"}).has_value());
  auto e = q.check_known({"Size", "TagSpecification.*"});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "UnknownParameter");
  EXPECT_NE(e->message.find("Bogus"), std::string::npos);
  // "Tag.*" does not admit "TagSpecification.1…", nor "Size" "SizeX".
  auto q2 = parse_ok(std::string(kHead) + "&TagSpecification.1.ResourceType=volume&SizeX=1");
  EXPECT_TRUE(q2.check_known({"Tag.*", "SizeX"}).has_value());
  EXPECT_TRUE(q2.check_known({"TagSpecification.*", "Size"}).has_value());
}

}  // namespace
}  // namespace maya::ebs
