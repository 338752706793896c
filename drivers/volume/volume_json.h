// The one JSON shape of a volume, for every front door: `maya volume inspect -o json` and the
// control API (lib/daemon), and Docker's `Status` (plugin/docker). Every documented key is
// present for every driver, null where it does not apply (README: "inspect -o json").
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "drivers/volume_driver.h"

namespace maya::drivers {

// CHAP credentials appear only with `show_secrets` (chap_credentials is null otherwise).
// "ebs_id" is null: the front door that knows it sets it (with_ebs_id).
nlohmann::json volume_json(const VolumeInfo& volume, bool show_secrets = false);

// The EBS id (vol-…) of a volume, given on first sight by the EBS API's catalog (lib/ebs);
// nothing when there is none to give. Empty on a host without one.
using EbsIdOf = std::function<std::optional<std::string>(const VolumeInfo&)>;
// Sets `out`'s "ebs_id" from `ebs_id` (left null when it is empty or gives none).
void with_ebs_id(nlohmann::json& out, const VolumeInfo& volume, const EbsIdOf& ebs_id);
nlohmann::json snapshot_json(const SnapshotInfo& snapshot);

}  // namespace maya::drivers
