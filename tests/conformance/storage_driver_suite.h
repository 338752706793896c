// The storage-driver conformance suite (libStorage's RunSuite idea): every StorageDriver runs
// the same TEST_Ps from storage_driver_suite.cpp. A driver joins by instantiating it:
//
//   INSTANTIATE_TEST_SUITE_P(Local, StorageDriverConformance,
//                            ::testing::Values(StorageDriverCase{.name = "local", ...}),
//                            storage_driver_case_name);
//
// and linking the maya_storage_conformance object library into its test executable.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "drivers/storage_driver.h"
#include "tests/drivers/device_guards.h"

namespace maya::testing {

struct StorageDriverCase {
  std::string name;    // the test-name suffix, and the driver's name unless `driver` says
  std::string driver;  // the driver's name when it differs from `name` ("jiva" for "jiva3")
  // A fresh driver whose volumes live under `store` (a new, empty temp dir path per test).
  std::function<std::unique_ptr<drivers::StorageDriver>(const std::filesystem::path& store)> make;
  // Why attach cannot work on this host (no root, no loop devices, ...), or nullopt.
  std::function<std::optional<std::string>()> attach_unavailable;
  // Whether a new volume allocates (almost) nothing until written.
  bool thin_provisioning = true;
  unsigned replicas = 1;  // the spec's replicas for every volume the suite creates
};

inline void PrintTo(const StorageDriverCase& c, std::ostream* out) {
  *out << c.name;
}

inline std::string storage_driver_case_name(
    const ::testing::TestParamInfo<StorageDriverCase>& info) {
  return info.param.name;
}

class StorageDriverConformance : public ::testing::TestWithParam<StorageDriverCase> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A fresh driver instance on the same store, as after a restart of the daemon.
  std::unique_ptr<drivers::StorageDriver> another_driver() const;
  drivers::VolumeSpec spec(const std::string& name, std::uint64_t size) const;
  std::optional<std::string> attach_unavailable() const;

  TempDir root_;                 // holds the store; nothing may appear beside it
  std::filesystem::path store_;  // root_/store
  std::unique_ptr<drivers::StorageDriver> driver_;
};

// Skips the current test when the driver cannot attach on this host, saying why.
#define MAYA_REQUIRE_ATTACH()                                  \
  do {                                                         \
    if (auto why = attach_unavailable()) GTEST_SKIP() << *why; \
  } while (0)

}  // namespace maya::testing
