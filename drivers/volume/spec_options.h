// Volume specs from options: Docker's `-o key=value` strings, `maya volume create` flags (turned
// into the same strings) and spec files (TOML with the same keys). Unknown keys are errors.
//   size, fstype, mountopts, uid, gid, driver, replicas, thin, spec (path of a TOML spec file)
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "drivers/volume_spec.h"
#include "lib/common/result.h"
#include "lib/config/config.h"

namespace maya::drivers {

using VolumeOptions = std::map<std::string, std::string>;

// The spec of volume `name`: host defaults, then the spec file named by `spec`, then `options`.
Result<VolumeSpec> spec_from_options(const std::string& name, const VolumeOptions& options,
                                     const config::VolumeDefaults& defaults);

// Reads a TOML spec file into options; errors carry PATH:LINE:COL.
Result<VolumeOptions> options_from_spec_file(const std::filesystem::path& file);

}  // namespace maya::drivers
