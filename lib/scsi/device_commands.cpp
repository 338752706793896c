// Commands about the device rather than its data: TEST UNIT READY, REQUEST SENSE, START STOP
// UNIT, REPORT LUNS, READ CAPACITY (10)/(16), SYNCHRONIZE CACHE (10)/(16), PRE-FETCH (10)/(16).

#include "lib/common/endian.h"
#include "lib/scsi/cdb.h"
#include "lib/scsi/handlers.h"
#include "lib/scsi/opcodes.h"
#include "lib/scsi/sense.h"

namespace maya::scsi {
namespace {

// LBA and block count of SYNCHRONIZE CACHE and PRE-FETCH (same layout in both).
struct Range {
  std::uint64_t lba;
  std::uint32_t blocks;
};

Range range_of(std::span<const std::uint8_t> cdb) {
  if (cdb.size() == 10) return {load_be32(&cdb[2]), load_be16(&cdb[7])};
  return {load_be64(&cdb[2]), load_be32(&cdb[10])};
}

}  // namespace

TaskResult handle_test_unit_ready(Disk&, const Request&) {
  return good();
}

TaskResult handle_request_sense(Disk& disk, const Request& req) {
  if (req.cdb[1] & 0x01) return invalid_field_in_cdb(1, 0);  // DESC: only fixed format
  Sense sense;
  if (req.task.lun != 0) {
    sense = Sense{.key = sense_key::kIllegalRequest, .asc = asc::kLogicalUnitNotSupported};
  } else if (auto ua = disk.unit_attentions().take(nexus_key(req.nexus))) {
    sense = Sense{.key = sense_key::kUnitAttention, .asc = *ua};
  }
  TaskResult r;
  r.data_in = encode_fixed_sense(sense);
  return r;
}

TaskResult handle_start_stop_unit(Disk& disk, const Request& req) {
  const std::uint8_t power_condition = req.cdb[4] >> 4;
  const bool no_flush = req.cdb[4] & 0x04;
  const bool loej = req.cdb[4] & 0x02;
  const bool start = req.cdb[4] & 0x01;
  if (power_condition != 0) return good();      // power conditions are accepted and ignored
  if (loej) return invalid_field_in_cdb(4, 1);  // the medium is not removable
  if (!start && !no_flush) {
    if (auto flushed = disk.backend().flush(); !flushed)
      return io_error(flushed.error(), IoKind::kWrite);
  }
  return good();  // a virtual disk is always spinning: stopping changes nothing
}

TaskResult handle_report_luns(Disk&, const Request& req) {
  const std::uint8_t select = req.cdb[2];
  TaskResult r;
  r.data_in.assign(8, 0);
  switch (select) {
    case 0x00:                  // all logical units except well-known ones
    case 0x02:                  // all logical units
      r.data_in.resize(16, 0);  // LUN 0: eight zero bytes
      break;
    case 0x01:  // well-known logical units only: none
      break;
    default:
      return invalid_field_in_cdb(2);
  }
  store_be32(&r.data_in[0], static_cast<std::uint32_t>(r.data_in.size() - 8));
  return r;
}

TaskResult handle_read_capacity10(Disk& disk, const Request& req) {
  const bool pmi = req.cdb[8] & 0x01;
  if (!pmi && load_be32(&req.cdb[2]) != 0) return invalid_field_in_cdb(2);
  const std::uint64_t last = disk.blocks() - 1;
  TaskResult r;
  r.data_in.assign(8, 0);
  store_be32(&r.data_in[0], last > 0xffffffffull ? 0xffffffffu : static_cast<std::uint32_t>(last));
  store_be32(&r.data_in[4], disk.block_size());
  return r;
}

TaskResult handle_read_capacity16(Disk& disk, const Request& req) {
  const bool pmi = req.cdb[14] & 0x01;
  if (!pmi && load_be64(&req.cdb[2]) != 0) return invalid_field_in_cdb(2);
  TaskResult r;
  r.data_in.assign(32, 0);
  store_be64(&r.data_in[0], disk.blocks() - 1);
  store_be32(&r.data_in[8], disk.block_size());
  // No protection information; one logical block per physical block; LBPME/LBPRZ.
  r.data_in[14] = (disk.thin() ? 0x80 : 0x00) | (disk.lbprz() ? 0x40 : 0x00);
  return r;
}

TaskResult handle_synchronize_cache(Disk& disk, const Request& req) {
  const Range range = range_of(req.cdb);
  if (!disk.in_range(range.lba, range.blocks)) return lba_out_of_range();
  // The backend flushes whole files; IMMED is honoured by completing after the flush.
  if (auto io = disk.backend().flush(); !io) return io_error(io.error(), IoKind::kWrite);
  return good();
}

TaskResult handle_pre_fetch(Disk& disk, const Request& req) {
  const Range range = range_of(req.cdb);
  if (!disk.in_range(range.lba, range.blocks)) return lba_out_of_range();
  // Nothing to stage: reads go to the backend (page cache) anyway. GOOD rather than
  // CONDITION MET, as initiators and libiscsi's tests expect.
  return good();
}

}  // namespace maya::scsi
