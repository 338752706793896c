// The server side of the control API of a volume's target process, on <run>/targets/NAME.sock:
// a router whose routes and answers are those of lib/jiva/target_client.h (which lists them),
// over the target's replicator, iSCSI portal and frontends.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>

#include "lib/http/router.h"
#include "lib/iscsi_target/target.h"
#include "lib/jiva/frontends.h"
#include "lib/jiva/manifest.h"
#include "lib/jiva/target_client.h"
#include "lib/replica/replicator.h"

namespace maya::jiva {

struct TargetState {
  std::string volume;
  std::filesystem::path volume_dir;
  Manifest manifest;  // as last read (reload re-reads it); guarded by `manifest_mutex`
  iscsi_target::Target* target = nullptr;
  replica::Replicator* replicator = nullptr;
  Frontends* frontends = nullptr;
  std::string portal;
  std::string started_at;
  std::int64_t started_unix = 0;               // the same, in Unix time (GET /v1/metrics)
  std::chrono::milliseconds io_timeout{5000};  // for the replicas it opens
  std::uint64_t owner_key = 0;                 // fences its remote replicas (0: none)
  std::mutex mutex;  // one management request at a time (status never waits for it)
  std::mutex manifest_mutex;
  Manifest manifest_copy() {
    std::lock_guard lock(manifest_mutex);
    return manifest;
  }
};

inline std::filesystem::path snapshot_file(const std::filesystem::path& volume_dir,
                                           const std::string& name) {
  return volume_dir / "snapshots" / (name + ".img");
}

http::Router make_target_router(TargetState& state);

}  // namespace maya::jiva
