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

}  // namespace
}  // namespace maya
