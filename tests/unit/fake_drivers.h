// Fake storage and OS drivers for the volume service's unit tests (volume_refcount_test,
// volume_resize_test): they count calls and inject the faults (a failing mount, a foreign
// signature, a file system that cannot grow) that real devices cannot be made to produce on
// demand. The real drivers run in tests/drivers.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "drivers/os_driver.h"
#include "drivers/storage_driver.h"

namespace maya::drivers::docker::fakes {

namespace fs = std::filesystem;

struct Calls {
  int attach = 0, detach = 0, mount = 0, unmount = 0, format = 0;
  std::vector<bool> freezes;  // what freeze was asked, in order
  bool fail_mount = false;
  std::string signature;  // what probe reports after format; "" = blank
  std::map<fs::path, MountEntry> table;
  std::set<std::string> volumes, attached;
  std::vector<std::string> holders;  // who holds every device
  bool can_release = false;          // the storage lets a held device go on its last close
  std::set<std::string> released;    // volumes whose device was set to go on its last close
  std::vector<fs::path> lazy_unmounts;
  // Growing: the storage's size per volume, and the file system grows asked (device, target);
  // grow_fs_error set makes them fail.
  std::map<std::string, std::uint64_t> sizes;
  std::vector<std::pair<std::string, fs::path>> fs_grows;
  std::string grow_fs_error;
};

class FakeStorage : public StorageDriver {
 public:
  explicit FakeStorage(Calls& c) : c_(c) {}
  std::string_view name() const override { return "fake"; }
  Result<StorageVolume> create(const VolumeSpec& s) override {
    c_.volumes.insert(s.name);
    return StorageVolume{s.name, s.size_bytes};
  }
  Result<void> remove(const std::string& n) override {
    if (c_.attached.contains(n)) return fail("attached");
    c_.volumes.erase(n);
    return {};
  }
  Result<StorageVolume> inspect(const std::string& n) override {
    if (!c_.volumes.contains(n)) return fail("no storage for " + n);
    StorageVolume v{n, 1};
    if (c_.attached.contains(n)) v.device = "/dev/fake-" + n;
    return v;
  }
  Result<std::vector<StorageVolume>> list() override { return std::vector<StorageVolume>{}; }
  Result<fs::path> attach(const std::string& n) override {
    ++c_.attach;
    c_.attached.insert(n);
    return fs::path("/dev/fake-" + n);
  }
  Result<void> detach(const std::string& n) override {
    if (c_.attached.erase(n)) ++c_.detach;
    return {};
  }
  Result<void> release_when_closed(const std::string& n) override {
    if (!c_.can_release) return StorageDriver::release_when_closed(n);
    c_.released.insert(n);
    return {};
  }

 private:
  Calls& c_;
};

class FakeOs : public OsDriver {
 public:
  explicit FakeOs(Calls& c) : c_(c) {}
  std::string_view name() const override { return "fake"; }
  Result<std::vector<MountEntry>> mounts() override {
    std::vector<MountEntry> all;
    for (const auto& [target, entry] : c_.table) all.push_back(entry);
    return all;
  }
  Result<std::vector<std::string>> holders(const fs::path&, const fs::path&) override {
    return c_.holders;
  }
  Result<void> unmount_lazily(const fs::path& t) override {
    c_.lazy_unmounts.push_back(t);
    c_.table.erase(t);
    return {};
  }
  Result<std::optional<MountEntry>> mounted_at(const fs::path& t) override {
    auto it = c_.table.find(t);
    if (it == c_.table.end()) return std::optional<MountEntry>{};
    return std::optional<MountEntry>{it->second};
  }
  Result<std::optional<std::string>> probe(const fs::path&) override {
    if (c_.signature.empty()) return std::optional<std::string>{};
    return std::optional<std::string>{c_.signature};
  }
  Result<void> format(const fs::path&, const std::string& type) override {
    ++c_.format;
    c_.signature = type;
    return {};
  }
  Result<void> mount(const fs::path& d, const fs::path& t, const std::string& type,
                     const std::string& o) override {
    ++c_.mount;
    if (c_.fail_mount) return fail("injected mount failure");
    c_.table[t] = MountEntry{d.string(), t, type, o};
    return {};
  }
  Result<void> unmount(const fs::path& t) override {
    if (c_.table.erase(t)) ++c_.unmount;
    return {};
  }
  Result<void> freeze(const fs::path&, bool frozen) override {
    c_.freezes.push_back(frozen);
    return {};
  }
  Result<void> grow_filesystem(const fs::path& device, const fs::path& target,
                               const std::string&) override {
    c_.fs_grows.emplace_back(device.string(), target);
    if (!c_.grow_fs_error.empty()) return fail(c_.grow_fs_error);
    return {};
  }

 private:
  Calls& c_;
};

// The fake storage with snapshots: the quiesce it is given is called around the point in time.
class FakeSnapshotStorage : public FakeStorage, public SnapshotManager {
 public:
  using FakeStorage::FakeStorage;
  Result<SnapshotInfo> create_snapshot(const std::string&, const std::string& snapshot,
                                       const Quiesce& quiesce) override {
    if (quiesce) MAYA_TRY_VOID(quiesce(true));
    if (quiesce) MAYA_TRY_VOID(quiesce(false));
    return SnapshotInfo{.name = snapshot};
  }
  Result<std::vector<SnapshotInfo>> list_snapshots(const std::string&) override {
    return std::vector<SnapshotInfo>{};
  }
  Result<void> delete_snapshot(const std::string&, const std::string&) override { return {}; }
  Result<void> revert_snapshot(const std::string&, const std::string&) override { return {}; }
  Result<std::vector<KeptSnapshot>> kept_snapshots() override {
    return std::vector<KeptSnapshot>{};
  }
  Result<void> delete_kept_snapshot(const std::string&, const std::string&) override {
    return fail("none kept");
  }
};

// The fake storage that grows (VolumeGrower): sizes kept in Calls::sizes.
class FakeGrowingStorage : public FakeStorage, public VolumeGrower {
 public:
  FakeGrowingStorage(Calls& c) : FakeStorage(c), c_(c) {}
  Result<std::uint64_t> grow(const std::string& n, std::uint64_t size) override {
    std::uint64_t& now = c_.sizes[n];
    if (size < now) return fail("cannot shrink");
    now = size;
    return size;
  }

 private:
  Calls& c_;
};

}  // namespace maya::drivers::docker::fakes
