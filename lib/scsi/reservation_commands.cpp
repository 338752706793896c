// RESERVE/RELEASE (6)/(10) and PERSISTENT RESERVE IN/OUT: CDB and parameter-list decoding and
// the PERSISTENT RESERVE IN parameter data (READ KEYS, READ RESERVATION, REPORT CAPABILITIES,
// READ FULL STATUS). The state machine itself is Reservations (reservations.cpp).

#include <string>

#include "lib/common/endian.h"
#include "lib/scsi/handlers.h"
#include "lib/scsi/opcodes.h"
#include "lib/scsi/reservations.h"
#include "lib/scsi/sense.h"

namespace maya::scsi {
namespace {

constexpr std::size_t kProutBasicLength = 24;

void append_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  std::uint8_t b[4];
  store_be32(b, v);
  out.insert(out.end(), b, b + 4);
}

void append_be64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  std::uint8_t b[8];
  store_be64(b, v);
  out.insert(out.end(), b, b + 8);
}

std::vector<std::uint8_t> read_keys(const PrSnapshot& s) {
  std::vector<std::uint8_t> out;
  append_be32(out, s.generation);
  append_be32(out, static_cast<std::uint32_t>(8 * s.registrations.size()));
  for (const Registration& r : s.registrations) append_be64(out, r.key);
  return out;
}

std::vector<std::uint8_t> read_reservation(const PrSnapshot& s) {
  std::vector<std::uint8_t> out;
  append_be32(out, s.generation);
  append_be32(out, s.reservation ? 16 : 0);
  if (s.reservation) {
    append_be64(out, s.reservation->key);  // zero for all-registrants types
    append_be32(out, 0);                   // obsolete
    out.push_back(0);
    out.push_back(static_cast<std::uint8_t>(s.reservation->type));  // scope 0h: LU
    out.push_back(0);
    out.push_back(0);
  }
  return out;
}

std::vector<std::uint8_t> report_capabilities() {
  std::vector<std::uint8_t> out(8, 0);
  store_be16(&out[0], 8);
  out[2] = 0x10;  // CRH; SIP_C, ATP_C and PTPL_C are 0: no SPEC_I_PT, ALL_TG_PT or APTPL
  out[3] = 0x80;  // TMV: the type mask is valid; PTPL_A 0
  out[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;  // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
  out[5] = 0x01;                              // EX_AC_AR
  return out;
}

// iSCSI TransportID (SPC-4 7.6.4.6): format 01b "name,i,0x<ISID>" or 00b name only.
std::vector<std::uint8_t> transport_id(const Nexus& nexus) {
  std::string name = nexus.initiator_port;
  const bool with_isid = name.find(",i,0x") != std::string::npos;
  name.push_back('\0');
  while (name.size() < 20 || name.size() % 4 != 0) name.push_back('\0');
  std::vector<std::uint8_t> id(4, 0);
  id[0] = (with_isid ? 0x40 : 0x00) | 0x05;
  store_be16(&id[2], static_cast<std::uint16_t>(name.size()));
  id.insert(id.end(), name.begin(), name.end());
  return id;
}

std::vector<std::uint8_t> read_full_status(const PrSnapshot& s) {
  std::vector<std::uint8_t> out(8, 0);
  store_be32(&out[0], s.generation);
  for (const Registration& r : s.registrations) {
    const bool holder = s.reservation && (all_registrants(s.reservation->type) ||
                                          s.reservation->holder == r.nexus_key);
    append_be64(out, r.key);
    append_be32(out, 0);
    out.push_back(holder ? 0x01 : 0x00);  // R_HOLDER (ALL_TG_PT 0)
    out.push_back(holder ? static_cast<std::uint8_t>(s.reservation->type) : 0);
    append_be32(out, 0);
    out.push_back(static_cast<std::uint8_t>(r.nexus.relative_target_port >> 8));
    out.push_back(static_cast<std::uint8_t>(r.nexus.relative_target_port));
    const auto id = transport_id(r.nexus);
    append_be32(out, static_cast<std::uint32_t>(id.size()));
    out.insert(out.end(), id.begin(), id.end());
  }
  store_be32(&out[4], static_cast<std::uint32_t>(out.size() - 8));
  return out;
}

}  // namespace

TaskResult handle_reserve(Disk& disk, const Request& req) {
  // RESERVE(6) EXTENT / third-party and RESERVE(10) 3RDPTY / LONGID are not supported.
  if (req.cdb[1] & (req.cdb.size() == 6 ? 0x1f : 0x12)) return invalid_field_in_cdb(1);
  return disk.reservations().reserve(req.nexus);
}

TaskResult handle_release(Disk& disk, const Request& req) {
  if (req.cdb[1] & (req.cdb.size() == 6 ? 0x1f : 0x12)) return invalid_field_in_cdb(1);
  return disk.reservations().release(req.nexus);
}

TaskResult handle_persistent_reserve_in(Disk& disk, const Request& req) {
  const PrSnapshot snapshot = disk.reservations().snapshot();
  TaskResult r;
  switch (req.cdb[1] & 0x1f) {
    case op::kPrinReadKeys:
      r.data_in = read_keys(snapshot);
      break;
    case op::kPrinReadReservation:
      r.data_in = read_reservation(snapshot);
      break;
    case op::kPrinReportCapabilities:
      r.data_in = report_capabilities();
      break;
    case op::kPrinReadFullStatus:
      r.data_in = read_full_status(snapshot);
      break;
    default:
      return invalid_field_in_cdb(1, 4);
  }
  return r;
}

TaskResult handle_persistent_reserve_out(Disk& disk, const Request& req) {
  const auto& cdb = req.cdb;
  const std::uint32_t list_length = load_be32(&cdb[5]);
  // Without SPEC_I_PT the parameter list is the 24-byte basic one.
  if (list_length != kProutBasicLength || req.task.data_out.size() < kProutBasicLength) {
    return parameter_list_length_error();
  }
  const std::uint8_t* p = req.task.data_out.data();
  ProutRequest request;
  request.service_action = cdb[1] & 0x1f;
  request.scope = cdb[2] >> 4;
  request.type = cdb[2] & 0x0f;
  request.key = load_be64(p);
  request.sa_key = load_be64(p + 8);
  const std::uint8_t flags = p[20];
  if (flags & 0x08) return invalid_field_in_parameter_list(20, 3);  // SPEC_I_PT: SIP_C is 0
  if (flags & 0x01) return invalid_field_in_parameter_list(20, 0);  // APTPL: PTPL_C is 0
  const bool registering = request.service_action == op::kProutRegister ||
                           request.service_action == op::kProutRegisterAndIgnore;
  if (registering && (flags & 0x04)) return invalid_field_in_parameter_list(20, 2);  // ALL_TG_PT
  return disk.reservations().persistent_out(req.nexus, request);
}

}  // namespace maya::scsi
