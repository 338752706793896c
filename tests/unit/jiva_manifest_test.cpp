// The jiva manifest: IQNs from volume names, file:// replica URIs, the files round-trip.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "lib/common/files.h"
#include "lib/common/names.h"
#include "lib/jiva/manifest.h"
#include "lib/jiva/port_claims.h"

namespace maya::jiva {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/maya-manifest-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(JivaIqn, PlainNamesAreKeptAndOthersAreMadeValidAndDistinct) {
  EXPECT_EQ(iqn_for("db1"), "iqn.2026-11.io.maya:db1");
  EXPECT_EQ(iqn_for("a.b-c"), "iqn.2026-11.io.maya:a.b-c");
  std::set<std::string> seen;
  for (const char* name : {"db", "Db", "DB", "d_b", "d-b", "My_Volume.1"}) {
    std::string iqn = iqn_for(name);
    EXPECT_TRUE(validate_iscsi_name(iqn).has_value()) << name << " -> " << iqn;
    EXPECT_TRUE(seen.insert(iqn).second) << name << " collides: " << iqn;
  }
  EXPECT_EQ(iqn_for("Db"), iqn_for("Db")) << "stable";
  // The longest volume name still makes a valid IQN.
  EXPECT_TRUE(validate_iscsi_name(iqn_for(std::string(63, 'A'))).has_value());
}

TEST(JivaReplicaUri, OnlyAbsoluteFileUris) {
  auto dir = replica_dir({"r1", "file:///opt/maya-store/db/r1"});
  ASSERT_TRUE(dir) << dir.error().message;
  EXPECT_EQ(*dir, "/opt/maya-store/db/r1");
  EXPECT_EQ(file_uri("/s/db/r1"), "file:///s/db/r1");
  for (const char* bad :
       {"tcp://10.0.0.1:9502", "file://relative/x", "file://", "/plain/path", ""}) {
    auto r = replica_dir({"r2", bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("r2"), std::string::npos);
  }
}

TEST(JivaManifest, RoundTripsAndReportsDamage) {
  TempDir dir;
  Manifest m;
  m.name = "db";
  m.size_bytes = 1 << 30;
  m.thin = false;
  m.iqn = iqn_for("db");
  m.port = 3261;
  m.created = "2026-11-30T00:00:00Z";
  m.replicas = {{"r1", file_uri(dir.path() / "r1")}, {"r2", file_uri(dir.path() / "r2")}};
  ASSERT_TRUE(write_manifest(dir.path(), m));
  auto back = read_manifest(dir.path());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->name, "db");
  EXPECT_EQ(back->size_bytes, 1u << 30);
  EXPECT_FALSE(back->thin);
  EXPECT_EQ(back->port, 3261);
  ASSERT_EQ(back->replicas.size(), 2u);
  EXPECT_EQ(back->replicas[1].id, "r2");

  for (const char* damaged :
       {"", "{", "[]", "{\"name\": \"db\"}",
        "{\"name\":\"db\",\"size_bytes\":1,\"iqn\":\"x\",\"port\":1,\"replicas\":[]}",
        "{\"name\":\"db\",\"size_bytes\":-1,\"iqn\":\"x\",\"port\":1,\"replicas\":[]}"}) {
    ASSERT_TRUE(write_file_atomic(manifest_file(dir.path()), damaged));
    auto r = read_manifest(dir.path());
    ASSERT_FALSE(r) << damaged;
    EXPECT_NE(r.error().message.find("jiva.json"), std::string::npos) << r.error().message;
  }
}

// claim_remote: false when absent (files older than it), written only when true, and cleared
// by clear_claim_remote without touching any other field, one this build does not know too.
TEST(JivaManifest, ClaimRemoteIsOptionalAndClearingKeepsEveryOtherField) {
  TempDir dir;
  const std::string old_file =
      R"({"name":"db","iqn":"x","size_bytes":4096,"port":3261,"future":{"a":1},)"
      R"("replicas":[{"id":"r1","uri":"iscsi://h:3517/iqn.x/0"}]})";
  ASSERT_TRUE(write_file_atomic(manifest_file(dir.path()), old_file));
  auto old = read_manifest(dir.path());
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_FALSE(old->claim_remote);
  ASSERT_TRUE(clear_claim_remote(dir.path())) << "nothing to clear is no error";

  Manifest m = *old;
  m.claim_remote = true;
  ASSERT_TRUE(write_manifest(dir.path(), m));
  auto claimed = read_manifest(dir.path());
  ASSERT_TRUE(claimed) << claimed.error().message;
  EXPECT_TRUE(claimed->claim_remote);

  // A field written by a newer build survives the clear, as do all the known ones.
  auto text = read_file(manifest_file(dir.path()));
  ASSERT_TRUE(text) << text.error().message;
  std::string with_future = *text;
  with_future.insert(with_future.find('{') + 1, R"("future":{"a":1},)");
  ASSERT_TRUE(write_file_atomic(manifest_file(dir.path()), with_future));
  auto cleared = clear_claim_remote(dir.path());
  ASSERT_TRUE(cleared) << cleared.error().message;
  auto after = read_file(manifest_file(dir.path()));
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->find("claim_remote"), std::string::npos) << *after;
  EXPECT_NE(after->find("\"future\""), std::string::npos) << *after;
  auto back = read_manifest(dir.path());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_FALSE(back->claim_remote);
  EXPECT_EQ(back->iqn, "x");
  EXPECT_EQ(back->port, 3261);
  ASSERT_EQ(back->replicas.size(), 1u);
  EXPECT_EQ(back->replicas[0].uri, "iscsi://h:3517/iqn.x/0");

  ASSERT_TRUE(write_file_atomic(manifest_file(dir.path()), "{"));
  EXPECT_FALSE(clear_claim_remote(dir.path())) << "a damaged jiva.json is an error";
}

// Found by tests/fuzz (jiva_json): numbers that do not fit were converted with a static_cast,
// undefined for 1e300 (UBSan), and a port of 70000 silently became 4464. Both are damage now.
TEST(JivaManifest, NumbersOutOfRangeAreDamageNotWrappedOrUndefined) {
  TempDir dir;
  const std::string replicas = R"("replicas":[{"id":"r1","uri":"file:///r1"}])";
  for (std::string fields :
       {R"("size_bytes":1e300,"port":3261)", R"("size_bytes":4096.5,"port":3261)",
        R"("size_bytes":4096,"port":70000)", R"("size_bytes":4096,"port":-1)",
        R"("size_bytes":4096,"port":3261,"block_size":1e20)",
        R"("size_bytes":4096,"port":3261,"last_replica":4294967296)"}) {
    const std::string text = R"({"name":"db","iqn":"x",)" + fields + "," + replicas + "}";
    ASSERT_TRUE(write_file_atomic(manifest_file(dir.path()), text));
    auto r = read_manifest(dir.path());
    ASSERT_FALSE(r) << text << " was read as port " << r->port << ", size " << r->size_bytes;
    EXPECT_NE(r.error().message.find("is damaged"), std::string::npos) << r.error().message;
  }
  const std::string good =
      R"({"name":"db","iqn":"x","size_bytes":4096,"port":65535,)" + replicas + "}";
  ASSERT_TRUE(write_file_atomic(manifest_file(dir.path()), good));
  auto r = read_manifest(dir.path());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->port, 65535);
}

TEST(JivaChap, SecretsAreRandomAndTheFileIsPrivate) {
  TempDir dir;
  auto none = read_chap(dir.path());
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->user.empty());
  auto a = random_secret();
  auto b = random_secret();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 16u);
  EXPECT_NE(*a, *b);
  ASSERT_TRUE(write_chap(dir.path(), {"db", *a}));
  struct stat st {};
  ASSERT_EQ(::stat(chap_file(dir.path()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = read_chap(dir.path());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->user, "db");
  EXPECT_EQ(back->secret, *a);
}

TEST(JivaPortClaims, TheServingTargetKeepsItsPortElseTheFirstCreated) {
  // Distinct ports: no clash.
  EXPECT_TRUE(port_clashes({{"a", 3261, "2026-01-01T00:00:00Z", true},
                            {"b", 3262, "2026-01-02T00:00:00Z", false}})
                  .empty());
  // Nobody serves: the volume created first keeps the port, whatever the names' order.
  auto first = port_clashes({{"a-damaged", 3261, "2026-01-02T00:00:00Z", false},
                             {"b-healthy", 3261, "2026-01-01T00:00:00Z", false}});
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(first.contains("a-damaged"));
  EXPECT_NE(first["a-damaged"].find("port 3261, which belongs to volume b-healthy"),
            std::string::npos)
      << first["a-damaged"];
  // A target serving on the port keeps it even if it was created later.
  auto serving = port_clashes({{"old", 3261, "2026-01-01T00:00:00Z", false},
                               {"new", 3261, "2026-01-02T00:00:00Z", true},
                               {"third", 3261, "", false}});
  EXPECT_EQ(serving.size(), 2u);
  EXPECT_TRUE(serving.contains("old") && serving.contains("third"));
  EXPECT_NE(serving["old"].find("serves on it now"), std::string::npos);
  // Nobody serves now (the owner's target just crashed): the one that served on the port last
  // keeps it, though the damaged claimant was created first.
  auto crashed = port_clashes({{"old-damaged", 3261, "2026-01-01T00:00:00Z", false, false},
                               {"new-healthy", 3261, "2026-01-02T00:00:00Z", false, true}});
  ASSERT_EQ(crashed.size(), 1u);
  ASSERT_TRUE(crashed.contains("old-damaged"));
  EXPECT_NE(crashed["old-damaged"].find("belongs to volume new-healthy (its target served on it "
                                        "last)"),
            std::string::npos)
      << crashed["old-damaged"];
  // Serving now beats having served last.
  auto both = port_clashes({{"a", 7, "2026-01-01T00:00:00Z", false, true},
                            {"b", 7, "2026-01-02T00:00:00Z", true, true}});
  EXPECT_TRUE(both.contains("a") && !both.contains("b"));
  // Same creation time: the name decides, so every daemon decides alike.
  auto tie = port_clashes({{"y", 1, "t", false}, {"x", 1, "t", false}});
  EXPECT_TRUE(tie.contains("y") && !tie.contains("x"));
}

TEST(JivaPortClaims, ServedPortFileRoundTrip) {
  TempDir dir;
  EXPECT_FALSE(read_served_port(dir.path()));
  ASSERT_TRUE(write_file_atomic(served_port_file(dir.path()), "3262\n"));
  EXPECT_EQ(read_served_port(dir.path()), std::uint16_t{3262});
  ASSERT_TRUE(write_file_atomic(served_port_file(dir.path()), "garbage"));
  EXPECT_FALSE(read_served_port(dir.path()));
  ASSERT_TRUE(write_file_atomic(served_port_file(dir.path()), "70000"));
  EXPECT_FALSE(read_served_port(dir.path()));
}

}  // namespace
}  // namespace maya::jiva
