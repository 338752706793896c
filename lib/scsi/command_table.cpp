#include "lib/scsi/command_table.h"

#include "lib/scsi/cdb.h"
#include "lib/scsi/handlers.h"
#include "lib/scsi/opcodes.h"

namespace maya::scsi {
namespace {

// CDB usage bits of the CONTROL byte: NACA is checked (and refused: NormACA is not supported).
constexpr std::uint8_t C = 0x04;
// Shorthands for usage bitmaps.
constexpr std::uint8_t F = 0xff;
constexpr std::uint8_t G = 0x1f;  // GROUP NUMBER

constexpr CommandInfo pr_in(std::uint8_t sa, const char* name) {
  return {.opcode = op::kPersistentReserveIn,
          .service_action = sa,
          .has_service_action = true,
          .cdb_length = 10,
          .handler = handle_persistent_reserve_in,
          .access = Access::kHandler,
          .alloc_field = 7,
          .alloc_size = 2,
          .usage = {0x5e, sa, 0, 0, 0, 0, 0, F, F, C},
          .name = name};
}

constexpr CommandInfo pr_out(std::uint8_t sa, const char* name) {
  return {.opcode = op::kPersistentReserveOut,
          .service_action = sa,
          .has_service_action = true,
          .cdb_length = 10,
          .handler = handle_persistent_reserve_out,
          .access = Access::kHandler,
          .usage = {0x5f, sa, F, 0, 0, F, F, F, F, C},
          .name = name};
}

// Entries sharing an opcode are adjacent; the list is in opcode order.
constexpr CommandInfo kTable[] = {
    {.opcode = op::kTestUnitReady,
     .cdb_length = 6,
     .handler = handle_test_unit_ready,
     .usage = {0x00, 0, 0, 0, 0, C},
     .name = "TEST UNIT READY"},
    {.opcode = op::kRequestSense,
     .cdb_length = 6,
     .handler = handle_request_sense,
     .spc2_allowed = true,
     .ua_exempt = true,
     .alloc_field = 4,
     .alloc_size = 1,
     .usage = {0x03, 0x01, 0, 0, F, C},
     .name = "REQUEST SENSE"},
    {.opcode = op::kRead6,
     .cdb_length = 6,
     .handler = handle_read,
     .access = Access::kRead,
     .transfer = BlockTransfer::kIn,
     .usage = {0x08, G, F, F, F, C},
     .name = "READ(6)"},
    {.opcode = op::kWrite6,
     .cdb_length = 6,
     .handler = handle_write,
     .access = Access::kWrite,
     .transfer = BlockTransfer::kOut,
     .usage = {0x0a, G, F, F, F, C},
     .name = "WRITE(6)"},
    {.opcode = op::kInquiry,
     .cdb_length = 6,
     .handler = handle_inquiry,
     .spc2_allowed = true,
     .ua_exempt = true,
     .alloc_field = 3,
     .alloc_size = 2,
     .usage = {0x12, 0x01, F, F, F, C},
     .name = "INQUIRY"},
    {.opcode = op::kModeSelect6,
     .cdb_length = 6,
     .handler = handle_mode_select,
     .access = Access::kWrite,
     .usage = {0x15, 0x11, 0, 0, F, C},
     .name = "MODE SELECT(6)"},
    {.opcode = op::kReserve6,
     .cdb_length = 6,
     .handler = handle_reserve,
     .access = Access::kHandler,
     .usage = {0x16, 0, 0, 0, 0, C},
     .name = "RESERVE(6)"},
    {.opcode = op::kRelease6,
     .cdb_length = 6,
     .handler = handle_release,
     .access = Access::kHandler,
     .spc2_allowed = true,
     .usage = {0x17, 0, 0, 0, 0, C},
     .name = "RELEASE(6)"},
    {.opcode = op::kModeSense6,
     .cdb_length = 6,
     .handler = handle_mode_sense,
     .access = Access::kRead,
     .alloc_field = 4,
     .alloc_size = 1,
     .usage = {0x1a, 0x08, F, F, F, C},
     .name = "MODE SENSE(6)"},
    {.opcode = op::kStartStopUnit,
     .cdb_length = 6,
     .handler = handle_start_stop_unit,
     .access = Access::kWrite,
     .usage = {0x1b, 0x01, 0, 0x0f, 0xf7, C},
     .name = "START STOP UNIT"},
    {.opcode = op::kReadCapacity10,
     .cdb_length = 10,
     .handler = handle_read_capacity10,
     .usage = {0x25, 0, F, F, F, F, 0, 0, 0x01, C},
     .name = "READ CAPACITY(10)"},
    {.opcode = op::kRead10,
     .cdb_length = 10,
     .handler = handle_read,
     .access = Access::kRead,
     .transfer = BlockTransfer::kIn,
     .usage = {0x28, 0x18, F, F, F, F, G, F, F, C},
     .name = "READ(10)"},
    {.opcode = op::kWrite10,
     .cdb_length = 10,
     .handler = handle_write,
     .access = Access::kWrite,
     .transfer = BlockTransfer::kOut,
     .usage = {0x2a, 0x18, F, F, F, F, G, F, F, C},
     .name = "WRITE(10)"},
    {.opcode = op::kWriteAndVerify10,
     .cdb_length = 10,
     .handler = handle_write_and_verify,
     .access = Access::kWrite,
     .transfer = BlockTransfer::kOut,
     .usage = {0x2e, 0x12, F, F, F, F, G, F, F, C},
     .name = "WRITE AND VERIFY(10)"},
    {.opcode = op::kVerify10,
     .cdb_length = 10,
     .handler = handle_verify,
     .access = Access::kRead,
     .usage = {0x2f, 0x16, F, F, F, F, G, F, F, C},
     .name = "VERIFY(10)"},
    {.opcode = op::kPreFetch10,
     .cdb_length = 10,
     .handler = handle_pre_fetch,
     .access = Access::kRead,
     .usage = {0x34, 0x02, F, F, F, F, G, F, F, C},
     .name = "PRE-FETCH(10)"},
    {.opcode = op::kSynchronizeCache10,
     .cdb_length = 10,
     .handler = handle_synchronize_cache,
     .access = Access::kWrite,
     .usage = {0x35, 0x02, F, F, F, F, G, F, F, C},
     .name = "SYNCHRONIZE CACHE(10)"},
    {.opcode = op::kWriteSame10,
     .cdb_length = 10,
     .handler = handle_write_same,
     .access = Access::kWrite,
     .usage = {0x41, 0x18, F, F, F, F, G, F, F, C},
     .name = "WRITE SAME(10)"},
    {.opcode = op::kUnmap,
     .cdb_length = 10,
     .handler = handle_unmap,
     .access = Access::kWrite,
     .needs_thin = true,
     .usage = {0x42, 0x01, 0, 0, 0, 0, G, F, F, C},
     .name = "UNMAP"},
    {.opcode = op::kModeSelect10,
     .cdb_length = 10,
     .handler = handle_mode_select,
     .access = Access::kWrite,
     .usage = {0x55, 0x11, 0, 0, 0, 0, 0, F, F, C},
     .name = "MODE SELECT(10)"},
    {.opcode = op::kReserve10,
     .cdb_length = 10,
     .handler = handle_reserve,
     .access = Access::kHandler,
     .usage = {0x56, 0, 0, 0, 0, 0, 0, 0, 0, C},
     .name = "RESERVE(10)"},
    {.opcode = op::kRelease10,
     .cdb_length = 10,
     .handler = handle_release,
     .access = Access::kHandler,
     .spc2_allowed = true,
     .usage = {0x57, 0, 0, 0, 0, 0, 0, 0, 0, C},
     .name = "RELEASE(10)"},
    {.opcode = op::kModeSense10,
     .cdb_length = 10,
     .handler = handle_mode_sense,
     .access = Access::kRead,
     .alloc_field = 7,
     .alloc_size = 2,
     .usage = {0x5a, 0x18, F, F, 0, 0, 0, F, F, C},
     .name = "MODE SENSE(10)"},
    pr_in(op::kPrinReadKeys, "PERSISTENT RESERVE IN / READ KEYS"),
    pr_in(op::kPrinReadReservation, "PERSISTENT RESERVE IN / READ RESERVATION"),
    pr_in(op::kPrinReportCapabilities, "PERSISTENT RESERVE IN / REPORT CAPABILITIES"),
    pr_in(op::kPrinReadFullStatus, "PERSISTENT RESERVE IN / READ FULL STATUS"),
    pr_out(op::kProutRegister, "PERSISTENT RESERVE OUT / REGISTER"),
    pr_out(op::kProutReserve, "PERSISTENT RESERVE OUT / RESERVE"),
    pr_out(op::kProutRelease, "PERSISTENT RESERVE OUT / RELEASE"),
    pr_out(op::kProutClear, "PERSISTENT RESERVE OUT / CLEAR"),
    pr_out(op::kProutPreempt, "PERSISTENT RESERVE OUT / PREEMPT"),
    pr_out(op::kProutPreemptAndAbort, "PERSISTENT RESERVE OUT / PREEMPT AND ABORT"),
    pr_out(op::kProutRegisterAndIgnore,
           "PERSISTENT RESERVE OUT / REGISTER AND IGNORE EXISTING KEY"),
    {.opcode = op::kRead16,
     .cdb_length = 16,
     .handler = handle_read,
     .access = Access::kRead,
     .transfer = BlockTransfer::kIn,
     .usage = {0x88, 0x18, F, F, F, F, F, F, F, F, F, F, F, F, G, C},
     .name = "READ(16)"},
    {.opcode = op::kCompareAndWrite,
     .cdb_length = 16,
     .handler = handle_compare_and_write,
     .access = Access::kWrite,
     .usage = {0x89, 0x18, F, F, F, F, F, F, F, F, 0, 0, 0, F, G, C},
     .name = "COMPARE AND WRITE"},
    {.opcode = op::kWrite16,
     .cdb_length = 16,
     .handler = handle_write,
     .access = Access::kWrite,
     .transfer = BlockTransfer::kOut,
     .usage = {0x8a, 0x18, F, F, F, F, F, F, F, F, F, F, F, F, G, C},
     .name = "WRITE(16)"},
    {.opcode = op::kWriteAndVerify16,
     .cdb_length = 16,
     .handler = handle_write_and_verify,
     .access = Access::kWrite,
     .transfer = BlockTransfer::kOut,
     .usage = {0x8e, 0x12, F, F, F, F, F, F, F, F, F, F, F, F, G, C},
     .name = "WRITE AND VERIFY(16)"},
    {.opcode = op::kVerify16,
     .cdb_length = 16,
     .handler = handle_verify,
     .access = Access::kRead,
     .usage = {0x8f, 0x16, F, F, F, F, F, F, F, F, F, F, F, F, G, C},
     .name = "VERIFY(16)"},
    {.opcode = op::kPreFetch16,
     .cdb_length = 16,
     .handler = handle_pre_fetch,
     .access = Access::kRead,
     .usage = {0x90, 0x02, F, F, F, F, F, F, F, F, F, F, F, F, G, C},
     .name = "PRE-FETCH(16)"},
    {.opcode = op::kSynchronizeCache16,
     .cdb_length = 16,
     .handler = handle_synchronize_cache,
     .access = Access::kWrite,
     .usage = {0x91, 0x02, F, F, F, F, F, F, F, F, F, F, F, F, G, C},
     .name = "SYNCHRONIZE CACHE(16)"},
    {.opcode = op::kWriteSame16,
     .cdb_length = 16,
     .handler = handle_write_same,
     .access = Access::kWrite,
     .usage = {0x93, 0x19, F, F, F, F, F, F, F, F, F, F, F, F, G, C},
     .name = "WRITE SAME(16)"},
    {.opcode = op::kServiceActionIn16,
     .service_action = op::kReadCapacity16,
     .has_service_action = true,
     .cdb_length = 16,
     .handler = handle_read_capacity16,
     .alloc_field = 10,
     .alloc_size = 4,
     .usage = {0x9e, 0x10, F, F, F, F, F, F, F, F, F, F, F, F, 0x01, C},
     .name = "READ CAPACITY(16)"},
    {.opcode = op::kServiceActionIn16,
     .service_action = op::kGetLbaStatus,
     .has_service_action = true,
     .cdb_length = 16,
     .handler = handle_get_lba_status,
     .access = Access::kRead,
     .alloc_field = 10,
     .alloc_size = 4,
     .usage = {0x9e, 0x12, F, F, F, F, F, F, F, F, F, F, F, F, 0, C},
     .name = "GET LBA STATUS"},
    {.opcode = op::kReportLuns,
     .cdb_length = 12,
     .handler = handle_report_luns,
     .spc2_allowed = true,
     .ua_exempt = true,
     .alloc_field = 6,
     .alloc_size = 4,
     .usage = {0xa0, 0, F, 0, 0, 0, F, F, F, F, 0, C},
     .name = "REPORT LUNS"},
    {.opcode = op::kMaintenanceIn,
     .service_action = op::kReportSupportedOpcodes,
     .has_service_action = true,
     .cdb_length = 12,
     .handler = handle_report_supported_opcodes,
     .alloc_field = 6,
     .alloc_size = 4,
     .usage = {0xa3, 0x0c, 0x87, F, F, F, F, F, F, F, 0, C},
     .name = "REPORT SUPPORTED OPERATION CODES"},
    {.opcode = op::kRead12,
     .cdb_length = 12,
     .handler = handle_read,
     .access = Access::kRead,
     .transfer = BlockTransfer::kIn,
     .usage = {0xa8, 0x18, F, F, F, F, F, F, F, F, G, C},
     .name = "READ(12)"},
    {.opcode = op::kWrite12,
     .cdb_length = 12,
     .handler = handle_write,
     .access = Access::kWrite,
     .transfer = BlockTransfer::kOut,
     .usage = {0xaa, 0x18, F, F, F, F, F, F, F, F, G, C},
     .name = "WRITE(12)"},
    {.opcode = op::kWriteAndVerify12,
     .cdb_length = 12,
     .handler = handle_write_and_verify,
     .access = Access::kWrite,
     .transfer = BlockTransfer::kOut,
     .usage = {0xae, 0x12, F, F, F, F, F, F, F, F, G, C},
     .name = "WRITE AND VERIFY(12)"},
    {.opcode = op::kVerify12,
     .cdb_length = 12,
     .handler = handle_verify,
     .access = Access::kRead,
     .usage = {0xaf, 0x16, F, F, F, F, F, F, F, F, G, C},
     .name = "VERIFY(12)"},
};

constexpr std::uint8_t kNone = 0xff;

constexpr std::array<std::uint8_t, 256> build_index() {
  std::array<std::uint8_t, 256> index{};
  index.fill(kNone);
  for (std::size_t i = 0; i < std::size(kTable); ++i) {
    if (index[kTable[i].opcode] == kNone) index[kTable[i].opcode] = static_cast<std::uint8_t>(i);
  }
  return index;
}

constexpr std::array<std::uint8_t, 256> kIndex = build_index();

static_assert(std::size(kTable) < kNone, "the opcode index holds table positions in a byte");

constexpr bool table_is_consistent() {
  for (std::size_t i = 0; i < std::size(kTable); ++i) {
    const CommandInfo& c = kTable[i];
    if (c.cdb_length != cdb_length_for(c.opcode) || c.usage[0] != c.opcode) return false;
    if (c.has_service_action && (c.usage[1] & 0x1f) != c.service_action) return false;
    if (i > 0 && kTable[i - 1].opcode > c.opcode) return false;  // sorted, so groups adjacent
  }
  return true;
}
static_assert(table_is_consistent(), "command table entries disagree with their opcodes");

}  // namespace

std::span<const CommandInfo> command_table() {
  return kTable;
}

CommandLookup find_command(std::uint8_t opcode, std::uint8_t service_action) {
  const std::uint8_t first = kIndex[opcode];
  if (first == kNone) return {};
  if (!kTable[first].has_service_action) return {&kTable[first], true};
  for (std::size_t i = first; i < std::size(kTable) && kTable[i].opcode == opcode; ++i) {
    if (kTable[i].service_action == service_action) return {&kTable[i], true};
  }
  return {nullptr, true};
}

CommandLookup find_command(std::span<const std::uint8_t> cdb) {
  if (cdb.empty()) return {};
  return find_command(cdb[0], service_action_of(cdb));
}

}  // namespace maya::scsi
