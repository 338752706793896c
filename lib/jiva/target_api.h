// The control API of a volume's target process, on <run>/targets/NAME.sock (HTTP/JSON):
//   GET    /v1/status                      volume, pid, iqn, portal, started_at, connections,
//                                          sessions, health, generation, replicas [{id, uri,
//                                          mode, generation, revision, error}], rebuild, fuse
//   POST   /v1/frontend/fuse               expose the volume as a file over FUSE
//   DELETE /v1/frontend/fuse               unmount it
//   POST   /v1/replicas/reload             follow the manifest: open new replicas, drop removed
//   POST   /v1/replicas/{id}/fault         take a replica out as if it had failed (tests)
//   POST   /v1/rebuild                     bring back every replica that is away
//   POST   /v1/snapshots/{name}            a point-in-time copy into snapshots/NAME.img
//   GET    /v1/snapshots/{name}            its copy progress
//   POST   /v1/snapshots/{name}/revert     the volume becomes the snapshot (not while in use)
#pragma once

#include <filesystem>
#include <mutex>
#include <string>

#include "lib/block/replicator.h"
#include "lib/http/router.h"
#include "lib/iscsi_target/target.h"
#include "lib/jiva/frontends.h"
#include "lib/jiva/manifest.h"

namespace maya::jiva {

struct TargetState {
  std::string volume;
  std::filesystem::path volume_dir;
  Manifest manifest;  // as last read (reload re-reads it); guarded by `manifest_mutex`
  iscsi_target::Target* target = nullptr;
  block::Replicator* replicator = nullptr;
  Frontends* frontends = nullptr;
  std::string portal;
  std::string started_at;
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
