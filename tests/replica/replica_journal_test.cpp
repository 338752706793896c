// The replica journal's replica.json as the replicator reads it at open.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "lib/common/files.h"
#include "lib/replica/replica_journal.h"

namespace maya::replica {
namespace {

namespace fs = std::filesystem;

// Found by tests/fuzz (replica_journal): a generation of 1e300 was converted with a
// static_cast (undefined; in practice 2^63, a generation that would win over every replica),
// and a negative revision wrapped. Numbers that do not fit are damage now.
TEST(ReplicaJournal, NumbersOutOfRangeAreDamage) {
  char tmpl[] = "/tmp/maya-journal-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const fs::path dir = tmpl;
  auto journal = FileJournal::open(dir);
  ASSERT_TRUE(journal) << journal.error().message;
  for (std::string fields :
       {R"("size_bytes":4096,"generation":1e300)", R"("size_bytes":4096,"generation":2.5)",
        R"("size_bytes":-4096,"generation":1)", R"("size_bytes":4096,"generation":1,"revision":-1)",
        R"("size_bytes":4096,"generation":1,"degraded_since":1e19)"}) {
    const std::string text = R"({"id":"r1",)" + fields + "}";
    ASSERT_TRUE(write_file_atomic(dir / "replica.json", text));
    auto meta = (*journal)->load_meta();
    ASSERT_FALSE(meta) << text << " was read as generation " << meta->generation;
    EXPECT_NE(meta.error().message.find("replica.json is damaged"), std::string::npos)
        << meta.error().message;
  }
  ASSERT_TRUE(write_file_atomic(
      dir / "replica.json", R"({"id":"r1","size_bytes":4096,"generation":18446744073709551615})"));
  auto meta = (*journal)->load_meta();
  ASSERT_TRUE(meta) << meta.error().message;
  EXPECT_EQ(meta->generation, 18446744073709551615ull);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace maya::replica
