#include "drivers/volume/spec_options.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace maya::drivers {
namespace {

config::VolumeDefaults defaults() {
  return {100ull << 30, true, 1, "ext4", "local"};
}

TEST(SpecOptions, DefaultsFillWhatOptionsLeaveOut) {
  auto spec = spec_from_options("db", {}, defaults());
  ASSERT_TRUE(spec.has_value()) << spec.error().message;
  EXPECT_EQ(spec->name, "db");
  EXPECT_EQ(spec->size_bytes, 100ull << 30);
  EXPECT_EQ(spec->fstype, "ext4");
  EXPECT_EQ(spec->storage_driver, "local");
  EXPECT_EQ(spec->replicas, 1u);
  EXPECT_TRUE(spec->thin);
  EXPECT_FALSE(spec->uid.has_value());
}

TEST(SpecOptions, EveryDocumentedOptionApplies) {
  auto spec = spec_from_options("db",
                                {{"size", "256MiB"},
                                 {"fstype", "xfs"},
                                 {"mountopts", "noatime,nodev"},
                                 {"uid", "1000"},
                                 {"gid", "50"},
                                 {"driver", "local"},
                                 {"replicas", "1"},
                                 {"thin", "false"}},
                                defaults());
  ASSERT_TRUE(spec.has_value()) << spec.error().message;
  EXPECT_EQ(spec->size_bytes, 256ull << 20);
  EXPECT_EQ(spec->fstype, "xfs");
  EXPECT_EQ(spec->mount_options, "noatime,nodev");
  EXPECT_EQ(spec->uid, 1000u);
  EXPECT_EQ(spec->gid, 50u);
  EXPECT_FALSE(spec->thin);
}

TEST(SpecOptions, ErrorsNameTheOption) {
  struct Case {
    VolumeOptions opts;
    const char* says;
  } cases[] = {
      {{{"sise", "1G"}}, "unknown option \"sise\""},
      {{{"size", "abc"}}, "invalid size \"abc\""},
      {{{"size", "-1G"}}, "negative"},
      {{{"size", "4096"}}, "too small"},
      {{{"fstype", "ntfs"}}, "fstype=\"ntfs\""},
      {{{"uid", "-3"}}, "uid=\"-3\""},
      {{{"gid", "x"}}, "gid=\"x\""},
      {{{"replicas", "0"}}, "replicas=\"0\""},
      {{{"replicas", "many"}}, "replicas=\"many\""},
      {{{"thin", "maybe"}}, "thin=\"maybe\""},
      {{{"mountopts", "a b"}}, "mountopts"},
      {{{"mountopts", "bogus,opt"}}, "mount option \"bogus\" is not known for ext4"},
      {{{"mountopts", "noatime,opt"}}, "mount option \"opt\""},
      {{{"mountopts", "data=bogus"}}, "\"data=bogus\" has an unknown value"},
      {{{"mountopts", "commit"}}, "\"commit\" needs a value"},
      {{{"mountopts", "noatime=1"}}, "\"noatime=1\" takes no value"},
      {{{"mountopts", "allocsize=64k"}}, "\"allocsize=64k\" is not known for ext4"},
      {{{"fstype", "xfs"}, {"mountopts", "data=journal"}}, "\"data=journal\" is not known for xfs"},
      {{{"spec", "relative.toml"}}, "absolute path"},
      {{{"spec", "/nonexistent/spec.toml"}}, "/nonexistent/spec.toml"},
  };
  for (const auto& c : cases) {
    auto spec = spec_from_options("db", c.opts, defaults());
    ASSERT_FALSE(spec.has_value()) << c.says;
    EXPECT_NE(spec.error().message.find(c.says), std::string::npos) << spec.error().message;
  }
}

TEST(SpecOptions, PoolsNameOneReplicaEach) {
  // Docker's -o cannot hold a comma: a:b:c; the CLI sends a,b,c. No count: one per pool.
  for (const std::string text : {"fast1:fast2:fast3", "fast1,fast2,fast3"}) {
    auto spec = spec_from_options("db", {{"pools", text}}, defaults());
    ASSERT_TRUE(spec.has_value()) << spec.error().message;
    EXPECT_EQ(spec->pools, (std::vector<std::string>{"fast1", "fast2", "fast3"}));
    EXPECT_EQ(spec->replicas, 3u);
    EXPECT_FALSE(spec->allow_same_pool);
  }
  auto same = spec_from_options("db", {{"pools", "a:a"}, {"allow_same_pool", "true"}}, defaults());
  ASSERT_TRUE(same.has_value()) << same.error().message;
  EXPECT_TRUE(same->allow_same_pool);
  auto mismatch = spec_from_options("db", {{"pools", "a:b"}, {"replicas", "3"}}, defaults());
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_NE(mismatch.error().message.find("names 2 pool(s) for 3 replica(s)"), std::string::npos);
  for (const std::string& bad :
       std::vector<std::string>{"", "a::b", "../x", "a:" + std::string(300, 'p')}) {
    auto refused = spec_from_options("db", {{"pools", bad}}, defaults());
    EXPECT_FALSE(refused.has_value()) << bad;
  }
}

TEST(SpecOptions, HostsNameARealmVolumesReplicasInOrder) {
  for (const std::string text : {"host-c:host-a", "host-c,host-a"}) {
    auto spec = spec_from_options("db", {{"hosts", text}}, defaults());
    ASSERT_TRUE(spec.has_value()) << spec.error().message;
    EXPECT_EQ(spec->hosts, (std::vector<std::string>{"host-c", "host-a"}));
    EXPECT_EQ(spec->replicas, 2u) << "no count: one replica per host named";
  }
  auto fewer = spec_from_options("db", {{"hosts", "a,b,c"}, {"replicas", "2"}}, defaults());
  ASSERT_TRUE(fewer.has_value()) << fewer.error().message;
  EXPECT_EQ(fewer->replicas, 2u) << "the first two that qualify";
  auto more = spec_from_options("db", {{"hosts", "a"}, {"replicas", "2"}}, defaults());
  ASSERT_FALSE(more.has_value());
  EXPECT_NE(more.error().message.find("names 1 host(s) for 2 replicas"), std::string::npos);
  auto mixed = spec_from_options("db", {{"hosts", "a"}, {"pools", "p"}}, defaults());
  ASSERT_FALSE(mixed.has_value());
  for (const std::string& bad :
       std::vector<std::string>{"", "a,,b", "../x", "a," + std::string(300, 'h')}) {
    auto refused = spec_from_options("db", {{"hosts", bad}}, defaults());
    EXPECT_FALSE(refused.has_value()) << bad;
  }
}

TEST(SpecOptions, MountOptionsKnownForTheFileSystemAreAccepted) {
  for (const auto& [fstype, opts] : std::vector<std::pair<std::string, std::string>>{
           {"ext4", "noatime,nodev,data=journal,commit=30,errors=remount-ro,x-maya.tag"},
           {"ext4", "defaults,discard,barrier=1,user_xattr,acl"},
           {"xfs", "noatime,allocsize=64k,inode64,logbufs=8,nouuid,prjquota"}}) {
    auto spec = spec_from_options("db", {{"fstype", fstype}, {"mountopts", opts}}, defaults());
    EXPECT_TRUE(spec.has_value()) << fstype << " " << opts << ": " << spec.error().message;
  }
}

TEST(SpecOptions, HostileNamesAreRefusedFirst) {
  for (const std::string& name :
       {std::string("../../etc"), std::string(), std::string(300, 'a'), std::string("a/b")}) {
    auto spec = spec_from_options(name, {}, defaults());
    ASSERT_FALSE(spec.has_value()) << name;
    EXPECT_NE(spec.error().message.find("invalid volume name"), std::string::npos);
  }
}

TEST(SpecOptions, SpecFileThenExplicitOptions) {
  char tmpl[] = "/tmp/maya-spec-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string file = std::string(tmpl) + "/v.toml";
  std::ofstream(file) << "size = \"2GiB\"\nfstype = \"xfs\"\nuid = 7\nthin = false\n";
  auto spec = spec_from_options("db", {{"spec", file}, {"size", "3GiB"}}, defaults());
  ASSERT_TRUE(spec.has_value()) << spec.error().message;
  EXPECT_EQ(spec->size_bytes, 3ull << 30) << "explicit options win over the file";
  EXPECT_EQ(spec->fstype, "xfs");
  EXPECT_EQ(spec->uid, 7u);
  EXPECT_FALSE(spec->thin);

  std::ofstream(file, std::ios::trunc) << "size = \"2GiB\"\ncolour = \"red\"\n";
  auto unknown = spec_from_options("db", {{"spec", file}}, defaults());
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find(file + ":2:"), std::string::npos)
      << unknown.error().message;
  EXPECT_NE(unknown.error().message.find("colour"), std::string::npos);

  std::ofstream(file, std::ios::trunc) << "size = [1]\n";
  EXPECT_FALSE(spec_from_options("db", {{"spec", file}}, defaults()).has_value());
  std::ofstream(file, std::ios::trunc) << "size = \"1G\n";
  auto broken = spec_from_options("db", {{"spec", file}}, defaults());
  ASSERT_FALSE(broken.has_value());
  EXPECT_NE(broken.error().message.find(file + ":1:"), std::string::npos) << broken.error().message;
  std::filesystem::remove_all(tmpl);
}

TEST(SpecOptions, RemoteReplicasCountAmongTheReplicas) {
  const config::VolumeDefaults defaults;
  const std::string b = "iscsi://share-rb:s3cretSecret12@10.1.0.2:3517/iqn.2026-12.io.maya:b/0";
  const std::string c = "iscsi://share-rc:s3cretSecret12@10.1.0.3:3517/iqn.2026-12.io.maya:c/0";
  // Without a count: the remote ones and one here.
  auto spec = spec_from_options("db", {{"remote_replicas", b + " " + c}}, defaults);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->replicas, 3u);
  EXPECT_EQ(spec->remote_replicas, (std::vector<std::string>{b, c}));
  // Commas separate them too; a count that leaves none here is fine.
  spec = spec_from_options("db", {{"remote_replicas", b + "," + c}, {"replicas", "2"}}, defaults);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->replicas, 2u);
  EXPECT_EQ(spec->remote_replicas.size(), 2u);
  // Fewer replicas than remote ones, another scheme, a clone: refused.
  auto fewer =
      spec_from_options("db", {{"remote_replicas", b + " " + c}, {"replicas", "1"}}, defaults);
  ASSERT_FALSE(fewer);
  EXPECT_NE(fewer.error().message.find("fewer than the 2 remote"), std::string::npos);
  auto scheme = spec_from_options("db", {{"remote_replicas", "nvmf://x/y"}}, defaults);
  ASSERT_FALSE(scheme);
  EXPECT_NE(scheme.error().message.find("iscsi://"), std::string::npos);
  auto clone = spec_from_options("db", {{"remote_replicas", b}, {"from", "a@s"}}, defaults);
  ASSERT_FALSE(clone);
  // Pools count the local replicas only.
  spec = spec_from_options("db", {{"remote_replicas", b}, {"pools", "p1,p2"}}, defaults);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->replicas, 3u);
}

}  // namespace
}  // namespace maya::drivers
