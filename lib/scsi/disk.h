// Disk: the ScsiDisk that make_disk() returns. execute() looks the CDB up in the command table,
// answers an unknown LUN, meets the transport's expected transfer (transfer.h), reports unit
// attentions and reservation conflicts, runs the handler, trims Data-In to the ALLOCATION LENGTH
// and settles the residual. Handlers (one file per command family, declared in handlers.h) reach
// the backend, the advertised limits, mode state, reservations and the COMPARE AND WRITE lock here.
#pragma once

#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <span>

#include "lib/block/backend.h"
#include "lib/scsi/command_table.h"
#include "lib/scsi/reservations.h"
#include "lib/scsi/scsi_disk.h"
#include "lib/scsi/unit_attention.h"

namespace maya::scsi {

// What the Block Limits VPD page advertises; the handlers enforce the same numbers.
struct Limits {
  std::uint32_t max_transfer_blocks = 0;
  std::uint32_t optimal_transfer_blocks = 0;
  std::uint32_t max_unmap_blocks = 0;       // 0 unless thin
  std::uint32_t max_unmap_descriptors = 0;  // 0 unless thin
  std::uint32_t optimal_unmap_granularity = 0;
  std::uint64_t max_write_same_blocks = 0;
  std::uint8_t max_compare_and_write_blocks = 0;
};

// One command on its way through a handler.
struct Request {
  const Task& task;
  const Nexus& nexus;
  std::span<const std::uint8_t> cdb;  // exactly the command's CDB length
};

class Disk final : public ScsiDisk {
 public:
  Disk(block::BlockBackend& backend, Identity identity);

  TaskResult execute(const Task& task) override;
  void nexus_added(const Nexus& nexus) override;
  void nexus_removed(const Nexus& nexus) override;
  void reset(bool target_reset) override;
  // Reads the backend's size again; when it changed, every nexus hears 2Ah/09h.
  void capacity_changed() override;

  block::BlockBackend& backend() { return backend_; }
  const Identity& identity() const { return identity_; }
  const Limits& limits() const { return limits_; }
  std::uint32_t block_size() const { return block_size_; }
  std::uint64_t blocks() const { return blocks_.load(std::memory_order_acquire); }
  bool thin() const { return thin_; }
  bool lbprz() const { return lbprz_; }
  // Blocks [lba, lba + count) exist (for count 0: block `lba` exists).
  bool in_range(std::uint64_t lba, std::uint64_t count) const {
    const std::uint64_t blocks = this->blocks();
    return lba < blocks && count <= blocks - lba;
  }

  // Writes take it shared, COMPARE AND WRITE (and partial-block writes) exclusively.
  std::shared_mutex& io_lock() { return io_lock_; }

  // Caching mode page WCE: with the write cache off every write is FUA.
  bool write_cache_enabled() const { return wce_.load(std::memory_order_relaxed); }
  void set_write_cache_enabled(bool on) { wce_.store(on, std::memory_order_relaxed); }

  Reservations& reservations() { return reservations_; }
  Result<void> persist_reservations(const std::string& saved,
                                    std::function<Result<void>(const std::string&)> save) override {
    return reservations_.persist(saved, std::move(save));
  }
  UnitAttentions& unit_attentions() { return unit_attentions_; }

 private:
  // execute() before the transfer is settled; sets the plan's Data-Out residual.
  TaskResult dispatch(const Task& given, Residual& data_out_residual);

  block::BlockBackend& backend_;
  Identity identity_;
  std::uint32_t block_size_;
  std::atomic<std::uint64_t> blocks_;  // grows by capacity_changed()
  bool thin_;
  bool lbprz_;
  Limits limits_;
  std::shared_mutex io_lock_;
  std::atomic<bool> wce_{true};
  // The backend's soft-threshold events already raised as unit attentions.
  std::atomic<std::uint64_t> soft_threshold_seen_{0};
  UnitAttentions unit_attentions_;
  Reservations reservations_{unit_attentions_};
  Nexus anonymous_;  // used when a Task comes without a nexus
};

}  // namespace maya::scsi
