// `maya init`: writes a commented config and creates the directories it names.
#pragma once

#include <filesystem>
#include <string>

#include "lib/common/result.h"
#include "lib/config/config.h"

namespace maya::config {

struct InitOptions {
  fs::path config_file;  // empty: <root>/etc/maya.conf
  fs::path root;         // empty: the real filesystem root
  bool force = false;
};

struct InitResult {
  Config config;
  bool overwritten = false;
};

Result<InitResult> init(const InitOptions& options);

// The default config (etc/maya.conf) with every path placed under `root` ("" for /).
std::string render_default(const fs::path& root, const std::string& host_name,
                           const std::string& host_id);

}  // namespace maya::config
