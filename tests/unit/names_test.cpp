#include "lib/common/names.h"

#include <gtest/gtest.h>

#include <string>

namespace maya {
namespace {

TEST(VolumeName, AcceptsTheDocumentedAlphabet) {
  for (const char* ok : {"db", "db1", "a", "9", "pg_data.v2-1", "A.b_C-d"}) {
    EXPECT_TRUE(validate_volume_name(ok).has_value()) << ok;
  }
  EXPECT_TRUE(validate_volume_name(std::string(63, 'x')).has_value());
}

TEST(VolumeName, RefusesHostileNames) {
  for (const char* bad : {"", "../x", "..", ".", "../../etc", "a/b", "/abs", "-flag", "_x",
                          ".hidden", "sp ace", "tab\tx", "new\nline", "uni\xc3\xa9", "a:b"}) {
    EXPECT_FALSE(validate_volume_name(bad).has_value()) << bad;
  }
  auto too_long = validate_volume_name(std::string(300, 'a'));
  ASSERT_FALSE(too_long.has_value());
  EXPECT_NE(too_long.error().message.find("300 characters"), std::string::npos);
  EXPECT_FALSE(validate_volume_name(std::string(64, 'a')).has_value());
  EXPECT_FALSE(validate_volume_name(std::string("a\0b", 3)).has_value());
}

// A realm name follows the volume name's rule, and its errors say which name is wrong.
TEST(RealmName, SameRuleAsVolumeNamesNamedInErrors) {
  for (const char* ok : {"prod", "eu-west.1", "r_2"}) {
    EXPECT_TRUE(validate_realm_name(ok).has_value()) << ok;
  }
  for (const char* bad : {"", "-r", "a/b", "sp ace", "r:1"}) {
    auto r = validate_realm_name(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message.find("invalid realm name"), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(validate_realm_name(std::string(64, 'a')).has_value());
}

TEST(IscsiName, AcceptsIqnEuiAndNaa) {
  for (const char* ok : {"iqn.2026-11.io.maya:db1", "iqn.2007-10.com.github:sahlberg:libiscsi:x",
                         "iqn.2026-11.io.maya", "eui.02004567a425678d", "naa.52004567ba64678d",
                         "naa.62004567ba64678d0123456789abcdef"}) {
    EXPECT_TRUE(validate_iscsi_name(ok).has_value()) << ok;
  }
}

TEST(IscsiName, RefusesMalformedNames) {
  for (const char* bad : {"", "bad iqn", "iqn.2026-11.io.maya:DB", "iqn.26-11.io.maya",
                          "iqn.2026-11", "iqn.2026-1x.io.maya", "eui.1234", "naa.xyz0000000000000",
                          "maya:x", "iqn.2026-11.io.maya:a/b"}) {
    auto r = validate_iscsi_name(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message.find("invalid iSCSI name"), std::string::npos);
  }
  EXPECT_FALSE(validate_iscsi_name("iqn.2026-11.io.maya:" + std::string(220, 'a')).has_value());
}

}  // namespace
}  // namespace maya
