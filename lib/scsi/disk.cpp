#include "lib/scsi/disk.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

#include "lib/common/endian.h"
#include "lib/scsi/sense.h"
#include "lib/scsi/transfer.h"

namespace maya::scsi {
namespace {

// Large enough for the 32 MiB transfers libiscsi's WriteSame16.Unmap makes whatever the limit.
constexpr std::uint32_t kMaxTransferBytes = 64u << 20;
constexpr std::uint32_t kOptimalTransferBytes = 1u << 20;
constexpr std::uint32_t kMaxUnmapBlocks = 1u << 20;
constexpr std::uint32_t kMaxUnmapDescriptors = 1024;
constexpr std::uint8_t kMaxCompareAndWriteBlocks = 255;

std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

Limits limits_for(std::uint32_t block_size, bool thin) {
  Limits l;
  l.max_transfer_blocks = kMaxTransferBytes / block_size;
  l.optimal_transfer_blocks = kOptimalTransferBytes / block_size;
  l.max_write_same_blocks = kMaxTransferBytes / block_size;
  l.max_compare_and_write_blocks = kMaxCompareAndWriteBlocks;
  if (thin) {
    l.max_unmap_blocks = kMaxUnmapBlocks;
    l.max_unmap_descriptors = kMaxUnmapDescriptors;
    l.optimal_unmap_granularity = std::max<std::uint32_t>(1, 4096 / block_size);
  }
  return l;
}

// Fills in what the caller left empty so INQUIRY always has a serial and an NAA identifier.
Identity complete(Identity id) {
  if (id.naa == 0) {
    id.naa = fnv1a(id.serial.empty() ? id.vendor + id.product : id.serial);
  }
  if (id.serial.empty()) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(id.naa));
    id.serial = hex;
  }
  return id;
}

}  // namespace

Disk::Disk(block::BlockBackend& backend, Identity identity)
    : backend_(backend),
      identity_(complete(std::move(identity))),
      block_size_(backend.block_size()),
      blocks_(backend.size_bytes() / backend.block_size()),
      thin_(backend.thin()),
      lbprz_(backend.thin() && backend.discard_zeroes()),
      limits_(limits_for(block_size_, thin_)) {}

TaskResult Disk::execute(const Task& task) {
  Residual data_out_residual;
  TaskResult result = dispatch(task, data_out_residual);
  if (task.expected) settle_transfer(*task.expected, data_out_residual, result);
  return result;
}

TaskResult Disk::dispatch(const Task& given, Residual& data_out_residual) {
  const Nexus& nexus = given.nexus != nullptr ? *given.nexus : anonymous_;
  if (given.cdb.empty()) return invalid_opcode();
  const CommandLookup found = find_command(given.cdb);
  const bool exempt = found.info != nullptr && found.info->ua_exempt;
  if (given.lun != 0 && !exempt) {
    return check_condition(sense_key::kIllegalRequest, asc::kLogicalUnitNotSupported);
  }
  // The CDB against the transport's expected transfer: a short write runs with the TRANSFER
  // LENGTH of the whole blocks that arrived, from a copy of the CDB.
  Task task = given;
  std::array<std::uint8_t, 16> rewritten{};
  if (given.expected && found.info != nullptr && given.cdb.size() >= found.info->cdb_length) {
    const TransferPlan plan = plan_transfer(given, found.info->transfer, block_size_);
    data_out_residual = plan.residual;
    if (plan.answer_good) return good();
    task.data_out = plan.data_out;
    if (plan.blocks) {
      const std::size_t length = found.info->cdb_length;
      std::copy_n(given.cdb.begin(), length, rewritten.begin());
      set_transfer_length(std::span(rewritten).first(length), *plan.blocks);
      task.cdb = std::span<const std::uint8_t>(rewritten).first(length);
    }
  }
  const std::span<const std::uint8_t> cdb = task.cdb;
  // The store rose past its soft threshold: every nexus hears it once (SBC-4 4.7.3.7).
  if (const std::uint64_t events = backend_.soft_threshold_events(); events != 0) {
    std::uint64_t seen = soft_threshold_seen_.load(std::memory_order_relaxed);
    if (events > seen && soft_threshold_seen_.compare_exchange_strong(seen, events))
      unit_attentions_.post_all(asc::kThinProvisioningSoftThresholdReached);
  }
  if (!exempt && task.lun == 0 && unit_attentions_.pending()) {
    if (auto ua = unit_attentions_.take(nexus_key(nexus))) {
      return check_condition(sense_key::kUnitAttention, *ua);
    }
  }
  if (found.info == nullptr || (found.info->needs_thin && !thin_)) {
    // A known opcode with an unsupported service action is an invalid field (SPC-4 4.2.5.1).
    return found.opcode_known && found.info == nullptr ? invalid_field_in_cdb(1, 4)
                                                       : invalid_opcode();
  }
  const CommandInfo& info = *found.info;
  if (cdb.size() < info.cdb_length) return invalid_field_in_cdb(0);
  if (cdb[info.cdb_length - 1] & 0x04) {  // NACA: NormACA is not supported
    return invalid_field_in_cdb(static_cast<std::uint16_t>(info.cdb_length - 1), 2);
  }
  if (reservations_.active() && reservations_.conflicts(nexus, info)) {
    return reservation_conflict();
  }

  TaskResult result = info.handler(*this, Request{task, nexus, cdb.first(info.cdb_length)});
  if (info.alloc_size != 0) {
    const std::uint8_t* field = cdb.data() + info.alloc_field;
    const std::uint32_t alloc = info.alloc_size == 1   ? field[0]
                                : info.alloc_size == 2 ? load_be16(field)
                                                       : load_be32(field);
    if (result.data_in.size() > alloc) result.data_in.resize(alloc);
  }
  return result;
}

void Disk::nexus_added(const Nexus& nexus) {
  reservations_.nexus_added(nexus);
  unit_attentions_.add_nexus(nexus_key(nexus), asc::kPowerOnResetOccurred);
}

void Disk::nexus_removed(const Nexus& nexus) {
  reservations_.nexus_lost(nexus);
  unit_attentions_.remove_nexus(nexus_key(nexus));
}

void Disk::reset(bool /*target_reset*/) {
  // SAM-5: a logical unit reset (also part of a target reset) releases SPC-2 reservations,
  // returns mode parameters to their defaults and tells every I_T nexus.
  reservations_.reset();
  set_write_cache_enabled(true);
  unit_attentions_.post_all(asc::kBusDeviceResetOccurred);
}

void Disk::capacity_changed() {
  const std::uint64_t blocks = backend_.size_bytes() / block_size_;
  if (blocks_.exchange(blocks, std::memory_order_acq_rel) == blocks) return;
  unit_attentions_.post_all(asc::kCapacityDataChanged);
}

std::unique_ptr<ScsiDisk> make_disk(block::BlockBackend& backend, Identity identity) {
  return std::make_unique<Disk>(backend, std::move(identity));
}

}  // namespace maya::scsi
