// A real target process (`maya target run`) grown through POST /v1/resize after its jiva.json
// was edited, with the FUSE frontend exposed and a loop device bound to the FUSE file: stat()
// of the file and LOOP_SET_CAPACITY see the new size, data on both sides of the old end reads
// back, a smaller size is refused and the same size changes nothing. Root, /dev/fuse and loop
// devices, else skipped saying why.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "drivers/storage/common/loop_device.h"
#include "lib/jiva/manifest.h"
#include "lib/jiva/target_client.h"
#include "tests/drivers/device_guards.h"

namespace maya::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::uint64_t kOld = 16ull << 20;
constexpr std::uint64_t kNew = 40ull << 20;

std::uint64_t stat_size(const fs::path& file) {
  struct stat st {};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << file << ": " << std::strerror(errno);
  return static_cast<std::uint64_t>(st.st_size);
}

std::string block(char c) {
  return std::string(4096, c);
}

void put(const fs::path& file, std::uint64_t offset, const std::string& data) {
  int fd = ::open(file.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  EXPECT_EQ(::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(data.size()))
      << "at " << offset << ": " << std::strerror(errno);
  EXPECT_EQ(::fsync(fd), 0);
  ::close(fd);
}

std::string get(const fs::path& file, std::uint64_t offset, std::size_t n) {
  std::string out(n, '?');
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  if (fd < 0) return "";
  EXPECT_EQ(::pread(fd, out.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
  ::close(fd);
  return out;
}

class TargetResize : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = fuse_and_loop_unavailable()) GTEST_SKIP() << "SKIP: " << *why;
    store_ = dir_.path() / "store";
    run_ = dir_.path() / "run";
    const fs::path volume = store_ / "vol";
    jiva::Manifest m;
    m.name = "vol";
    m.size_bytes = kOld;
    m.iqn = jiva::iqn_for("vol");
    m.port = 0;  // any free port: only the control socket and FUSE are used here
    for (const char* id : {"r1", "r2"}) {
      fs::create_directories(volume / id);
      std::ofstream(jiva::replica_data(volume / id)).close();
      fs::resize_file(jiva::replica_data(volume / id), kOld);
      m.replicas.push_back({id, jiva::file_uri(volume / id)});
    }
    m.last_replica = 2;
    ASSERT_TRUE(jiva::write_manifest(volume, m));
    log_ = dir_.path() / "target.out";
    const std::string binary = MAYA_BINARY;
    std::vector<std::string> args = {binary,        "target",    "run",           "--volume",
                                     "vol",         "--store",   store_.string(), "--run",
                                     run_.string(), "--address", "127.0.0.1"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
    ASSERT_EQ(::posix_spawn(&pid_, argv[0], &files, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&files);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!client().status(1s)) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the target never answered\n"
                                                            << output();
      ASSERT_EQ(::waitpid(pid_, nullptr, WNOHANG), 0) << "the target died\n" << output();
      std::this_thread::sleep_for(50ms);
    }
  }
  void TearDown() override {
    if (!loop_.empty()) (void)drivers::storage::unbind_loop_device(loop_);
    if (pid_ > 0) {
      (void)client().withdraw_fuse(10s);
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  jiva::TargetClient client() const { return jiva::TargetClient::of(run_, "vol"); }
  std::string output() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // jiva.json with another size, as the daemon writes it before it asks the target.
  void set_manifest_size(std::uint64_t size) {
    auto m = jiva::read_manifest(store_ / "vol");
    ASSERT_TRUE(m) << m.error().message;
    m->size_bytes = size;
    ASSERT_TRUE(jiva::write_manifest(store_ / "vol", *m));
  }

  TempDir dir_;
  fs::path store_, run_, log_;
  fs::path loop_;
  pid_t pid_ = -1;
};

TEST_F(TargetResize, TheFuseFileAndItsLoopDeviceShowTheNewSizeAfterResize) {
  auto fuse = client().expose_fuse();
  ASSERT_TRUE(fuse) << fuse.error().message << "\n" << output();
  // tests/fuse_uring.sh runs this on FUSE over io_uring.
  if (const char* want = std::getenv("MAYA_FUSE_TRANSPORT")) {
    EXPECT_EQ(fuse->transport, want) << output();
  }
  const fs::path file = fuse->file;
  EXPECT_EQ(stat_size(file), kOld);
  put(file, kOld - 4096, block('a'));
  auto loop = drivers::storage::bind_loop_device(file);
  ASSERT_TRUE(loop) << loop.error().message;
  loop_ = *loop;

  set_manifest_size(kNew);
  auto resized = client().resize();
  ASSERT_TRUE(resized) << resized.error().message << "\n" << output();
  EXPECT_EQ(*resized, (jiva::Resized{kNew, kOld}));
  EXPECT_EQ(stat_size(file), kNew) << "the kernel dropped the cached attributes";
  auto status = client().status();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->size_bytes, kNew);
  EXPECT_EQ(status->health, "healthy");

  // The loop device follows once asked, as `maya volume resize` asks it.
  int fd = ::open(loop_.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  EXPECT_EQ(::ioctl(fd, LOOP_SET_CAPACITY, 0), 0) << std::strerror(errno);
  std::uint64_t bytes = 0;
  EXPECT_EQ(::ioctl(fd, BLKGETSIZE64, &bytes), 0);
  ::close(fd);
  EXPECT_EQ(bytes, kNew);

  // Both sides of the old end, through the FUSE file.
  put(file, kNew - 4096, block('b'));
  EXPECT_EQ(get(file, kOld - 4096, 4096), block('a'));
  EXPECT_EQ(get(file, kOld, 4096), std::string(4096, '\0')) << "the new range reads zeros";
  EXPECT_EQ(get(file, kNew - 4096, 4096), block('b'));
  for (const char* id : {"r1", "r2"})
    EXPECT_EQ(fs::file_size(jiva::replica_data(store_ / "vol" / id)), kNew) << id;

  // The same size again changes nothing; a smaller one is refused with the sizes.
  auto again = client().resize();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, (jiva::Resized{kNew, kNew}));
  set_manifest_size(kOld);
  auto shrink = client().resize();
  ASSERT_FALSE(shrink);
  EXPECT_EQ(shrink.error().message, "volume vol is " + std::to_string(kNew) +
                                        " bytes; it cannot shrink to " + std::to_string(kOld));
  EXPECT_EQ(stat_size(file), kNew);
}

}  // namespace
}  // namespace maya::testing
