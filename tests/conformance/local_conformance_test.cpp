// The storage-driver conformance suite, run against the "local" driver (sparse file + loop).
#include <memory>

#include "drivers/storage/local/local_storage_driver.h"
#include "tests/conformance/storage_driver_suite.h"

namespace maya::testing {
namespace {

StorageDriverCase local_case() {
  StorageDriverCase c;
  c.name = "local";
  c.make = [](const std::filesystem::path& store) -> std::unique_ptr<drivers::StorageDriver> {
    return std::make_unique<drivers::local::LocalStorageDriver>(store);
  };
  c.attach_unavailable = loop_devices_unavailable;
  c.thin_provisioning = true;
  return c;
}

INSTANTIATE_TEST_SUITE_P(Local, StorageDriverConformance, ::testing::Values(local_case()),
                         storage_driver_case_name);

}  // namespace
}  // namespace maya::testing
