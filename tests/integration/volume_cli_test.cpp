// `maya volume …` through the control socket of a real daemon.
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "tests/integration/maya_cli.h"

namespace maya::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class VolumeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(root_.init().status, 0);
    RunResult load = root_.maya({"load"});
    ASSERT_EQ(load.status, 0) << load.err;
  }
  fs::path store() const { return root_.path() / "opt/maya-store"; }
  TempRoot root_;
};

TEST_F(VolumeCli, CreateListInspectDelete) {
  RunResult created = root_.maya({"volume", "create", "db1", "--size", "1GiB", "--fstype", "xfs"});
  ASSERT_EQ(created.status, 0) << created.err;
  EXPECT_NE(created.out.find("volume db1 created"), std::string::npos) << created.out;
  EXPECT_TRUE(fs::exists(store() / "db1"));

  RunResult short_form = root_.maya({"volume", "db2"});
  ASSERT_EQ(short_form.status, 0) << short_form.err;

  RunResult inspect = root_.maya({"volume", "inspect", "db1", "-o", "json"});
  ASSERT_EQ(inspect.status, 0) << inspect.err;
  json v = json::parse(inspect.out);
  for (const char* key : {"name", "driver", "size_bytes", "state", "mountpoint", "created"})
    EXPECT_TRUE(v.contains(key)) << key;
  EXPECT_EQ(v["name"], "db1");
  EXPECT_EQ(v["driver"], "jiva");  // the default
  EXPECT_EQ(v["size_bytes"], 1ull << 30);
  EXPECT_EQ(v["fstype"], "xfs");
  EXPECT_EQ(v["state"], "detached");
  EXPECT_TRUE(v["mountpoint"].is_null());
  EXPECT_LT(v["allocated_bytes"].get<std::uint64_t>(), 1ull << 20) << "thin: nothing allocated";

  json db2 = json::parse(root_.maya({"volume", "inspect", "db2", "-o", "json"}).out);
  EXPECT_EQ(db2["size_bytes"], 100ull << 30) << "the short form uses the default spec";

  RunResult table = root_.maya({"volume", "list"});
  ASSERT_EQ(table.status, 0);
  EXPECT_NE(table.out.find("db1"), std::string::npos);
  EXPECT_NE(table.out.find("db2"), std::string::npos);
  json list = json::parse(root_.maya({"volume", "list", "-o", "json"}).out);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(root_.status()["volumes"], 2);

  RunResult dup = root_.maya({"volume", "create", "db1"});
  EXPECT_EQ(dup.status, 1);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos);

  ASSERT_EQ(root_.maya({"volume", "delete", "db1"}).status, 0);
  ASSERT_EQ(root_.maya({"volume", "rm", "db2"}).status, 0);
  EXPECT_FALSE(fs::exists(store() / "db1"));
  EXPECT_EQ(json::parse(root_.maya({"volume", "list", "-o", "json"}).out).size(), 0u);
  RunResult gone = root_.maya({"volume", "inspect", "db1"});
  EXPECT_EQ(gone.status, 1);
  EXPECT_NE(gone.err.find("no such volume: db1"), std::string::npos);
}

TEST_F(VolumeCli, SpecFileAndBadInput) {
  fs::path spec = root_.path() / "v.toml";
  std::ofstream(spec) << "size = \"2GiB\"\nfstype = \"xfs\"\n";
  RunResult created = root_.maya({"volume", "fromspec", "--spec", spec.string()});
  ASSERT_EQ(created.status, 0) << created.err;
  json v = json::parse(root_.maya({"volume", "inspect", "fromspec", "-o", "json"}).out);
  EXPECT_EQ(v["size_bytes"], 2ull << 30);
  EXPECT_EQ(v["fstype"], "xfs");

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"volume", "create", "../../etc"},
        {"volume", "create", std::string(300, 'x')},
        {"volume", "create", "ok", "--size", "abc"},
        {"volume", "create", "ok", "--replicas", "17"},
        {"volume", "create", "ok", "--replicas", "2", "--driver", "local"},
        {"volume", "create", "ok", "--from", "nosuch@snap"},
        {"volume", "create", "ok", "--fstype", "ntfs"}}) {
    RunResult r = root_.maya(args);
    EXPECT_EQ(r.status, 1) << args.back();
    EXPECT_FALSE(r.err.empty());
  }
  EXPECT_FALSE(fs::exists(store() / "ok"));
  EXPECT_FALSE(fs::exists(root_.path() / "etc.json"));
  EXPECT_EQ(json::parse(root_.maya({"volume", "list", "-o", "json"}).out).size(), 1u);
  EXPECT_EQ(root_.maya({"volume", "--help"}).status, 0);
  EXPECT_EQ(root_.maya({"volume", "create", "--help"}).status, 0);
}

// --timeout is bounded before it is turned into seconds: a huge value is refused with a
// sentence, never multiplied into an overflow; the check comes before the daemon is asked.
TEST_F(VolumeCli, RebuildTimeoutIsBounded) {
  for (const char* t :
       {"99999999999999999h", "9223372036854775807m", "999999999999999999999", "721h", "2592001"}) {
    RunResult r = root_.maya({"volume", "rebuild", "nosuch", "--wait", "--timeout", t});
    EXPECT_EQ(r.status, 2) << t;  // a usage error
    EXPECT_NE(r.err.find("is too long: at most 30 days"), std::string::npos) << t << ": " << r.err;
  }
  for (const char* t : {"abc", "0", "5d"}) {
    RunResult r = root_.maya({"volume", "rebuild", "nosuch", "--wait", "--timeout", t});
    EXPECT_EQ(r.status, 2) << t;
    EXPECT_NE(r.err.find("is not a duration"), std::string::npos) << t << ": " << r.err;
  }
  // 720h is allowed: it gets as far as asking the daemon about the volume.
  RunResult r = root_.maya({"volume", "rebuild", "nosuch", "--wait", "--timeout", "720h"});
  EXPECT_EQ(r.err.find("--timeout"), std::string::npos) << r.err;
}

// Issue 11, trap 1: `maya volume NAME` creates NAME, so a command's name or a typo of one
// must never become a 100 GiB volume: it gets "did you mean" and exit 2, and nothing is made.
TEST_F(VolumeCli, TheShortFormNeverTakesACommandOrATypoOfOneForAName) {
  for (const auto& [word, meant] :
       std::vector<std::pair<std::string, std::string>>{{"lsit", "list"},
                                                        {"lst", "list"},
                                                        {"inspcet", "inspect"},
                                                        {"delet", "delete"},
                                                        {"snapshots", "snapshot"},
                                                        {"creat", "create"},
                                                        {"rebuilt", "rebuild"}}) {
    RunResult r = root_.maya({"volume", word});
    EXPECT_EQ(r.status, 2) << word;
    EXPECT_NE(
        r.err.find("unknown volume command \"" + word + "\" (did you mean \"" + meant + "\"?)"),
        std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("maya volume create " + word), std::string::npos) << r.err;
  }
  for (const char* word : {"attach", "detach"}) {  // real commands, never a create
    RunResult r = root_.maya({"volume", word, "x"});
    EXPECT_EQ(r.status, 1) << word;
    EXPECT_NE(r.err.find("no such volume: x"), std::string::npos) << r.err;
  }
  EXPECT_EQ(json::parse(root_.maya({"volume", "list", "-o", "json"}).out).size(), 0u)
      << "no volume was made";
  // Help, three ways.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"volume", "help"}, {"help", "volume"}, {"volume", "--help"}}) {
    RunResult r = root_.maya(args);
    EXPECT_EQ(r.status, 0) << args[0] << " " << args[1] << ": " << r.err;
    EXPECT_NE(r.out.find("Usage: maya volume"), std::string::npos) << r.out;
  }
  // A real name still works in the short form, and so does a typo'd name through create.
  RunResult web = root_.maya({"volume", "web1"});
  EXPECT_EQ(web.status, 0) << web.err;
  EXPECT_EQ(root_.maya({"volume", "create", "lsit", "--size", "1GiB"}).status, 0);
  EXPECT_EQ(json::parse(root_.maya({"volume", "list", "-o", "json"}).out).size(), 2u);
}

// Splits `text` into its lines.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(text.substr(start, nl - start));
  return lines;
}

// Issue 11, output a person can read: a 60-character name never runs into the next column,
// and sizes print for people (10GB (9.3GiB), 10GiB), never 9765625KiB; 10Gi is a size.
TEST_F(VolumeCli, TablesKeepTheirColumnsWithALongNameAndSizesReadable) {
  const std::string name(60, 'n');
  ASSERT_EQ(root_.maya({"volume", "create", name, "--size", "10GB"}).status, 0);
  RunResult local = root_.maya({"volume", "create", "loc", "--size", "10Gi", "--driver", "local"});
  ASSERT_EQ(local.status, 0) << local.err;
  EXPECT_NE(local.out.find("(local, 10GiB, ext4)"), std::string::npos) << local.out;
  EXPECT_EQ(json::parse(root_.maya({"volume", "inspect", "loc", "-o", "json"}).out)["size_bytes"],
            10ull << 30);

  RunResult list = root_.maya({"volume", "list"});
  ASSERT_EQ(list.status, 0) << list.err;
  std::vector<std::string> lines = lines_of(list.out);
  ASSERT_EQ(lines.size(), 3u) << list.out;
  const std::string& header = lines[0];
  std::vector<std::size_t> starts;
  for (const char* column :
       {"NAME", "DRIVER", "SIZE", "STATE", "HEALTH", "REPLICAS", "MOUNTS", "MOUNTPOINT"}) {
    std::size_t at = header.find(column);
    ASSERT_NE(at, std::string::npos) << column << " in " << header;
    starts.push_back(at);
  }
  for (std::size_t row = 1; row < lines.size(); ++row) {
    const std::string& line = lines[row];
    for (std::size_t c = 1; c < starts.size(); ++c) {
      // Every column of every row starts where the header's does: after two blanks, with a cell.
      ASSERT_GT(line.size(), starts[c]) << list.out;
      EXPECT_EQ(line.substr(starts[c] - 2, 2), "  ") << "column " << c << "\n" << list.out;
      EXPECT_NE(line[starts[c]], ' ') << "column " << c << "\n" << list.out;
    }
  }
  EXPECT_NE(list.out.find(name + "  jiva    10GB (9.3GiB)"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("healthy"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("1/1"), std::string::npos) << "REPLICAS RW/wanted\n" << list.out;
  EXPECT_NE(list.out.find("10GiB"), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find("9765625KiB"), std::string::npos) << list.out;

  RunResult inspect = root_.maya({"volume", "inspect", name});
  ASSERT_EQ(inspect.status, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("10GB (9.3GiB, 10000000000 bytes"), std::string::npos) << inspect.out;
  EXPECT_EQ(inspect.out.find("9765625KiB"), std::string::npos) << inspect.out;
  // The JSON keeps its keys and values.
  json v = json::parse(root_.maya({"volume", "inspect", name, "-o", "json"}).out);
  EXPECT_EQ(v["size_bytes"], 10'000'000'000ull);
  EXPECT_EQ(v["size"], "9765625KiB");
}

// `maya volume delete a b c` as `docker volume rm`: each tried, each result printed, and exit 1
// when any failed.
TEST_F(VolumeCli, DeleteTakesSeveralNames) {
  for (const char* n : {"a", "b", "c", "d", "e"})
    ASSERT_EQ(root_.maya({"volume", "create", n, "--size", "16Mi", "--driver", "local"}).status, 0);
  RunResult all = root_.maya({"volume", "delete", "a", "b", "c"});
  EXPECT_EQ(all.status, 0) << all.err;
  for (const char* n : {"a", "b", "c"})
    EXPECT_NE(all.out.find("volume " + std::string(n) + " deleted"), std::string::npos) << all.out;

  RunResult some = root_.maya({"volume", "rm", "d", "nosuch", "e"});
  EXPECT_EQ(some.status, 1);
  EXPECT_NE(some.out.find("volume d deleted"), std::string::npos) << some.out;
  EXPECT_NE(some.out.find("volume e deleted"), std::string::npos) << "tried after a failure";
  EXPECT_NE(some.err.find("no such volume: nosuch"), std::string::npos) << some.err;
  EXPECT_EQ(json::parse(root_.maya({"volume", "list", "-o", "json"}).out).size(), 0u);
}

}  // namespace
}  // namespace maya::testing
