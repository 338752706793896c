// The storage-driver conformance suite, run against the "jiva" driver with 1 and with 3
// replicas: real `maya target run` processes, attach through FUSE and a loop device.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "drivers/storage/jiva/jiva_storage_driver.h"
#include "tests/conformance/storage_driver_suite.h"

namespace maya::testing {
namespace {

StorageDriverCase jiva_case(unsigned replicas) {
  StorageDriverCase c;
  c.name = replicas == 1 ? "jiva" : "jiva" + std::to_string(replicas);
  c.driver = "jiva";
  c.replicas = replicas;
  c.make = [](const std::filesystem::path& store) -> std::unique_ptr<drivers::StorageDriver> {
    drivers::jiva::JivaOptions o;
    o.store_dir = store;
    o.run_dir = store.parent_path() / "run";
    o.target_command = {MAYA_BINARY, "target", "run"};
    o.address = "127.0.0.1";
    // Ports of this test process: tests run in parallel, each in its own process.
    o.port_first = static_cast<std::uint16_t>(30000 + (::getpid() % 500) * 20);
    o.port_last = static_cast<std::uint16_t>(o.port_first + 19);
    return std::make_unique<drivers::jiva::JivaStorageDriver>(std::move(o));
  };
  c.attach_unavailable = fuse_and_loop_unavailable;
  c.thin_provisioning = true;
  return c;
}

INSTANTIATE_TEST_SUITE_P(Jiva, StorageDriverConformance,
                         ::testing::Values(jiva_case(1), jiva_case(3)), storage_driver_case_name);

}  // namespace
}  // namespace maya::testing
