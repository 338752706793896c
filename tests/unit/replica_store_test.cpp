// drivers/pools: bare replicas in a pool's directory. Thin ones are sparse, thick ones allocated;
// a name that exists, a bad size and a hostile name are refused; what a crash cut short (a
// directory without pool-replica.json) is never listed and is swept by the next create of its name;
// a damaged pool-replica.json is an error naming it.
#include "drivers/pools/replica_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "lib/common/files.h"

namespace maya::drivers::pools {
namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t kMiB = 1 << 20;

class ReplicaStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/maya-replica-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  ReplicaStore store() const { return ReplicaStore("tpool", dir_ / "replicas"); }
  fs::path dir_;
};

TEST_F(ReplicaStoreTest, ThinIsSparseThickIsAllocatedAndBothAreListedByName) {
  auto thick = store().create("replica1", 10 * kMiB, false);
  ASSERT_TRUE(thick) << thick.error().message;
  auto thin = store().create("replica2", 1000 * kMiB, true);
  ASSERT_TRUE(thin) << thin.error().message;
  EXPECT_EQ(fs::file_size(thick->path), 10 * kMiB);
  EXPECT_GE(thick->allocated_bytes, 10 * kMiB);
  EXPECT_EQ(fs::file_size(thin->path), 1000 * kMiB);
  EXPECT_LT(thin->allocated_bytes, kMiB);
  auto all = store().list();
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "replica1");
  EXPECT_FALSE((*all)[0].thin);
  EXPECT_EQ((*all)[1].name, "replica2");
  EXPECT_TRUE((*all)[1].thin);
  EXPECT_EQ((*all)[1].pool, "tpool");
  EXPECT_EQ(store().committed_bytes(), 1010 * kMiB);
}

TEST_F(ReplicaStoreTest, RefusesANameThatExistsABadSizeAndHostileNames) {
  ASSERT_TRUE(store().create("r", kMiB, true));
  auto again = store().create("r", 2 * kMiB, true);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("replica r exists in pool tpool"), std::string::npos);
  EXPECT_EQ(fs::file_size(dir_ / "replicas/r/data.img"), kMiB);  // untouched
  EXPECT_FALSE(store().create("zero", 0, true));
  EXPECT_FALSE(store().create("odd", kMiB + 512, true));
  EXPECT_FALSE(store().create("huge", std::uint64_t{65} << 40, true));
  for (const std::string& name :
       std::vector<std::string>{"../x", "", std::string(300, 'a'), ".hidden", "a/b"}) {
    auto made = store().create(name, kMiB, true);
    ASSERT_FALSE(made) << name;
    EXPECT_NE(made.error().message.find("replica name"), std::string::npos) << name;
  }
  EXPECT_FALSE(fs::exists(dir_ / "x"));
  EXPECT_EQ(store().list()->size(), 1u);
}

TEST_F(ReplicaStoreTest, WhatACrashCutShortIsNotListedAndIsSweptByTheNextCreate) {
  ASSERT_TRUE(make_dirs(dir_ / "replicas/half"));
  ASSERT_TRUE(write_file_atomic(dir_ / "replicas/half/data.img", "partial"));
  auto all = store().list();
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
  EXPECT_FALSE(store().get("half"));
  auto made = store().create("half", 4 * kMiB, true);
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(fs::file_size(made->path), 4 * kMiB);
}

TEST_F(ReplicaStoreTest, ADamagedDescriptionIsAnErrorNamingIt) {
  ASSERT_TRUE(store().create("r", kMiB, true));
  ASSERT_TRUE(
      write_file_atomic(dir_ / "replicas/r/pool-replica.json", "{\"size_bytes\": \"ten\"}"));
  auto all = store().list();
  ASSERT_FALSE(all);
  EXPECT_NE(all.error().message.find("pool-replica.json is damaged"), std::string::npos);
}

TEST_F(ReplicaStoreTest, DestroyTakesItAwayAndANameItDoesNotKnowIsAnError) {
  ASSERT_TRUE(store().create("r", kMiB, false));
  ASSERT_TRUE(store().destroy("r"));
  EXPECT_FALSE(fs::exists(dir_ / "replicas/r"));
  auto gone = store().destroy("r");
  ASSERT_FALSE(gone);
  EXPECT_NE(gone.error().message.find("no replica named r in pool tpool"), std::string::npos);
}

}  // namespace
}  // namespace maya::drivers::pools
