// The records' JSON: what a host publishes under hosts/ID and every other host reads; a drain
// (drains/ID); a volume's replica places with their ids.
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

TEST(Drain, RoundTripsAndBadInputNamesTheKey) {
  const Drain d{"5f0c", "2026-12-07T02:00:00Z"};
  auto back = drain_from_json(drain_json(d).dump(), "drains/x");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, d);
  for (const char* text : {"", "[]", "{}", R"({"by":3})"}) {
    auto bad = drain_from_json(text, "drains/x");
    ASSERT_FALSE(bad) << text;
    EXPECT_NE(bad.error().message.find("drains/x"), std::string::npos);
  }
}

TEST(HostList, CandidatesAreOnlineStoragePoolsAndDrainsAreNamed) {
  HostList list;
  HostRecord a = sample();
  HostRecord b = sample();
  b.id = "b";
  b.roles = {"orchestration"};  // no storage: never a candidate
  list.hosts = {{a, true, std::nullopt}, {b, true, Drain{"5f0c", ""}}};
  auto candidates = pool_candidates(list);
  ASSERT_EQ(candidates.size(), 1u) << "the degraded pool and b's pools are no candidates";
  EXPECT_EQ(candidates[0].pool, "default");
  EXPECT_EQ(candidates[0].free_bytes, 60u);
  EXPECT_EQ(draining_hosts(list), std::vector<std::string>{"b"});
}

TEST(VolumeRecord, ReplicaIdsAndJoiningRoundTrip) {
  VolumeRecord v;
  v.name = "db";
  v.size_bytes = 1 << 20;
  v.replicas = {{"a", "p", "r1", false}, {"b", "p", "r4", false}, {"c", "p", "", true}};
  auto back = volume_from_json(volume_json(v).dump(), "volumes/db");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, v);
  EXPECT_EQ(replica_id(v, 1), "r4");
  EXPECT_EQ(replica_id(v, 2), "") << "a joining replica has no id until an owner adds it";
}

TEST(VolumeRecord, RecordsWithoutIdsNumberTheirReplicasByPosition) {
  auto v = volume_from_json(
      R"({"name":"db","size_bytes":1,"replicas":[{"host":"a","pool":"p"},{"host":"b","pool":"p"}]})",
      "volumes/db");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(replica_id(*v, 0), "r1");
  EXPECT_EQ(replica_id(*v, 1), "r2");
  EXPECT_FALSE(v->replicas[1].joining);
}

TEST(Attachment, ForDrainRoundTrips) {
  const Attachment a{"h", "host-a", 3, "2026-12-07T02:00:00Z", true};
  auto back = attachment_from_json(attachment_json(a).dump(), "attachments/db");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, a);
  auto plain = attachment_from_json(R"({"host":"h"})", "attachments/db");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_FALSE(plain->for_drain);
}

TEST(VolumeRecord, EachIncarnationHasItsOwnUidAndSharesCarryIt) {
  const std::string a = new_volume_uid(), b = new_volume_uid();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
  EXPECT_NE(a, b);
  const RealmShare share{"h", "p", "iscsi://u:s@10.0.0.1:3260/iqn.x/0", a};
  auto back = share_from_json(share_json(share).dump(), "shares/db/h");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, share);
  auto old = share_from_json(R"({"host":"h","pool":"p","uri":"u"})", "shares/db/h");
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_EQ(old->uid, "") << "a share from before uids matches a record from before them";
}

TEST(VolumeRecord, TwoReplicasOnOneHostOrWithOneIdAreRefused) {
  for (const char* replicas :
       {R"([{"host":"a","pool":"p"},{"host":"a","pool":"q"}])",
        R"([{"host":"a","pool":"p","id":"r1"},{"host":"b","pool":"p","id":"r1"}])"}) {
    auto v = volume_from_json(
        std::string(R"({"name":"db","size_bytes":1,"replicas":)") + replicas + "}", "volumes/db");
    ASSERT_FALSE(v) << replicas;
    EXPECT_NE(v.error().message.find("volumes/db: two replicas"), std::string::npos)
        << v.error().message;
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
