// A small ScsiDisk for transport tests: TEST UNIT READY, INQUIRY, READ CAPACITY(10), READ(10),
// WRITE(10), REPORT LUNS on a MemoryBackend; anything else is CHECK CONDITION 05/20/00. It keeps
// lib/iscsi's tests independent of lib/scsi and counts nexus events.
#pragma once

#include <atomic>
#include <mutex>
#include <set>
#include <string>

#include "lib/block/memory_backend.h"
#include "lib/scsi/scsi_disk.h"

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
  block::MemoryBackend backend_;
  mutable std::mutex mutex_;
  std::multiset<std::string> nexuses_;
};

}  // namespace maya::iscsi::testing
