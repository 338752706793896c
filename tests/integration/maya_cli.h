// Runs the real `maya` binary for integration tests, inside a temp root of its own.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace maya::testing {

struct RunResult {
  int status = -1;  // exit status, or 128+signal
  std::string out;
  std::string err;
};

// Runs `MAYA_BINARY args...` with a 60 s limit and returns its output.
RunResult run_maya(const std::vector<std::string>& args);
// The same with another binary (a copy of maya, as an upgrade installs one).
RunResult run_exe(const std::string& exe, const std::vector<std::string>& args);

// A temp directory used as `maya init --root`; unloads any daemon and removes it on destruction.
class TempRoot {
 public:
  TempRoot();
  ~TempRoot();
  TempRoot(const TempRoot&) = delete;
  TempRoot& operator=(const TempRoot&) = delete;

  const std::filesystem::path& path() const { return root_; }
  // `maya init --root` this root, then give it ports of its own so that tests running in
  // parallel never meet: the iSCSI discovery portal on any free port, and a block of 40
  // target ports picked from this process's pid.
  RunResult init() const;
  std::filesystem::path config() const { return root_ / "etc/maya.conf"; }
  // Runs maya with `--config <this root's config>` before `args`.
  RunResult maya(std::vector<std::string> args) const;
  // `maya status -o json`, parsed; null when no daemon runs.
  nlohmann::json status() const;

 private:
  std::filesystem::path root_;
};

}  // namespace maya::testing
