// Storage driver "jiva" (OpenEBS jiva's design): every volume is an iSCSI target served by its
// own process, `maya target run --volume NAME`, which this driver starts and keeps alive
// (TargetSupervisor). Attach: the target exposes the volume as a file over FUSE, and a loop
// device (direct I/O) binds to it; the driver keeps a copy of the FUSE connection so that a
// target restarted after a crash takes it over and mounted file systems keep working. The volume's
// blocks live in replica directories under <store>/<name>/ (lib/jiva/manifest.h has the layout);
// each target listens on its own port from [iscsi] target_ports, with per-volume CHAP credentials
// unless [iscsi] chap = false.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "drivers/storage/jiva/target_supervisor.h"
#include "drivers/storage_driver.h"

namespace maya::drivers::jiva {

struct JivaOptions {
  std::filesystem::path store_dir;
  std::filesystem::path run_dir;
  std::vector<std::string> target_command;  // {"/usr/bin/maya", "target", "run"}
  std::string address = "0.0.0.0";          // the targets' portal IP
  std::uint16_t port_first = 3261, port_last = 3516;
  bool chap = true;
};

class JivaStorageDriver final : public StorageDriver, public TargetHost {
 public:
  explicit JivaStorageDriver(JivaOptions options);

  std::string_view name() const override { return "jiva"; }

  Result<StorageVolume> create(const VolumeSpec& spec) override;
  Result<void> remove(const std::string& name) override;
  Result<StorageVolume> inspect(const std::string& name) override;
  Result<std::vector<StorageVolume>> list() override;
  Result<std::filesystem::path> attach(const std::string& name) override;
  Result<void> detach(const std::string& name) override;

  std::vector<std::string> start_targets() override;
  Result<void> stop_targets() override;
  std::vector<Target> iscsi_targets() override;

 private:
  std::filesystem::path volume_dir(const std::string& name) const {
    return options_.store_dir / name;
  }
  // A free port of the range (not in any manifest, bindable now); store lock held.
  Result<std::uint16_t> free_port();
  Result<StorageVolume> describe(const std::string& name);
  std::string portal(std::uint16_t port) const;
  // <run>/targets/NAME.fuse/volume: the file a loop device binds to attach the volume.
  std::filesystem::path fuse_file(const std::string& name) const;
  // A request to the volume's target process; its {"error"} as the error.
  Result<nlohmann::json> target_call(const std::string& name, const std::string& method,
                                     const std::string& path);

  JivaOptions options_;
  std::unique_ptr<TargetSupervisor> supervisor_;
};

}  // namespace maya::drivers::jiva
