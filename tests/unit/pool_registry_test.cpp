// drivers/pools: the registry <state>/pools.json (round trip, absent = empty, a damaged file
// an error naming it and never overwritten) and the XFS label scheme.
#include "drivers/pools/pool_registry.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "drivers/pools/pool_disk.h"
#include "lib/common/files.h"

namespace maya::drivers::pools {
namespace {

namespace fs = std::filesystem;

class PoolRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/maya-pool-registry-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

PoolRecord record(const std::string& name, Phase phase) {
  return PoolRecord{name,         "uuid-of-" + name,       "/tmp/" + name + ".img",
                    "/dev/loop9", "/tmp/" + name + ".img", phase};
}

TEST_F(PoolRegistryTest, AnAbsentFileIsNoPoolsAndRecordsRoundTrip) {
  PoolRegistry registry(dir_ / "pools.json");
  auto empty = registry.load();
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(registry.put(record("a", Phase::creating)));
  ASSERT_TRUE(registry.put(record("b", Phase::ready)));
  ASSERT_TRUE(registry.put(record("a", Phase::ready)));  // replaces, keeps the order
  auto loaded = registry.load();
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].name, "a");
  EXPECT_EQ((*loaded)[0].phase, Phase::ready);
  EXPECT_EQ((*loaded)[0].uuid, "uuid-of-a");
  EXPECT_EQ((*loaded)[0].backing_file, "/tmp/a.img");
  EXPECT_EQ((*loaded)[1].device, "/dev/loop9");
  ASSERT_TRUE(registry.remove("a"));
  loaded = registry.load();
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].name, "b");
}

TEST_F(PoolRegistryTest, ADamagedFileIsAnErrorAndIsNeverOverwritten) {
  const fs::path file = dir_ / "pools.json";
  PoolRegistry registry(file);
  for (const std::string& text :
       {std::string("{\"pools\": [{\"name\": \"a\""), std::string("[]"),
        std::string("{\"pools\": [{\"name\": \"a\", \"uuid\": \"u\", \"disk\": \"/d\", "
                    "\"phase\": \"bogus\"}]}"),
        std::string("{\"pools\": [{\"name\": \"a\", \"disk\": \"/d\", \"phase\": \"ready\"}]}")}) {
    SCOPED_TRACE(text);
    ASSERT_TRUE(write_file_atomic(file, text));
    auto loaded = registry.load();
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message.find(file.string()), std::string::npos)
        << loaded.error().message;
    EXPECT_FALSE(registry.put(record("b", Phase::ready)));
    EXPECT_FALSE(registry.remove("a"));
    auto after = read_file(file);
    ASSERT_TRUE(after);
    EXPECT_EQ(*after, text) << "a damaged registry is left as it was";
  }
}

TEST(PoolLabel, ANameOfTwelveCharactersOrFewerIsItsOwnLabel) {
  EXPECT_EQ(xfs_label("tpool"), "tpool");
  EXPECT_EQ(xfs_label("twelve-chars"), "twelve-chars");
  EXPECT_EQ(xfs_label("thirteen-char"), "thirteen-ch~");
  EXPECT_EQ(xfs_label("a-very-long-pool-name").size(), 12u);
}

}  // namespace
}  // namespace maya::drivers::pools
