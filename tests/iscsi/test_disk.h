// A small ScsiDisk for transport tests: TEST UNIT READY, INQUIRY, READ CAPACITY(10), READ(10),
// WRITE(10), REPORT LUNS on a MemoryBackend, for any LUN; anything else is CHECK CONDITION
// 05/20/00. Data-In meets the expected transfer as lib/scsi settles it; Data-Out is taken as it
// is (the transfer rules of WRITE are lib/scsi's disk's: Loopback.ResidualsAndSense runs on
// it). It keeps the transport's tests apart from lib/scsi's command set and counts nexus events.
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <string>

#include "lib/scsi/scsi_disk.h"
#include "tests/support/memory_backend.h"

namespace maya::iscsi::testing {

class TestDisk : public scsi::ScsiDisk {
 public:
  explicit TestDisk(std::uint64_t size = 16ull << 20, std::uint32_t block_size = 512);

  scsi::TaskResult execute(const scsi::Task& task) override;
  void nexus_added(const scsi::Nexus& nexus) override;
  void nexus_removed(const scsi::Nexus& nexus) override;
  void reset(bool target_reset) override;

  block::MemoryBackend& backend() { return backend_; }
  std::size_t live_nexuses() const;
  std::atomic<int> resets{0};
  std::atomic<int> commands{0};

 private:
  scsi::TaskResult run(const scsi::Task& task);

  block::MemoryBackend backend_;
  mutable std::mutex mutex_;
  std::multiset<std::string> nexuses_;
};

}  // namespace maya::iscsi::testing
