// The one JSON shape of a volume, for every front door: `maya volume inspect -o json` and the
// control API (lib/daemon), and Docker's `Status` (plugin/docker). Every documented key is
// present for every driver, null where it does not apply (README: "inspect -o json").
#pragma once

#include <nlohmann/json.hpp>

#include "drivers/volume_driver.h"

namespace maya::drivers {

// CHAP credentials appear only with `show_secrets` (chap_credentials is null otherwise).
nlohmann::json volume_json(const VolumeInfo& volume, bool show_secrets = false);
nlohmann::json snapshot_json(const SnapshotInfo& snapshot);

}  // namespace maya::drivers
