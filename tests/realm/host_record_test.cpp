// The host record's JSON: what a host publishes under hosts/ID and every other host reads.
#include "lib/realm/host_record.h"
#include "lib/realm/volume_record.h"

#include <gtest/gtest.h>

namespace maya::realm {
namespace {

HostRecord sample() {
  HostRecord h;
  h.id = "5f0c";
  h.name = "host-a";
  h.zone = "zone-a";
  h.address = "10.0.0.1";
  h.roles = {"storage", "orchestration"};
  h.pools = {{"default", "online", 100, 60}, {"fast", "degraded", 50, 5}};
  h.volumes = 3;
  h.version = "1.2.3";
  return h;
}

TEST(HostRecord, RoundTrips) {
  const HostRecord h = sample();
  auto back = host_from_json(host_json(h).dump(), "hosts/5f0c");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, h);
}

TEST(HostRecord, MissingOptionalFieldsDefault) {
  auto back = host_from_json(R"({"id":"x"})", "hosts/x");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->id, "x");
  EXPECT_TRUE(back->pools.empty());
  EXPECT_EQ(back->volumes, 0u);
}

TEST(HostRecord, BadInputIsAnErrorNamingTheKey) {
  for (const char* text :
       {"", "not json", "[]", "{}", R"({"id":5})", R"({"id":"x","pools":[{"state":"online"}]})",
        R"({"id":"x","volumes":"many"})"}) {
    auto back = host_from_json(text, "hosts/x");
    ASSERT_FALSE(back) << text;
    EXPECT_NE(back.error().message.find("hosts/x"), std::string::npos) << back.error().message;
  }
}

// The volume record's EBS id and zone (the EBS API in a realm): kept, and optional, since
// records written before them lack them.
TEST(VolumeRecord, EbsIdAndZoneRoundTripAndMayBeAbsent) {
  VolumeRecord v;
  v.name = "data";
  v.size_bytes = 1 << 30;
  v.replicas = {{"h1", "default"}};
  v.ebs_id = "vol-0123456789abcdef0";
  v.zone = "zone-b";
  auto back = volume_from_json(volume_json(v).dump(), "volumes/data");
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, v);
  auto old = volume_from_json(R"({"name":"data","size_bytes":1,"replicas":[]})", "volumes/data");
  ASSERT_TRUE(old.has_value()) << old.error().message;
  EXPECT_EQ(old->ebs_id, "");
  EXPECT_EQ(old->zone, "");
}

}  // namespace
}  // namespace maya::realm
