// A fresh directory for a fuzzer's files, on tmpfs when there is one (the code under test
// writes with fsync, which costs nothing there). The caller removes it.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace maya::fuzz {

inline std::filesystem::path scratch_dir(const std::string& what) {
  const std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string tmpl = base + "/maya-fuzz-" + what + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

}  // namespace maya::fuzz
