// lib/jiva/remote_replicas: a remote replica's URI taken apart (its secret kept out of
// jiva.json), put back for the initiator, and replica-chap.json.
#include "lib/jiva/remote_replicas.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace maya::jiva {
namespace {

TEST(RemoteUri, TheSecretLeavesTheUriAndComesBackForTheInitiator) {
  auto parsed = parse_remote_uri(
      "iscsi://share-r1:Secret0123456789@10.213.4.2:3517/iqn.2026-12.io.maya:share.default.r1/0");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->uri, "iscsi://share-r1@10.213.4.2:3517/iqn.2026-12.io.maya:share.default.r1/0");
  EXPECT_EQ(parsed->chap.user, "share-r1");
  EXPECT_EQ(parsed->chap.secret, "Secret0123456789");
  EXPECT_EQ(
      uri_with_secret(parsed->uri, parsed->chap),
      "iscsi://share-r1:Secret0123456789@10.213.4.2:3517/iqn.2026-12.io.maya:share.default.r1/0");
  // libiscsi's USER%SECRET, IPv6, no port, no credentials.
  parsed = parse_remote_uri("iscsi://u%Secret0123456789@[fd00::2]/iqn.2026-12.io.maya:x/3");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->uri, "iscsi://u@[fd00::2]/iqn.2026-12.io.maya:x/3");
  parsed = parse_remote_uri("iscsi://host.example:3260/iqn.2026-12.io.maya:x/0");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_TRUE(parsed->chap.user.empty());
  EXPECT_EQ(uri_with_secret(parsed->uri, parsed->chap), parsed->uri);
}

TEST(RemoteUri, ASecretMayHoldSlashesAndAts) {
  auto parsed = parse_remote_uri("iscsi://u:ab/c@d@10.0.0.2:3260/iqn.2026-12.io.maya:x/0");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->chap.secret, "ab/c@d");
  EXPECT_EQ(parsed->uri, "iscsi://u@10.0.0.2:3260/iqn.2026-12.io.maya:x/0");
  EXPECT_EQ(uri_with_secret(parsed->uri, parsed->chap),
            "iscsi://u:ab/c@d@10.0.0.2:3260/iqn.2026-12.io.maya:x/0");
  // A user without a secret cannot log in to a share: refused at once.
  auto no_secret = parse_remote_uri("iscsi://u@10.0.0.2/iqn.2026-12.io.maya:x/0");
  ASSERT_FALSE(no_secret);
  EXPECT_NE(no_secret.error().message.find("no secret"), std::string::npos);
}

TEST(RemoteUri, MalformedOnesAreRefusedWithoutTheSecret) {
  for (const char* bad : {"file:///x", "iscsi://", "iscsi://u:Secret0123456789@/iqn.x/0",
                          "iscsi://u:Secret0123456789@h:99999/iqn.2026-12.io.maya:x/0",
                          "iscsi://u:Secret0123456789@h:3260/iqn.2026-12.io.maya:x",
                          "iscsi://u:Secret0123456789@h:3260/notaname/0",
                          "iscsi://u:Secret0123456789@h:3260/iqn.2026-12.io.maya:x/lun",
                          "iscsi://:Secret0123456789@h/iqn.2026-12.io.maya:x/0",
                          "iscsi://u:@h/iqn.2026-12.io.maya:x/0"}) {
    auto parsed = parse_remote_uri(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().message.find("Secret0123456789"), std::string::npos)
        << parsed.error().message;
  }
}

TEST(RemoteUri, SecretsLiveInA0600FileBesideTheManifest) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("maya-remote-chap-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto empty = read_replica_chap(dir);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(write_replica_chap(dir, {{"r2", {"share-b", "Secret0123456789"}}}));
  struct stat st {};
  ASSERT_EQ(::stat(replica_chap_file(dir).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = read_replica_chap(dir);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->at("r2").secret, "Secret0123456789");
  // A damaged file is an error naming it.
  std::FILE* f = std::fopen(replica_chap_file(dir).c_str(), "w");
  std::fputs("{\"r2\": 7}", f);
  std::fclose(f);
  auto damaged = read_replica_chap(dir);
  ASSERT_FALSE(damaged);
  EXPECT_NE(damaged.error().message.find("replica-chap.json"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace maya::jiva
