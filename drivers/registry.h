// One registry per driver kind: name → factory, filled explicitly in registry.cpp (static
// self-registration would vanish from static libraries). `[drivers]` in the config says which
// are enabled; a volume's spec picks its storage driver among them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "drivers/os_driver.h"
#include "drivers/replica_placer.h"
#include "drivers/storage_driver.h"
#include "drivers/volume_service.h"
#include "lib/config/config.h"

namespace maya::drivers {

// A storage driver may use the host's OS driver (jiva logs in with its iSCSI initiator) and its
// pools (jiva places replicas on them; none: every replica in the store).
using StorageFactory = std::function<Result<std::unique_ptr<StorageDriver>>(
    const config::Config&, OsDriver&, ReplicaPlacer*)>;
using OsFactory = std::function<Result<std::unique_ptr<OsDriver>>(const config::Config&)>;

const std::map<std::string, StorageFactory>& storage_registry();
const std::map<std::string, OsFactory>& os_registry();

// The volume service (a VolumeDriver with the control API's operations besides) over the
// storage and OS drivers the config enables: the one place that names its class.
Result<std::unique_ptr<VolumeService>> make_volume_driver(const config::Config& config,
                                                          ReplicaPlacer* placer = nullptr);

}  // namespace maya::drivers
