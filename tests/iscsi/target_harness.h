// What the connection tests share: a Target on a loopback port over a TestDisk, bounded waits,
// the full round trip a real initiator makes (login, INQUIRY, a 4 KiB write), and this
// process's descriptor limit.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "lib/iscsi_target/target.h"
#include "tests/iscsi/test_disk.h"

namespace maya::iscsi::testing {

// Polls `done` every 20 ms until it holds or `limit` passes; false on the limit.
template <class F>
bool wait_for(F done, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// A started Target named `iqn` on 127.0.0.1, any free port; null (and a test failure) if not.
std::unique_ptr<iscsi_target::Target> start_target(TestDisk& disk,
                                                   iscsi_target::TargetOptions options,
                                                   const char* iqn);

// A login to `iqn`, an INQUIRY and a 4 KiB WRITE(10) on a fresh connection (from `source`, a
// loopback address, when given); true when all succeeded.
bool login_inquiry_write(std::uint16_t port, const char* iqn, const char* source = nullptr);

// Raises this process's soft RLIMIT_NOFILE to at least `want`; false when the hard limit is lower.
bool raise_own_nofile(rlim_t want);

}  // namespace maya::iscsi::testing
