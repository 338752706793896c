// The host's own CHAP credentials for the iSCSI discovery portal ([iscsi] chap = true):
// <state>/discovery-chap.json, mode 0600, {"user": …, "secret": …}.
#pragma once

#include <filesystem>

#include "lib/common/result.h"
#include "lib/config/config.h"
#include "lib/iscsi/chap.h"

namespace maya::daemon {

std::filesystem::path discovery_chap_file(const config::Config& config);

// Reads the credentials; an absent file gives empty ones.
Result<iscsi::ChapCredentials> read_discovery_chap(const config::Config& config);

// Reads them, or creates the file (atomically, 0600) with a new random secret when absent.
Result<iscsi::ChapCredentials> ensure_discovery_chap(const config::Config& config);

}  // namespace maya::daemon
