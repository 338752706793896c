// Replica children opened by URI: a file:// directory gives its data file and journal; a
// malformed URI or one of a scheme this host cannot open is an error that names it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "lib/replica/child_factory.h"

namespace maya::replica {
namespace {

namespace fs = std::filesystem;

TEST(ChildFactory, OpensAFileChildAndItsJournal) {
  std::random_device rd;
  const fs::path dir = fs::temp_directory_path() / ("maya-child-" + std::to_string(rd()));
  fs::create_directories(dir);
  std::ofstream(dir / kFileChildData).close();
  fs::resize_file(dir / kFileChildData, 4 << 20);
  auto child = open_child("r1", "file://" + dir.string(), {.size_bytes = 4 << 20});
  ASSERT_TRUE(child) << child.error().message;
  ASSERT_TRUE(child->data);
  ASSERT_TRUE(child->journal);
  EXPECT_EQ(child->data->size_bytes(), 4u << 20);
  auto meta = child->journal->load_meta();
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->generation, 0u) << "a replica that never served";
  child->data.reset();
  child->journal.reset();
  fs::remove_all(dir);
}

TEST(ChildFactory, AMissingDataFileIsAnError) {
  const fs::path dir = fs::temp_directory_path() / "maya-child-that-is-not-there";
  auto child = open_child("r1", "file://" + dir.string(), {.size_bytes = 1 << 20});
  EXPECT_FALSE(child);
}

TEST(ChildFactory, AFileUriNeedsAnAbsolutePath) {
  for (const char* bad : {"file://", "file://relative/r1", "/opt/maya-store/db/r1", "r1"}) {
    auto child = open_child("r1", bad, {.size_bytes = 1 << 20});
    ASSERT_FALSE(child) << bad;
    EXPECT_EQ(child.error().message,
              std::string("replica r1: \"") + bad + "\" is not a file:///absolute/path URI");
  }
}

TEST(ChildFactory, AnUnknownSchemeSaysWhichOne) {
  auto child = open_child("r2", "nbd://10.0.0.2:10809/db", {});
  ASSERT_FALSE(child);
  EXPECT_NE(child.error().message.find("replica r2"), std::string::npos);
  EXPECT_NE(child.error().message.find("scheme \"nbd\""), std::string::npos)
      << child.error().message;
}

}  // namespace
}  // namespace maya::replica
