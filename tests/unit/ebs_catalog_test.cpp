// The EBS API's own state and helpers: the catalog file (ids stable across loads, sync with
// what the volume service lists), the credentials file, filter globs and pages.
#include "lib/ebs/catalog.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>

#include "lib/ebs/actions.h"
#include "lib/ebs/credentials_file.h"

namespace maya::ebs {
namespace {

namespace fs = std::filesystem;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/maya-ebs-catalog-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CatalogTest, VolumesGetStableIdsAndGoneOnesAreDropped) {
  const auto t = std::chrono::system_clock::now();
  Catalog c(dir_ / "ebs-catalog.json");
  ASSERT_TRUE(c.load().has_value());  // absent: empty
  EXPECT_TRUE(c.sync_volumes({{"a", t}, {"b", t}}));
  EXPECT_FALSE(c.sync_volumes({{"a", t}, {"b", t}}));
  std::string a = c.volume_by_name("a")->id;
  EXPECT_TRUE(std::regex_match(a, std::regex("vol-[0-9a-f]{17}"))) << a;
  c.volume_by_name("a")->tags["team"] = "blue";
  c.volume_by_name("a")->volume_type = "gp3";
  c.volume_by_name("a")->iops = 4000;
  c.volume_by_name("a")->throughput = 250;
  VolumeEntry pending;
  pending.id = "vol-0123456789abcdef0";
  pending.name = "p";
  pending.pending = true;
  c.add_volume(pending);
  ASSERT_TRUE(c.save().has_value());
  struct stat st {};
  ASSERT_EQ(::stat(c.file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Catalog again(dir_ / "ebs-catalog.json");
  ASSERT_TRUE(again.load().has_value());
  ASSERT_NE(again.volume_by_name("a"), nullptr);
  EXPECT_EQ(again.volume_by_name("a")->id, a);
  EXPECT_EQ(again.volume_by_name("a")->tags.at("team"), "blue");
  EXPECT_EQ(again.volume_by_name("a")->volume_type, "gp3");
  EXPECT_EQ(again.volume_by_name("a")->iops, 4000);
  EXPECT_EQ(again.volume_by_name("a")->throughput, 250);
  EXPECT_EQ(again.volume_by_name("b")->iops, 0) << "none asked, none kept";
  EXPECT_EQ(again.volume_by_name("p"), nullptr) << "a pending entry is not saved";
  // b is gone (deleted by the CLI): its entry goes; a keeps its id.
  EXPECT_TRUE(again.sync_volumes({{"a", t}}));
  EXPECT_EQ(again.volume_by_name("b"), nullptr);
  EXPECT_EQ(again.volume_by_name("a")->id, a);
}

TEST_F(CatalogTest, RealmVolumesTakeTheIdTheRealmRecords) {
  const auto t = std::chrono::system_clock::now();
  Catalog c(dir_ / "ebs-catalog.json");
  ASSERT_TRUE(c.load().has_value());
  const std::string realm_id = "vol-0aaaaaaaaaaaaaaa1";
  EXPECT_TRUE(c.sync_volumes({{"r", t}, {"own", t}}, {{"r", realm_id}}));
  ASSERT_NE(c.volume_by_name("r"), nullptr);
  EXPECT_EQ(c.volume_by_name("r")->id, realm_id);
  EXPECT_NE(c.volume_by_name("own")->id, realm_id);
  EXPECT_FALSE(c.sync_volumes({{"r", t}, {"own", t}}, {{"r", realm_id}}));
  // The name made again in the realm under a new id (while this host did not look): the
  // realm's id wins over the one this host had.
  const std::string again = "vol-0bbbbbbbbbbbbbbb2";
  EXPECT_TRUE(c.sync_volumes({{"r", t}, {"own", t}}, {{"r", again}}));
  EXPECT_EQ(c.volume_by_name("r")->id, again);
  EXPECT_EQ(c.volume_by_id(realm_id), nullptr);
}

TEST_F(CatalogTest, SnapshotsSyncByVolumeAndName) {
  const auto t = std::chrono::system_clock::now();
  Catalog c(dir_ / "c.json");
  c.sync_volumes({{"v", t}});
  EXPECT_TRUE(c.sync_snapshots({{{"v", "s1"}, t}}));
  SnapshotEntry* s = c.snapshot_of("v", "s1");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->volume_id, c.volume_by_name("v")->id);
  EXPECT_TRUE(std::regex_match(s->id, std::regex("snap-[0-9a-f]{17}")));
  EXPECT_TRUE(c.sync_snapshots({}));
  EXPECT_EQ(c.snapshot_of("v", "s1"), nullptr);
}

TEST_F(CatalogTest, AModificationSurvivesALoad) {
  // A daemon that stops mid-ModifyVolume finds the modification again, to resume it.
  const auto t = std::chrono::system_clock::now();
  Catalog c(dir_ / "ebs-catalog.json");
  ASSERT_TRUE(c.load().has_value());
  c.sync_volumes({{"db", t}});
  Modification m;
  m.state = "optimizing";
  m.status_message = "ext4 grows at the next mount";
  m.original_size_gib = 1;
  m.target_size_gib = 3;
  m.original_type = "gp2";
  m.target_type = "gp3";
  m.progress = 50;
  m.start_time = std::chrono::time_point_cast<std::chrono::milliseconds>(t);
  c.volume_by_name("db")->modification = m;
  ASSERT_TRUE(c.save().has_value());

  Catalog again(dir_ / "ebs-catalog.json");
  ASSERT_TRUE(again.load().has_value());
  const auto& got = again.volume_by_name("db")->modification;
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->state, "optimizing");
  EXPECT_EQ(got->status_message, m.status_message);
  EXPECT_EQ(got->original_size_gib, 1u);
  EXPECT_EQ(got->target_size_gib, 3u);
  EXPECT_EQ(got->original_type, "gp2");
  EXPECT_EQ(got->target_type, "gp3");
  EXPECT_EQ(got->progress, 50u);
  EXPECT_EQ(got->start_time, m.start_time);
  EXPECT_FALSE(again.volume_by_name("db")->modification->end_time.time_since_epoch().count());
}

TEST_F(CatalogTest, ADamagedFileIsAnErrorNamingIt) {
  { std::ofstream(dir_ / "c.json") << "{\"volumes\": {\"vol-1\": {\"name\": 5}}}"; }
  Catalog c(dir_ / "c.json");
  auto r = c.load();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find((dir_ / "c.json").string()), std::string::npos)
      << r.error().message;
  { std::ofstream(dir_ / "c.json") << "not json"; }
  EXPECT_FALSE(c.load().has_value());
}

TEST(EbsCredentials, ReadsTheMayaProfile) {
  auto c = parse_credentials(
      "[default]\naws_access_key_id = X\n\n[maya]\n aws_access_key_id=AKIAABC \n"
      "aws_secret_access_key = s3cr/t+\n",
      "maya", "creds");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->access_key_id, "AKIAABC");
  EXPECT_EQ(c->secret_access_key, "s3cr/t+");
  auto none = parse_credentials("[default]\naws_access_key_id = X\n", "maya", "creds");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().message, "creds has no profile [maya]");
  EXPECT_FALSE(parse_credentials("[maya]\naws_access_key_id = X\n", "maya", "c").has_value());
}

TEST(EbsFilters, GlobsMatchLikeEc2) {
  EXPECT_TRUE(glob_match("vol-*", "vol-0123"));
  EXPECT_TRUE(glob_match("maya-1?", "maya-1a"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbY"));
  EXPECT_FALSE(glob_match("maya-1", "maya-1a"));
  EXPECT_TRUE(glob_match("in-use", "in-use"));
}

TEST(EbsPages, MaxResultsAndNextTokenWalkEveryItemOnce) {
  std::vector<std::string> keys = {"a", "b", "c", "d", "e"};
  Query q;
  q.params["MaxResults"] = "2";
  std::vector<std::string> seen;
  for (int round = 0; round < 10; ++round) {
    auto page = paginate(q, keys);
    ASSERT_TRUE(page.has_value());
    for (std::size_t i = page->begin; i < page->end; ++i) seen.push_back(keys[i]);
    if (page->next_token.empty()) break;
    q.params["NextToken"] = page->next_token;
  }
  EXPECT_EQ(seen, keys);
  Query all;
  auto whole = paginate(all, keys);
  EXPECT_EQ(whole->end - whole->begin, 5u);
  EXPECT_TRUE(whole->next_token.empty());
  Query bad;
  bad.params["MaxResults"] = "0";
  EXPECT_FALSE(paginate(bad, keys).has_value());
}

}  // namespace
}  // namespace maya::ebs
