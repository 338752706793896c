// The opcode table: every command the disk executes, with its handler, CDB length, how it
// interacts with reservations and unit attentions, where its ALLOCATION LENGTH sits, and its
// CDB usage bitmap. Dispatch and REPORT SUPPORTED OPERATION CODES both read this one table, so
// what the disk reports it supports is exactly what it runs.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "lib/scsi/scsi_disk.h"
#include "lib/scsi/transfer.h"

namespace maya::scsi {

class Disk;
struct Request;
using Handler = TaskResult (*)(Disk&, const Request&);

// How a command meets a persistent reservation held by another I_T nexus (SPC-4 5.13.1).
enum class Access : std::uint8_t {
  kNone,     // never conflicts (INQUIRY, TEST UNIT READY, READ CAPACITY, …)
  kRead,     // conflicts with Exclusive Access types
  kWrite,    // conflicts with Write Exclusive and Exclusive Access types
  kHandler,  // RESERVE/RELEASE and PERSISTENT RESERVE IN/OUT decide for themselves
};

struct CommandInfo {
  std::uint8_t opcode = 0;
  std::uint8_t service_action = 0;
  bool has_service_action = false;
  std::uint8_t cdb_length = 0;
  Handler handler = nullptr;
  Access access = Access::kNone;
  BlockTransfer transfer = BlockTransfer::kNone;  // how TRANSFER LENGTH meets the expected one
  bool spc2_allowed = false;             // runs for other nexuses while one holds RESERVE(6)/(10)
  bool ua_exempt = false;                // reported without first reporting a unit attention
  bool needs_thin = false;               // only on thin backends (advertised and executed alike)
  std::uint8_t alloc_field = 0;          // byte offset of the ALLOCATION LENGTH field (0: none)
  std::uint8_t alloc_size = 0;           // its width in bytes
  std::array<std::uint8_t, 16> usage{};  // CDB USAGE DATA (SPC-4 6.35.3)
  const char* name = "";
};

std::span<const CommandInfo> command_table();

struct CommandLookup {
  const CommandInfo* info = nullptr;  // null when not supported
  bool opcode_known = false;          // the opcode is supported for some service action
};
CommandLookup find_command(std::uint8_t opcode, std::uint8_t service_action);
CommandLookup find_command(std::span<const std::uint8_t> cdb);

}  // namespace maya::scsi
