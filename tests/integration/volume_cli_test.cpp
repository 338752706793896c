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
    EXPECT_EQ(r.status, 1) << t;
    EXPECT_NE(r.err.find("is too long: at most 30 days"), std::string::npos) << t << ": " << r.err;
  }
  for (const char* t : {"abc", "0", "5d"}) {
    RunResult r = root_.maya({"volume", "rebuild", "nosuch", "--wait", "--timeout", t});
    EXPECT_EQ(r.status, 1) << t;
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

}  // namespace
}  // namespace maya::testing
