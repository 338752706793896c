#include "drivers/registry.h"

#include <unistd.h>

#include "drivers/os/linux/linux_os_driver.h"
#include "drivers/storage/jiva/jiva_storage_driver.h"
#include "drivers/storage/local/local_storage_driver.h"
#include "drivers/volume/docker/docker_volume_driver.h"

namespace maya::drivers {
namespace {

// This very binary: the daemon starts targets as `maya target run`.
Result<std::string> own_binary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return fail("cannot find the maya binary through /proc/self/exe: " + ec.message());
  return self.string();
}

}  // namespace

const std::map<std::string, StorageFactory>& storage_registry() {
  static const std::map<std::string, StorageFactory> registry = {
      {"local",
       [](const config::Config& c, OsDriver&,
          ReplicaPlacer*) -> Result<std::unique_ptr<StorageDriver>> {
         return std::make_unique<local::LocalStorageDriver>(c.store_dir);
       }},
      {"jiva",
       [](const config::Config& c, OsDriver& os,
          ReplicaPlacer* placer) -> Result<std::unique_ptr<StorageDriver>> {
         MAYA_TRY(self, own_binary());
         jiva::JivaOptions o;
         o.store_dir = c.store_dir;
         o.run_dir = c.run_dir;
         // The target reads [volume.defaults] space_warn_percent from the same config.
         o.target_command = {*self, "--config", c.file.string(), "target", "run"};
         o.target_args = {"--max-connections",
                          std::to_string(c.iscsi_max_connections),
                          "--max-connections-per-address",
                          std::to_string(c.iscsi_max_connections_per_address),
                          "--fuse-transport",
                          c.volume_defaults.fuse_transport};
         o.address = c.iscsi_address;
         o.advertise = c.iscsi_advertise;
         o.port_first = c.iscsi_port_first;
         o.port_last = c.iscsi_port_last;
         o.chap = c.iscsi_chap;
         o.iscsi = dynamic_cast<IscsiAttacher*>(&os);
         o.placer = placer;
         o.owner = c.host_id;
         o.io_timeout = c.replication_io_timeout;
         return std::make_unique<jiva::JivaStorageDriver>(std::move(o));
       }},
  };
  return registry;
}

const std::map<std::string, OsFactory>& os_registry() {
  static const std::map<std::string, OsFactory> registry = {
      {"linux",
       [](const config::Config&) -> Result<std::unique_ptr<OsDriver>> {
         return std::make_unique<linux_os::LinuxOsDriver>();
       }},
  };
  return registry;
}

Result<std::unique_ptr<VolumeService>> make_volume_driver(const config::Config& config,
                                                          ReplicaPlacer* placer) {
  if (config.os_drivers.empty()) return fail("no OS driver is enabled in [drivers] os");
  auto os_factory = os_registry().find(config.os_drivers.front());
  if (os_factory == os_registry().end())
    return fail("unknown OS driver \"" + config.os_drivers.front() + "\"");
  MAYA_TRY(os, os_factory->second(config));
  docker::DockerVolumeDriver::StorageDrivers storage;
  for (const std::string& name : config.storage_drivers) {
    auto factory = storage_registry().find(name);
    if (factory == storage_registry().end()) return fail("unknown storage driver \"" + name + "\"");
    MAYA_TRY(driver, factory->second(config, **os, placer));
    storage.emplace(name, std::move(*driver));
  }
  auto driver = std::make_unique<docker::DockerVolumeDriver>(std::move(storage), std::move(*os),
                                                             config.state_dir);
  driver->configure({config.volume_defaults.keep_lost_found, config.store_dir});
  return std::unique_ptr<VolumeService>(std::move(driver));
}

}  // namespace maya::drivers
