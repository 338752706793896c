#include "drivers/os/linux/holders.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "lib/common/errno_text.h"
#include "lib/mounts/mount_table.h"

namespace maya::drivers::linux_os {
namespace {

namespace fs = std::filesystem;

std::string read_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

// The Docker (or other runtime's) container id in a process's cgroup path, if any: the first
// run of 64 hex digits ("/docker/<id>", "docker-<id>.scope").
std::string container_id(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    std::size_t run = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      run = std::isxdigit(static_cast<unsigned char>(line[i])) ? run + 1 : 0;
      if (run == 64 &&
          (i + 1 == line.size() || !std::isxdigit(static_cast<unsigned char>(line[i + 1]))))
        return line.substr(i + 1 - 64, 12);
    }
  }
  return "";
}

std::string describe(pid_t pid) {
  std::string out = "process " + read_line("/proc/" + std::to_string(pid) + "/comm") + " (pid " +
                    std::to_string(pid);
  if (std::string id = container_id(pid); !id.empty()) out += ", container " + id;
  return out + ")";
}

ino_t mount_ns(pid_t pid) {
  struct stat st {};
  std::string path = pid == 0 ? "/proc/self/ns/mnt" : "/proc/" + std::to_string(pid) + "/ns/mnt";
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Where the device is mounted in `pid`'s mount namespace (none when its table cannot be read).
std::vector<std::string> mounts_of(pid_t pid, dev_t dev) {
  std::vector<std::string> targets;
  auto table = mounts::read_mount_table("/proc/" + std::to_string(pid) + "/mountinfo");
  if (!table) return targets;
  for (const auto& mount : *table) {
    if (mount.devno == dev) targets.push_back(mount.target.string());
  }
  return targets;
}

// Whether `path` (a /proc link: fd, cwd, root) is the device itself or a file on it.
bool on_device(const std::string& path, dev_t dev) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return (S_ISBLK(st.st_mode) && st.st_rdev == dev) || st.st_dev == dev;
}

}  // namespace

Result<std::vector<std::string>> device_holders(const fs::path& device,
                                                const fs::path& expected_mount) {
  struct stat st {};
  if (::stat(device.c_str(), &st) != 0 || !S_ISBLK(st.st_mode))
    return fail("cannot check who holds " + device.string() + ": " +
                (S_ISBLK(st.st_mode) ? errno_text(errno) : "not a block device"));
  const dev_t dev = st.st_rdev;
  const pid_t self = ::getpid();
  const ino_t own_ns = mount_ns(0);
  std::error_code ec;
  const fs::path expected = fs::weakly_canonical(expected_mount, ec);

  std::vector<std::string> holders;
  std::set<ino_t> namespaces_seen;
  std::map<pid_t, bool> openers;  // sorted, each once
  for (auto it = fs::directory_iterator("/proc", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == self) continue;
    const std::string proc = "/proc/" + name;
    const ino_t ns = mount_ns(pid);
    // Mounts: once per namespace, named by its first process seen (lowest pid: its init).
    if (ns != 0 && !namespaces_seen.contains(ns)) {
      namespaces_seen.insert(ns);
      for (const std::string& target : mounts_of(pid, dev)) {
        if (ns == own_ns) {
          if (fs::path(target) != expected) holders.push_back("it is also mounted on " + target);
        } else {
          holders.push_back(describe(pid) + " has it mounted in another mount namespace (on " +
                            target + ")");
          break;
        }
      }
    }
    bool holds = on_device(proc + "/cwd", dev) || on_device(proc + "/root", dev);
    std::error_code fd_ec;
    for (auto fd = fs::directory_iterator(proc + "/fd", fd_ec);
         !holds && !fd_ec && fd != fs::directory_iterator(); fd.increment(fd_ec)) {
      holds = on_device(fd->path().string(), dev);
    }
    if (holds) openers[pid] = true;
  }
  for (const auto& [pid, yes] : openers)
    holders.push_back(describe(pid) + " has it, or a file on it, open");
  return holders;
}

}  // namespace maya::drivers::linux_os
