// IDs: their shapes, their randomness, the validators.
#include <gtest/gtest.h>

#include <set>

#include "lib/ebs/ids.h"

namespace maya::ebs {
namespace {

bool all_of(std::string_view s, std::string_view alphabet) {
  return s.find_first_not_of(alphabet) == std::string_view::npos;
}

TEST(EbsIds, VolumeAndSnapshotIds) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string v = new_volume_id(), s = new_snapshot_id();
    EXPECT_EQ(v.size(), 21u);
    EXPECT_TRUE(v.starts_with("vol-"));
    EXPECT_TRUE(all_of(v.substr(4), "0123456789abcdef")) << v;
    EXPECT_TRUE(is_volume_id(v)) << v;
    EXPECT_FALSE(is_snapshot_id(v));
    EXPECT_EQ(s.size(), 22u);
    EXPECT_TRUE(is_snapshot_id(s)) << s;
    EXPECT_FALSE(is_volume_id(s));
    seen.insert(v);
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 2000u);
  for (auto bad : {"vol-", "vol-0123456789abcdef", "vol-0123456789abcdef01",
                   "vol-0123456789ABCDEF0", "vol-0123456789abcdefg", "VOL-0123456789abcdef0",
                   "snap-0123456789abcdef0", " vol-0123456789abcdef0", "vol-1234abcd"}) {
    EXPECT_FALSE(is_volume_id(bad)) << bad;
  }
  EXPECT_TRUE(is_volume_id("vol-0123456789abcdef0"));
  EXPECT_TRUE(is_snapshot_id("snap-0123456789abcdef0"));
  EXPECT_FALSE(is_snapshot_id("snap-0123456789abcdef"));
}

TEST(EbsIds, RequestIdsAreVersion4Uuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = new_request_id();
    ASSERT_EQ(id.size(), 36u);
    for (std::size_t at : {8u, 13u, 18u, 23u}) EXPECT_EQ(id[at], '-') << id;
    EXPECT_EQ(id[14], '4') << id;
    EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(EbsIds, AccessKeyPairs) {
  std::set<std::string> keys;
  std::set<char> secret_chars;
  for (int i = 0; i < 200; ++i) {
    auto pair = new_access_key_pair();
    EXPECT_EQ(pair.access_key_id.size(), 20u);
    EXPECT_TRUE(pair.access_key_id.starts_with("AKIA"));
    EXPECT_TRUE(all_of(pair.access_key_id.substr(4), "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
    EXPECT_EQ(pair.secret_access_key.size(), 40u);
    EXPECT_TRUE(all_of(pair.secret_access_key,
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"));
    secret_chars.insert(pair.secret_access_key.begin(), pair.secret_access_key.end());
    keys.insert(pair.access_key_id);
  }
  EXPECT_EQ(keys.size(), 200u);
  EXPECT_GT(secret_chars.size(), 60u);  // 8000 draws from 64 characters reach nearly all
}

}  // namespace
}  // namespace maya::ebs
