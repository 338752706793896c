// In-memory storage and OS drivers for fuzzing the Docker plugin and the control API: the real
// DockerVolumeDriver (records, reference counts, locks) runs on top, but no loop device, mkfs or
// mount is touched, so a fuzzed body can do anything a client could without side effects on
// the host. The real drivers run in tests/drivers and tests/conformance.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "drivers/os_driver.h"
#include "drivers/storage_driver.h"
#include "drivers/volume/docker/docker_volume_driver.h"
#include "tests/fuzz/scratch_dir.h"

namespace maya::fuzz {

class MemoryStorage final : public drivers::StorageDriver,
                            public drivers::ReplicaManager,
                            public drivers::SnapshotManager {
 public:
  std::string_view name() const override { return "mem"; }
  unsigned max_replicas() const override { return 3; }
  Result<drivers::StorageVolume> create(const drivers::VolumeSpec& spec) override {
    volumes_[spec.name] = spec.size_bytes;
    return drivers::StorageVolume{.name = spec.name, .size_bytes = spec.size_bytes};
  }
  Result<void> remove(const std::string& name) override {
    if (attached_.contains(name)) return fail(name + " is attached");
    volumes_.erase(name);
    // As on EBS (and in the jiva driver), a volume's snapshots outlive it.
    if (auto it = snapshots_.find(name); it != snapshots_.end()) {
      for (auto& [snap, info] : it->second) kept_[name][snap] = info;
      snapshots_.erase(it);
    }
    return {};
  }
  Result<drivers::StorageVolume> inspect(const std::string& name) override {
    auto it = volumes_.find(name);
    if (it == volumes_.end()) return fail("no storage for " + name);
    drivers::StorageVolume v{.name = name, .size_bytes = it->second};
    if (attached_.contains(name)) v.device = "/dev/mem-" + name;
    return v;
  }
  Result<std::vector<drivers::StorageVolume>> list() override {
    std::vector<drivers::StorageVolume> out;
    for (const auto& [name, size] : volumes_) out.push_back({.name = name, .size_bytes = size});
    return out;
  }
  Result<std::filesystem::path> attach(const std::string& name) override {
    attached_.insert(name);
    return std::filesystem::path("/dev/mem-" + name);
  }
  Result<void> detach(const std::string& name) override {
    attached_.erase(name);
    return {};
  }
  Result<std::string> add_replica(const std::string& volume, const std::string&) override {
    return volume + "-r" + std::to_string(++replicas_);
  }
  Result<void> remove_replica(const std::string&, const std::string& id) override {
    if (id.empty()) return fail("no replica id");
    return {};
  }
  Result<void> fail_replica(const std::string&, const std::string& id,
                            const std::string&) override {
    if (id.empty()) return fail("no replica id");
    return {};
  }
  Result<std::vector<std::string>> rebuild(const std::string&) override {
    return std::vector<std::string>{};
  }
  Result<drivers::SnapshotInfo> create_snapshot(const std::string& volume,
                                                const std::string& snapshot,
                                                const Quiesce&) override {
    drivers::SnapshotInfo s{.name = snapshot, .created = "2026-12-01T00:00:00Z"};
    snapshots_[volume][snapshot] = s;
    return s;
  }
  Result<std::vector<drivers::SnapshotInfo>> list_snapshots(const std::string& volume) override {
    std::vector<drivers::SnapshotInfo> out;
    for (const auto& [name, s] : snapshots_[volume]) out.push_back(s);
    return out;
  }
  Result<void> delete_snapshot(const std::string& volume, const std::string& snapshot) override {
    if (snapshots_[volume].erase(snapshot) == 0) return fail("no snapshot " + snapshot);
    return {};
  }
  Result<void> revert_snapshot(const std::string& volume, const std::string& snapshot) override {
    if (!snapshots_[volume].contains(snapshot)) return fail("no snapshot " + snapshot);
    return {};
  }
  Result<std::vector<KeptSnapshot>> kept_snapshots() override {
    std::vector<KeptSnapshot> out;
    for (const auto& [volume, snaps] : kept_)
      for (const auto& [name, info] : snaps) out.push_back({volume, info});
    return out;
  }
  Result<void> delete_kept_snapshot(const std::string& volume,
                                    const std::string& snapshot) override {
    auto it = kept_.find(volume);
    if (it == kept_.end() || it->second.erase(snapshot) == 0)
      return fail("no snapshot " + volume + "@" + snapshot);
    if (it->second.empty()) kept_.erase(it);
    return {};
  }

 private:
  std::map<std::string, std::uint64_t> volumes_;
  std::set<std::string> attached_;
  std::map<std::string, std::map<std::string, drivers::SnapshotInfo>> snapshots_;
  std::map<std::string, std::map<std::string, drivers::SnapshotInfo>> kept_;  // of deleted ones
  unsigned replicas_ = 0;
};

class MemoryOs final : public drivers::OsDriver {
 public:
  std::string_view name() const override { return "mem"; }
  Result<std::vector<drivers::MountEntry>> mounts() override {
    std::vector<drivers::MountEntry> out;
    for (const auto& [target, entry] : table_) out.push_back(entry);
    return out;
  }
  Result<std::optional<drivers::MountEntry>> mounted_at(const std::filesystem::path& t) override {
    auto it = table_.find(t);
    if (it == table_.end()) return std::optional<drivers::MountEntry>{};
    return std::optional<drivers::MountEntry>{it->second};
  }
  Result<std::optional<std::string>> probe(const std::filesystem::path& device) override {
    if (!formatted_.contains(device)) return std::optional<std::string>{};
    return std::optional<std::string>{"ext4"};
  }
  Result<void> format(const std::filesystem::path& device, const std::string&) override {
    formatted_.insert(device);
    return {};
  }
  Result<void> mount(const std::filesystem::path& device, const std::filesystem::path& target,
                     const std::string& type, const std::string& options) override {
    table_[target] = drivers::MountEntry{device.string(), target, type, options};
    return {};
  }
  Result<void> unmount(const std::filesystem::path& target) override {
    table_.erase(target);
    return {};
  }

 private:
  std::map<std::filesystem::path, drivers::MountEntry> table_;
  std::set<std::filesystem::path> formatted_;
};

// A DockerVolumeDriver over the memory drivers, its state in a fresh temporary directory that
// goes away with it.
struct MemoryVolumes {
  MemoryVolumes() {
    state = scratch_dir("volumes");
    drivers::docker::DockerVolumeDriver::StorageDrivers storage;
    storage.emplace("mem", std::make_unique<MemoryStorage>());
    driver = std::make_unique<drivers::docker::DockerVolumeDriver>(
        std::move(storage), std::make_unique<MemoryOs>(), state);
  }
  ~MemoryVolumes() {
    driver.reset();
    std::error_code ec;
    std::filesystem::remove_all(state, ec);
  }
  config::VolumeDefaults defaults() const {
    return {.size_bytes = 1 << 20, .replicas = 1, .fstype = "ext4", .storage_driver = "mem"};
  }

  std::filesystem::path state;
  std::unique_ptr<drivers::docker::DockerVolumeDriver> driver;
};

}  // namespace maya::fuzz
