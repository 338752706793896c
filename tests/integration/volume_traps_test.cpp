// Issue 11's first-hour traps, on a real daemon with real loop devices and file systems
// (root only; CI runs as root): an empty root on a fresh ext4 volume, mount options checked
// at create, the overcommit warning, snapshots that outlive their volume, a forced delete.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "lib/common/files.h"
#include "lib/http/client.h"
#include "tests/integration/maya_cli.h"

namespace maya::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class VolumeTraps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIP: these tests need root (loop devices, mount)";
    if (::access("/dev/loop-control", R_OK | W_OK) != 0)
      GTEST_SKIP() << "SKIP: /dev/loop-control is not available";
    ASSERT_EQ(root_.init().status, 0);
    RunResult load = root_.maya({"load"});
    ASSERT_EQ(load.status, 0) << load.err;
  }
  void TearDown() override {
    if (::geteuid() != 0) return;
    for (const std::string& name : created_) {
      call("Unmount", {{"Name", name}, {"ID", "a"}});
      root_.maya({"volume", "delete", name, "--force", "--with-snapshots"});
    }
  }
  fs::path socket() const { return root_.path() / "run/docker/plugins/maya.sock"; }
  fs::path store() const { return root_.path() / "opt/maya-store"; }

  json call(const std::string& what, const json& body) {
    auto r = http::request(socket(), {"POST", "/VolumeDriver." + what, body.dump()});
    if (!r) return {{"Err", "transport: " + r.error().message}};
    json out = json::parse(r->body, nullptr, false);
    return out.is_object() ? out : json{{"Err", r->body}};
  }
  json create(const std::string& name, json opts) {
    created_.push_back(name);
    return call("Create", {{"Name", name}, {"Opts", std::move(opts)}});
  }
  // Replaces `from` by `to` in the config file and reloads the daemon.
  void edit_config(const std::string& from, const std::string& to) {
    std::string text = *read_file(root_.config());
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    std::ofstream(root_.config(), std::ios::trunc) << text;
    RunResult load = root_.maya({"load"});
    ASSERT_EQ(load.status, 0) << load.err;
  }
  static std::vector<std::string> entries(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
    return names;
  }

  TempRoot root_;
  std::vector<std::string> created_;
};

// Trap 6: initdb and mysqld --initialize refuse a non-empty data directory.
TEST_F(VolumeTraps, AFreshExt4VolumeHasAnEmptyRootUnlessLostFoundIsKept) {
  ASSERT_EQ(create("empty", {{"size", "64MiB"}, {"driver", "local"}})["Err"], "");
  json mounted = call("Mount", {{"Name", "empty"}, {"ID", "a"}});
  ASSERT_EQ(mounted["Err"], "") << mounted;
  fs::path root = mounted["Mountpoint"].get<std::string>();
  EXPECT_TRUE(entries(root).empty()) << "lost+found is still there";
  std::ofstream(root / "data") << "kept";
  ASSERT_EQ(call("Unmount", {{"Name", "empty"}, {"ID", "a"}})["Err"], "");
  // A later mount does not format again, and leaves what the user made alone.
  ASSERT_EQ(call("Mount", {{"Name", "empty"}, {"ID", "a"}})["Err"], "");
  EXPECT_EQ(entries(root), std::vector<std::string>{"data"});
  ASSERT_EQ(call("Unmount", {{"Name", "empty"}, {"ID", "a"}})["Err"], "");

  edit_config("keep_lost_found = false", "keep_lost_found = true");
  ASSERT_EQ(create("kept", {{"size", "64MiB"}, {"driver", "local"}})["Err"], "");
  mounted = call("Mount", {{"Name", "kept"}, {"ID", "a"}});
  ASSERT_EQ(mounted["Err"], "") << mounted;
  EXPECT_EQ(entries(mounted["Mountpoint"].get<std::string>()),
            std::vector<std::string>{"lost+found"});
  ASSERT_EQ(call("Unmount", {{"Name", "kept"}, {"ID", "a"}})["Err"], "");
}

// Trap 5: a bad mount option used to be accepted, then fail every `docker run`.
TEST_F(VolumeTraps, ABadMountOptionIsRefusedAtCreateNamingIt) {
  RunResult cli =
      root_.maya({"volume", "create", "bad", "--size", "64MiB", "--mountopts", "noatime,bogus"});
  EXPECT_NE(cli.status, 0) << cli.out;
  EXPECT_NE(cli.err.find("\"bogus\""), std::string::npos) << cli.err;
  json docker =
      create("bad2", {{"size", "64MiB"}, {"fstype", "xfs"}, {"mountopts", "data=journal"}});
  EXPECT_NE(docker["Err"].get<std::string>().find("\"data=journal\" is not known for xfs"),
            std::string::npos)
      << docker;
  EXPECT_TRUE(fs::is_empty(store())) << "nothing was created";
  EXPECT_NE(root_.maya({"volume", "inspect", "bad"}).status, 0);

  // Good options still work, at create and at the mount.
  ASSERT_EQ(create("good", {{"size", "64MiB"},
                            {"driver", "local"},
                            {"mountopts", "noatime,data=journal,errors=remount-ro"}})["Err"],
            "");
  json mounted = call("Mount", {{"Name", "good"}, {"ID", "a"}});
  ASSERT_EQ(mounted["Err"], "") << mounted;
  ASSERT_EQ(call("Unmount", {{"Name", "good"}, {"ID", "a"}})["Err"], "");
}

// Trap 7: a thin volume may be bigger than the disk, but maya says so.
TEST_F(VolumeTraps, OvercommitIsWarnedAtCreateAndShownInStatus) {
  RunResult small = root_.maya({"volume", "create", "small", "--size", "64MiB"});
  created_.push_back("small");
  ASSERT_EQ(small.status, 0) << small.err;
  EXPECT_EQ(small.err.find("warning"), std::string::npos) << small.err;
  json space = root_.status()["store"];
  ASSERT_TRUE(space.is_object()) << root_.status();
  EXPECT_EQ(space["path"], store().string());
  EXPECT_EQ(space["committed_bytes"], 64ull << 20);
  EXPECT_GT(space["free_bytes"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(space["overcommitted"], false);

  struct statvfs st {};
  ASSERT_EQ(::statvfs(store().c_str(), &st), 0);
  std::uint64_t free_mib = std::uint64_t{st.f_bavail} * st.f_frsize >> 20;
  std::string big = std::to_string(free_mib + 1024) + "MiB";
  RunResult cli = root_.maya({"volume", "create", "big", "--size", big});
  created_.push_back("big");
  ASSERT_EQ(cli.status, 0) << cli.err << " (a thin volume may be bigger than the disk)";
  EXPECT_NE(cli.err.find("warning: thin volumes in " + store().string()), std::string::npos)
      << cli.err;
  EXPECT_NE(cli.err.find("free"), std::string::npos) << cli.err;

  json docker = create("big2", {{"size", big}});
  EXPECT_EQ(docker["Err"], "") << docker;
  std::string log = read_file(root_.path() / "var/lib/maya/maya.log").value_or("");
  EXPECT_NE(log.find("volume big2: thin volumes in"), std::string::npos)
      << "Docker users find the warning in the daemon log";

  space = root_.status()["store"];
  EXPECT_EQ(space["overcommitted"], true);
  EXPECT_GT(space["committed_bytes"], space["free_bytes"]);
  RunResult table = root_.maya({"status"});
  EXPECT_NE(table.out.find("committed to thin volumes"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("(overcommitted)"), std::string::npos) << table.out;
}

// Trap 4: snapshots outlive their volume (as on EBS) and restore with --from, until deleted.
TEST_F(VolumeTraps, SnapshotsOutliveTheirVolumeAndRestoreWithItsSpec) {
  RunResult made =
      root_.maya({"volume", "create", "src", "--size", "300MiB", "--replicas", "2", "--uid", "1000",
                  "--gid", "1001", "--fstype", "xfs", "--mountopts", "noatime"});
  created_.push_back("src");
  ASSERT_EQ(made.status, 0) << made.err;
  json mounted = call("Mount", {{"Name", "src"}, {"ID", "a"}});
  ASSERT_EQ(mounted["Err"], "") << mounted;
  std::ofstream(fs::path(mounted["Mountpoint"].get<std::string>()) / "hello") << "before";
  ASSERT_EQ(call("Unmount", {{"Name", "src"}, {"ID", "a"}})["Err"], "");
  RunResult snap = root_.maya({"volume", "snapshot", "create", "src", "s1"});
  ASSERT_EQ(snap.status, 0) << snap.err;
  EXPECT_EQ(json::parse(root_.maya({"volume", "snapshot", "list", "src", "-o", "json"}).out).size(),
            1u);

  RunResult deleted = root_.maya({"volume", "delete", "src"});
  ASSERT_EQ(deleted.status, 0) << deleted.err;
  RunResult listed = root_.maya({"snapshot", "list", "-o", "json"});
  ASSERT_EQ(listed.status, 0) << listed.err;
  json all = json::parse(listed.out);
  ASSERT_EQ(all.size(), 1u) << all;
  EXPECT_EQ(all[0]["volume"], "src");
  EXPECT_EQ(all[0]["name"], "s1");
  EXPECT_EQ(all[0]["volume_deleted"], true);
  EXPECT_NE(root_.maya({"snapshot", "list"}).out.find("deleted"), std::string::npos);

  // A clone of the kept snapshot (through Docker) has the data and the source's spec.
  json clone = create("restored", {{"from", "src@s1"}});
  ASSERT_EQ(clone["Err"], "") << clone;
  json v = json::parse(root_.maya({"volume", "inspect", "restored", "-o", "json"}).out);
  EXPECT_EQ(v["replicas_wanted"], 2);
  EXPECT_EQ(v["uid"], 1000);
  EXPECT_EQ(v["gid"], 1001);
  EXPECT_EQ(v["fstype"], "xfs");
  EXPECT_EQ(v["mount_options"], "noatime");
  mounted = call("Mount", {{"Name", "restored"}, {"ID", "a"}});
  ASSERT_EQ(mounted["Err"], "") << mounted;
  fs::path mp = mounted["Mountpoint"].get<std::string>();
  EXPECT_EQ(read_file(mp / "hello").value_or(""), "before");
  struct stat st {};
  ASSERT_EQ(::stat(mp.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  ASSERT_EQ(call("Unmount", {{"Name", "restored"}, {"ID", "a"}})["Err"], "");
  // An option given wins over the source's.
  RunResult one = root_.maya({"volume", "create", "single", "--from", "src@s1", "--replicas", "1"});
  created_.push_back("single");
  ASSERT_EQ(one.status, 0) << one.err;
  EXPECT_EQ(
      json::parse(root_.maya({"volume", "inspect", "single", "-o", "json"}).out)["replicas_wanted"],
      1);

  // Mount options are checked against the file system the clone inherits (xfs here).
  RunResult xfs =
      root_.maya({"volume", "create", "xfsopts", "--from", "src@s1", "--mountopts", "inode64"});
  created_.push_back("xfsopts");
  EXPECT_EQ(xfs.status, 0) << xfs.err;
  EXPECT_NE(create("x2", {{"from", "src@s1"}, {"mountopts", "data=journal"}})["Err"]
                .get<std::string>()
                .find("is not known for xfs"),
            std::string::npos);

  EXPECT_NE(create("x", {{"from", "nosuch@snap"}})["Err"].get<std::string>().find("no such volume"),
            std::string::npos);
  RunResult gone = root_.maya({"snapshot", "delete", "src@s1"});
  ASSERT_EQ(gone.status, 0) << gone.err;
  EXPECT_EQ(json::parse(root_.maya({"snapshot", "list", "-o", "json"}).out).size(), 0u);
  EXPECT_NE(create("y", {{"from", "src@s1"}})["Err"].get<std::string>().find("no such volume"),
            std::string::npos);

  // docker volume rm keeps them too; delete --with-snapshots does not.
  ASSERT_EQ(root_.maya({"volume", "snapshot", "create", "restored", "s2"}).status, 0);
  EXPECT_EQ(call("Remove", {{"Name", "restored"}})["Err"], "");
  all = json::parse(root_.maya({"snapshot", "list", "-o", "json"}).out);
  ASSERT_EQ(all.size(), 1u) << all;
  EXPECT_EQ(all[0]["volume"], "restored");
  // A new volume of that name with a snapshot of the same name: its delete is refused before
  // it changes anything (the kept one is never overwritten).
  ASSERT_EQ(create("restored", {{"size", "16MiB"}})["Err"], "");
  ASSERT_EQ(root_.maya({"volume", "snapshot", "create", "restored", "s2"}).status, 0);
  RunResult clash = root_.maya({"volume", "delete", "restored"});
  EXPECT_NE(clash.status, 0);
  EXPECT_NE(clash.err.find("Nothing was changed"), std::string::npos) << clash.err;
  EXPECT_EQ(root_.maya({"volume", "inspect", "restored"}).status, 0);
  ASSERT_EQ(root_.maya({"volume", "delete", "restored", "--with-snapshots"}).status, 0);
  ASSERT_EQ(root_.maya({"volume", "snapshot", "create", "single", "s3"}).status, 0);
  RunResult with = root_.maya({"volume", "delete", "single", "--with-snapshots"});
  ASSERT_EQ(with.status, 0) << with.err;
  all = json::parse(root_.maya({"snapshot", "list", "-o", "json"}).out);
  ASSERT_EQ(all.size(), 1u) << all;
  EXPECT_EQ(all[0]["volume"], "restored");
  EXPECT_EQ(root_.maya({"snapshot", "delete", "restored@s2"}).status, 0);
}

// Trap 3: delete --force with a container on the volume unmounted it, then failed at the loop
// device and left the volume in error. Now it refuses before it changes anything, naming the
// process; once that is gone it completes. The "container" is a process in a mount namespace
// of its own (unshare -m), which holds a copy of the volume's mount, as a container does.
TEST_F(VolumeTraps, ForcedDeleteRefusesWhileAnotherNamespaceHoldsTheVolumeThenCompletes) {
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "SKIP: unshare(1) is missing";
  ASSERT_EQ(create("held", {{"size", "64MiB"}})["Err"], "");
  json mounted = call("Mount", {{"Name", "held"}, {"ID", "a"}});
  ASSERT_EQ(mounted["Err"], "") << mounted;
  fs::path mp = mounted["Mountpoint"].get<std::string>();
  std::ofstream(mp / "data") << "still here";

  pid_t holder = ::fork();
  if (holder == 0) {
    ::execl("/usr/bin/unshare", "unshare", "-m", "--propagation", "private", "sleep", "600",
            nullptr);
    _exit(127);
  }
  ASSERT_GT(holder, 0);
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
  } reaper{holder};
  // Bounded wait until it runs sleep in its own mount namespace.
  struct stat own {
  }, its{};
  ASSERT_EQ(::stat("/proc/self/ns/mnt", &own), 0);
  const std::string proc = "/proc/" + std::to_string(holder);
  bool ready = false;
  for (int i = 0; i < 500 && !ready; ++i) {
    ready = ::stat((proc + "/ns/mnt").c_str(), &its) == 0 && its.st_ino != own.st_ino &&
            read_file(proc + "/comm").value_or("") == "sleep\n";
    if (!ready) ::usleep(10000);
  }
  ASSERT_TRUE(ready) << "unshare did not start sleep in a namespace of its own within 5 s";

  RunResult refused = root_.maya({"volume", "delete", "held", "--force"});
  EXPECT_NE(refused.status, 0) << refused.out;
  EXPECT_NE(refused.err.find("process sleep (pid " + std::to_string(holder) + ")"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("another mount namespace"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("Nothing was changed"), std::string::npos) << refused.err;
  // Nothing changed: still mounted, its reference kept, its data in place, no error state.
  json v = json::parse(root_.maya({"volume", "inspect", "held", "-o", "json"}).out);
  EXPECT_EQ(v["state"], "mounted") << v;
  EXPECT_EQ(v["mount_count"], 1);
  EXPECT_EQ(read_file(mp / "data").value_or(""), "still here");

  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  reaper.pid = 0;
  RunResult deleted = root_.maya({"volume", "delete", "held", "--force"});
  EXPECT_EQ(deleted.status, 0) << deleted.err;
  EXPECT_FALSE(fs::exists(store() / "held"));
  EXPECT_NE(root_.maya({"volume", "inspect", "held"}).status, 0);
}

}  // namespace
}  // namespace maya::testing
