// INQUIRY: standard data (SPC-4 6.6.2, version descriptors SAM-5, SPC-4, SBC-3, iSCSI) and the
// VPD pages 00h (supported pages), 80h (unit serial number), 83h (device identification),
// B0h (block limits), B1h (block device characteristics) and B2h (logical block provisioning).
// Everything advertised here comes from the disk's Limits and its backend's capabilities.

#include <algorithm>
#include <string>
#include <string_view>

#include "lib/common/endian.h"
#include "lib/scsi/handlers.h"
#include "lib/scsi/sense.h"

namespace maya::scsi {
namespace {

constexpr std::uint8_t kSupportedPages[] = {0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2};

// Version descriptors (SPC-4 table 49): SAM-5, SPC-4, SBC-3, iSCSI (no version claimed).
constexpr std::uint16_t kVersionDescriptors[] = {0x00a0, 0x0460, 0x04c0, 0x0960};

// Copies `text` into a fixed-width, space-padded ASCII field (SPC-4 4.4.1).
void put_ascii(std::uint8_t* out, std::size_t width, std::string_view text) {
  for (std::size_t i = 0; i < width; ++i) {
    const char c = i < text.size() ? text[i] : ' ';
    out[i] = (c >= 0x20 && c <= 0x7e) ? static_cast<std::uint8_t>(c) : '_';
  }
}

std::vector<std::uint8_t> standard_inquiry(const Disk& disk, bool lun_present) {
  std::vector<std::uint8_t> d(96, 0);
  d[0] = lun_present ? 0x00 : 0x7f;  // peripheral qualifier 011b + type 1Fh: no such LU
  d[2] = 0x06;                       // SPC-4
  d[3] = 0x12;                       // HISUP, response data format 2
  d[4] = static_cast<std::uint8_t>(d.size() - 5);
  d[7] = 0x02;  // CMDQUE
  put_ascii(&d[8], 8, disk.identity().vendor);
  put_ascii(&d[16], 16, disk.identity().product);
  put_ascii(&d[32], 4, disk.identity().revision);
  for (std::size_t i = 0; i < std::size(kVersionDescriptors); ++i) {
    store_be16(&d[58 + 2 * i], kVersionDescriptors[i]);
  }
  return d;
}

std::vector<std::uint8_t> page_header(std::uint8_t page) {
  return {0x00, page, 0x00, 0x00};
}

void finish_page(std::vector<std::uint8_t>& page) {
  store_be16(&page[2], static_cast<std::uint16_t>(page.size() - 4));
}

void add_designator(std::vector<std::uint8_t>& page, std::uint8_t code_set_byte,
                    std::uint8_t type_byte, std::string_view bytes, bool nul_pad = false) {
  std::string value(bytes);
  if (nul_pad) {  // SCSI name strings: NUL-terminated, padded to a multiple of four
    value.push_back('\0');
    while (value.size() % 4 != 0) value.push_back('\0');
  }
  page.push_back(code_set_byte);
  page.push_back(type_byte);
  page.push_back(0);
  page.push_back(static_cast<std::uint8_t>(value.size()));
  page.insert(page.end(), value.begin(), value.end());
}

std::vector<std::uint8_t> device_identification(const Disk& disk, const Nexus& nexus) {
  std::vector<std::uint8_t> page = page_header(0x83);
  // NAA IEEE Registered (5h) identifier of the logical unit.
  std::uint64_t naa = disk.identity().naa;
  if ((naa >> 60) != 0x5) naa = (std::uint64_t{0x5} << 60) | (naa & ((1ull << 60) - 1));
  std::uint8_t naa_bytes[8];
  store_be64(naa_bytes, naa);
  add_designator(page, 0x01, 0x03,
                 std::string_view(reinterpret_cast<const char*>(naa_bytes), sizeof naa_bytes));
  // T10 vendor ID based: vendor (8 bytes) + unit serial number.
  std::string t10(8, ' ');
  put_ascii(reinterpret_cast<std::uint8_t*>(t10.data()), 8, disk.identity().vendor);
  t10 += disk.identity().serial;
  add_designator(page, 0x02, 0x01, t10);
  if (!nexus.target_port.empty()) {
    // Relative target port (assoc. target port, PIV, iSCSI) and the port's SCSI name string.
    std::uint8_t rel[4] = {0, 0, 0, 0};
    store_be16(&rel[2], nexus.relative_target_port);
    add_designator(page, 0x51, 0x94, std::string_view(reinterpret_cast<char*>(rel), 4));
    add_designator(page, 0x53, 0x98, nexus.target_port, true);
    // The target device's SCSI name: the port name without ",t,0x<TPGT>".
    const std::string_view port = nexus.target_port;
    add_designator(page, 0x53, 0xa8, port.substr(0, port.find(",t,")), true);
  }
  finish_page(page);
  return page;
}

std::vector<std::uint8_t> block_limits(const Disk& disk) {
  const Limits& l = disk.limits();
  std::vector<std::uint8_t> page(64, 0);
  page[1] = 0xb0;
  page[4] = 0x01;  // WSNZ: WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 is refused
  page[5] = l.max_compare_and_write_blocks;
  store_be16(&page[6], static_cast<std::uint16_t>(std::max(1u, 4096 / disk.block_size())));
  store_be32(&page[8], l.max_transfer_blocks);
  store_be32(&page[12], l.optimal_transfer_blocks);
  store_be32(&page[20], l.max_unmap_blocks);
  store_be32(&page[24], l.max_unmap_descriptors);
  store_be32(&page[28], l.optimal_unmap_granularity);
  if (disk.thin()) store_be32(&page[32], 0x80000000u);  // UGAVALID, alignment 0
  store_be64(&page[36], l.max_write_same_blocks);
  finish_page(page);
  return page;
}

std::vector<std::uint8_t> block_device_characteristics() {
  std::vector<std::uint8_t> page(64, 0);
  page[1] = 0xb1;
  store_be16(&page[4], 0x0001);  // MEDIUM ROTATION RATE: non-rotating medium
  finish_page(page);
  return page;
}

std::vector<std::uint8_t> logical_block_provisioning(const Disk& disk) {
  std::vector<std::uint8_t> page(8, 0);
  page[1] = 0xb2;
  if (disk.thin()) {
    // LBPU (UNMAP), LBPWS (WRITE SAME(16) UNMAP), LBPWS10, ANC_SUP; LBPRZ when holes read 0.
    page[5] = 0x80 | 0x40 | 0x20 | 0x02 | (disk.lbprz() ? 0x04 : 0x00);
    page[6] = 0x02;  // PROVISIONING TYPE: thin provisioned
  }
  finish_page(page);
  return page;
}

}  // namespace

TaskResult handle_inquiry(Disk& disk, const Request& req) {
  const auto& cdb = req.cdb;
  const bool evpd = cdb[1] & 0x01;
  if (cdb[1] & 0x02) return invalid_field_in_cdb(1, 1);  // CMDDT (obsolete)
  const std::uint8_t page = cdb[2];
  TaskResult r;
  if (!evpd) {
    if (page != 0) return invalid_field_in_cdb(2);
    r.data_in = standard_inquiry(disk, req.task.lun == 0);
    return r;
  }
  if (req.task.lun != 0) {
    return check_condition(sense_key::kIllegalRequest, asc::kLogicalUnitNotSupported);
  }
  switch (page) {
    case 0x00:
      r.data_in = page_header(0x00);
      r.data_in.insert(r.data_in.end(), std::begin(kSupportedPages), std::end(kSupportedPages));
      finish_page(r.data_in);
      break;
    case 0x80: {
      r.data_in = page_header(0x80);
      const std::string& serial = disk.identity().serial;
      std::string ascii(serial.size(), ' ');
      put_ascii(reinterpret_cast<std::uint8_t*>(ascii.data()), ascii.size(), serial);
      r.data_in.insert(r.data_in.end(), ascii.begin(), ascii.end());
      finish_page(r.data_in);
      break;
    }
    case 0x83:
      r.data_in = device_identification(disk, req.nexus);
      break;
    case 0xb0:
      r.data_in = block_limits(disk);
      break;
    case 0xb1:
      r.data_in = block_device_characteristics();
      break;
    case 0xb2:
      r.data_in = logical_block_provisioning(disk);
      break;
    default:
      return invalid_field_in_cdb(2);
  }
  return r;
}

}  // namespace maya::scsi
