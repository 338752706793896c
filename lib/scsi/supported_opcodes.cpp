// REPORT SUPPORTED OPERATION CODES (SPC-4 6.35), generated from the command table: the
// all-commands list (with command timeouts descriptors when RCTD is set) and the one-command
// forms (reporting options 001b by opcode, 010b by opcode and service action).

#include <algorithm>

#include "lib/common/endian.h"
#include "lib/scsi/command_table.h"
#include "lib/scsi/handlers.h"
#include "lib/scsi/sense.h"

namespace maya::scsi {
namespace {

constexpr std::uint8_t kSupported = 0x03;     // SUPPORT 011b: supported per the standard
constexpr std::uint8_t kNotSupported = 0x01;  // SUPPORT 001b

// Command timeouts descriptor (SPC-4 6.35.4); 0 seconds means "not specified".
void append_timeouts(std::vector<std::uint8_t>& out) {
  std::uint8_t d[12] = {};
  store_be16(d, 0x000a);
  out.insert(out.end(), d, d + sizeof d);
}

}  // namespace

TaskResult handle_report_supported_opcodes(Disk& disk, const Request& req) {
  const auto& cdb = req.cdb;
  const bool rctd = cdb[2] & 0x80;
  const std::uint8_t options = cdb[2] & 0x07;
  const auto available = [&](const CommandInfo& c) { return !c.needs_thin || disk.thin(); };
  TaskResult r;
  auto& out = r.data_in;

  if (options == 0) {
    out.assign(4, 0);
    for (const CommandInfo& c : command_table()) {
      if (!available(c)) continue;
      std::uint8_t d[8] = {};
      d[0] = c.opcode;
      store_be16(&d[2], c.has_service_action ? c.service_action : 0);
      d[5] = (rctd ? 0x02 : 0x00) | (c.has_service_action ? 0x01 : 0x00);  // CTDP, SERVACTV
      store_be16(&d[6], c.cdb_length);
      out.insert(out.end(), d, d + sizeof d);
      if (rctd) append_timeouts(out);
    }
    store_be32(&out[0], static_cast<std::uint32_t>(out.size() - 4));
    return r;
  }
  if (options != 1 && options != 2) return invalid_field_in_cdb(2, 2);

  const std::uint8_t opcode = cdb[3];
  const std::uint16_t service_action = load_be16(&cdb[4]);
  const auto table = command_table();
  const bool known = std::any_of(table.begin(), table.end(),
                                 [&](const CommandInfo& c) { return c.opcode == opcode; });
  const bool has_service_actions =
      std::any_of(table.begin(), table.end(),
                  [&](const CommandInfo& c) { return c.opcode == opcode && c.has_service_action; });
  // 001b asks about an opcode without service actions, 010b about one with them.
  if (known && (options == 1) == has_service_actions) return invalid_field_in_cdb(2, 2);

  const CommandInfo* info = nullptr;
  if (service_action <= 0x1f || options == 1) {
    info = find_command(opcode, static_cast<std::uint8_t>(service_action)).info;
  }
  out.assign(4, 0);
  if (info == nullptr || !available(*info)) {
    out[1] = kNotSupported;
    return r;
  }
  out[1] = (rctd ? 0x80 : 0x00) | kSupported;
  store_be16(&out[2], info->cdb_length);
  out.insert(out.end(), info->usage.begin(), info->usage.begin() + info->cdb_length);
  if (rctd) append_timeouts(out);
  return r;
}

}  // namespace maya::scsi
