// MODE SENSE and MODE SELECT (6)/(10) with the Caching (08h) and Control (0Ah) pages and
// "all pages" (3Fh). Only WCE is changeable; with it off, every write is forced unit access.
// Parameters cannot be saved (PC 11b and SP=1 are refused). D_SENSE is 0: sense is fixed format.

#include "lib/common/endian.h"
#include "lib/scsi/handlers.h"
#include "lib/scsi/opcodes.h"
#include "lib/scsi/sense.h"

namespace maya::scsi {
namespace {

constexpr std::uint8_t kCachingPage = 0x08;
constexpr std::uint8_t kControlPage = 0x0a;
constexpr std::uint8_t kAllPages = 0x3f;
constexpr std::uint8_t kDpoFua = 0x10;  // device-specific parameter: DPO and FUA supported

enum class PageControl : std::uint8_t { kCurrent = 0, kChangeable = 1, kDefault = 2, kSaved = 3 };

std::vector<std::uint8_t> caching_page(const Disk& disk, PageControl pc) {
  std::vector<std::uint8_t> p(20, 0);
  p[0] = kCachingPage;
  p[1] = static_cast<std::uint8_t>(p.size() - 2);
  const bool wce = pc == PageControl::kCurrent ? disk.write_cache_enabled() : true;
  if (wce) p[2] |= 0x04;  // for kChangeable: WCE is the one changeable bit
  return p;
}

std::vector<std::uint8_t> control_page(PageControl pc) {
  std::vector<std::uint8_t> p(12, 0);
  p[0] = kControlPage;
  p[1] = static_cast<std::uint8_t>(p.size() - 2);
  if (pc != PageControl::kChangeable) {
    p[2] = 0x02;                // GLTSD: log parameters are not saved
    p[3] = 0x10;                // QUEUE ALGORITHM MODIFIER 1: unrestricted reordering
    store_be16(&p[8], 0xffff);  // BUSY TIMEOUT PERIOD: unlimited
  }
  return p;
}

// The page, or empty when the disk has no such page.
std::vector<std::uint8_t> page_for(const Disk& disk, std::uint8_t code, PageControl pc) {
  if (code == kCachingPage) return caching_page(disk, pc);
  if (code == kControlPage) return control_page(pc);
  return {};
}

void append(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& page) {
  out.insert(out.end(), page.begin(), page.end());
}

}  // namespace

TaskResult handle_mode_sense(Disk& disk, const Request& req) {
  const auto& cdb = req.cdb;
  const bool ten = cdb[0] == op::kModeSense10;
  const bool dbd = cdb[1] & 0x08;
  const bool llbaa = ten && (cdb[1] & 0x10);
  const auto pc = static_cast<PageControl>(cdb[2] >> 6);
  const std::uint8_t code = cdb[2] & 0x3f;
  const std::uint8_t subpage = cdb[3];
  if (pc == PageControl::kSaved) {
    return check_condition(sense_key::kIllegalRequest, asc::kSavingParametersNotSupported);
  }

  std::vector<std::uint8_t> pages;
  if (code == kAllPages) {
    if (subpage != 0x00 && subpage != 0xff) return invalid_field_in_cdb(3);
    append(pages, caching_page(disk, pc));
    append(pages, control_page(pc));
  } else {
    if (subpage != 0) return invalid_field_in_cdb(3);
    pages = page_for(disk, code, pc);
    if (pages.empty()) return invalid_field_in_cdb(2, 5);
  }

  std::vector<std::uint8_t> descriptor;
  if (!dbd) {
    const bool changeable = pc == PageControl::kChangeable;
    const std::uint64_t blocks = changeable ? 0 : disk.blocks();
    const std::uint32_t length = changeable ? 0 : disk.block_size();
    if (llbaa) {
      descriptor.assign(16, 0);
      store_be64(&descriptor[0], blocks);
      store_be32(&descriptor[12], length);
    } else {
      descriptor.assign(8, 0);
      store_be32(&descriptor[0],
                 blocks > 0xffffffffull ? 0xffffffffu : static_cast<std::uint32_t>(blocks));
      store_be24(&descriptor[5], length);
    }
  }

  TaskResult r;
  auto& d = r.data_in;
  if (ten) {
    d.assign(8, 0);
    d[3] = kDpoFua;
    if (descriptor.size() == 16) d[4] = 0x01;  // LONGLBA
    store_be16(&d[6], static_cast<std::uint16_t>(descriptor.size()));
  } else {
    d.assign(4, 0);
    d[2] = kDpoFua;
    d[3] = static_cast<std::uint8_t>(descriptor.size());
  }
  append(d, descriptor);
  append(d, pages);
  if (ten) {
    store_be16(&d[0], static_cast<std::uint16_t>(d.size() - 2));
  } else {
    d[0] = static_cast<std::uint8_t>(d.size() - 1);
  }
  return r;
}

TaskResult handle_mode_select(Disk& disk, const Request& req) {
  const auto& cdb = req.cdb;
  const bool ten = cdb[0] == op::kModeSelect10;
  if (cdb[1] & 0x01) return invalid_field_in_cdb(1, 0);  // SP: parameters cannot be saved
  const std::size_t length = ten ? load_be16(&cdb[7]) : cdb[4];
  if (length == 0) return good();
  if (req.task.data_out.size() < length) return parameter_list_length_error();
  const std::span<const std::uint8_t> data = req.task.data_out.first(length);

  const std::size_t header = ten ? 8 : 4;
  if (length < header) return parameter_list_length_error();
  const std::size_t descriptor_length = ten ? load_be16(&data[6]) : data[3];
  const bool long_lba = ten && (data[4] & 0x01);
  if (descriptor_length != 0 && descriptor_length != (long_lba ? 16u : 8u)) {
    return invalid_field_in_parameter_list(ten ? 6 : 3);
  }
  if (header + descriptor_length > length) return parameter_list_length_error();
  if (descriptor_length != 0) {
    const std::size_t at = header + (long_lba ? 12 : 5);
    const std::uint32_t block_length = long_lba ? load_be32(&data[at]) : load_be24(&data[at]);
    if (block_length != 0 && block_length != disk.block_size()) {
      return invalid_field_in_parameter_list(static_cast<std::uint16_t>(at));
    }
  }

  bool wce = disk.write_cache_enabled();
  for (std::size_t pos = header + descriptor_length; pos < length;) {
    if (length - pos < 2) return parameter_list_length_error();
    const auto at = static_cast<std::uint16_t>(pos);
    if (data[pos] & 0x40) return invalid_field_in_parameter_list(at, 6);  // SPF: no subpages
    const std::uint8_t code = data[pos] & 0x3f;
    const std::size_t page_length = std::size_t{data[pos + 1]} + 2;
    if (pos + page_length > length) return parameter_list_length_error();
    const auto current = page_for(disk, code, PageControl::kCurrent);
    if (current.empty()) return invalid_field_in_parameter_list(at, 5);
    if (page_length != current.size()) return invalid_field_in_parameter_list(at + 1);
    const auto changeable = page_for(disk, code, PageControl::kChangeable);
    for (std::size_t i = 2; i < page_length; ++i) {
      if ((data[pos + i] ^ current[i]) & ~changeable[i]) {
        return invalid_field_in_parameter_list(static_cast<std::uint16_t>(pos + i));
      }
    }
    if (code == kCachingPage) wce = data[pos + 2] & 0x04;
    pos += page_length;
  }
  if (wce != disk.write_cache_enabled()) {
    disk.set_write_cache_enabled(wce);
    // The page is shared by every I_T nexus: tell the others (SPC-4 5.14).
    disk.unit_attentions().post_all_except(nexus_key(req.nexus), asc::kModeParametersChanged);
  }
  return good();
}

}  // namespace maya::scsi
