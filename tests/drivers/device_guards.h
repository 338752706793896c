// Test fixtures' safety net for root tests: a temp dir that, when it goes away, unmounts
// everything mounted under it and unbinds every loop device backed by a file under it (with raw
// syscalls, independent of the drivers under test), then deletes it. Also tells whether this
// host lets tests use loop devices at all.
#pragma once

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace maya::testing {

// Why loop-device tests cannot run here, or nullopt when they can.
inline std::optional<std::string> loop_devices_unavailable() {
  if (::geteuid() != 0) return "needs root to bind loop devices";
  int fd = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open /dev/loop-control: ") + std::strerror(errno);
  ::close(fd);
  return std::nullopt;
}

// The same for tests that also serve a volume over FUSE (jiva's attach path).
inline std::optional<std::string> fuse_and_loop_unavailable() {
  if (auto why = loop_devices_unavailable()) return why;
  int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open /dev/fuse: ") + std::strerror(errno);
  ::close(fd);
  return std::nullopt;
}

inline bool path_is_under(const std::string& path, const std::string& dir) {
  return path == dir ||
         (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

// Mount points under `dir` in our namespace, deepest (latest) first.
inline std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> targets;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, target;
    fields >> id >> parent >> devno >> root >> target;
    std::string plain;  // undo \040-style escapes
    for (std::size_t i = 0; i < target.size(); ++i) {
      if (target[i] == '\\' && i + 3 < target.size()) {
        plain += static_cast<char>(std::stoi(target.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        plain += target[i];
      }
    }
    if (path_is_under(plain, dir)) targets.push_back(plain);
  }
  std::reverse(targets.begin(), targets.end());
  return targets;
}

// Loop devices whose backing file is under `dir` (deleted backing files included).
inline std::vector<std::string> loops_under(const std::string& dir) {
  std::vector<std::string> devices;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/block", ec)) {
    std::ifstream in(entry.path() / "loop" / "backing_file");
    std::string backing;
    if (!in || !std::getline(in, backing)) continue;
    if (path_is_under(backing, dir)) devices.push_back("/dev/" + entry.path().filename().string());
  }
  return devices;
}

inline void unbind_loop(const std::string& device) {
  int fd = ::open(device.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ::ioctl(fd, LOOP_CLR_FD, 0);
  ::close(fd);
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "maya-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = std::filesystem::canonical(pattern);
  }
  ~TempDir() { clean_up(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  static void clean_up(const std::filesystem::path& dir) {
    const std::string prefix = dir.string();
    for (const auto& target : mounts_under(prefix)) {
      if (::umount2(target.c_str(), 0) != 0) ::umount2(target.c_str(), MNT_DETACH);
    }
    for (const auto& device : loops_under(prefix)) unbind_loop(device);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

 private:
  std::filesystem::path path_;
};

}  // namespace maya::testing
