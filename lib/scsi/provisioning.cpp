// Logical block provisioning: UNMAP, WRITE SAME (10)/(16) (UNMAP bit punches holes, NDOB writes
// zeros without a Data-Out buffer, otherwise the one-block pattern is written), and GET LBA
// STATUS, which reports the backend's extents (SEEK_DATA/SEEK_HOLE for files).

#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include "lib/common/endian.h"
#include "lib/scsi/handlers.h"
#include "lib/scsi/sense.h"

namespace maya::scsi {
namespace {

constexpr std::uint64_t kPatternChunkBytes = 1u << 20;
constexpr std::size_t kMaxLbaStatusDescriptors = 64;

// Discards [lba, lba + blocks) under the shared I/O lock.
Result<void> deallocate(Disk& disk, std::uint64_t lba, std::uint64_t blocks) {
  std::shared_lock lock(disk.io_lock());
  return disk.backend().discard(lba * disk.block_size(), blocks * disk.block_size());
}

// Writes `pattern` (one block) to every block of [lba, lba + blocks), a chunk at a time.
Result<void> write_pattern(Disk& disk, std::uint64_t lba, std::uint64_t blocks,
                           std::span<const std::byte> pattern) {
  const std::uint64_t bs = disk.block_size();
  const std::uint64_t chunk_blocks =
      std::min(blocks, std::max<std::uint64_t>(1, kPatternChunkBytes / bs));
  std::vector<std::byte> chunk(chunk_blocks * bs);
  for (std::uint64_t b = 0; b < chunk_blocks; ++b) {
    std::copy(pattern.begin(), pattern.end(), chunk.begin() + static_cast<std::ptrdiff_t>(b * bs));
  }
  const bool fua = !disk.write_cache_enabled();
  std::shared_lock lock(disk.io_lock());
  for (std::uint64_t done = 0; done < blocks;) {
    const std::uint64_t n = std::min(chunk_blocks, blocks - done);
    const std::span<const std::byte> data(chunk.data(), n * bs);
    if (auto ok = disk.backend().write((lba + done) * bs, data, fua); !ok) return ok;
    done += n;
  }
  return {};
}

}  // namespace

TaskResult handle_unmap(Disk& disk, const Request& req) {
  const std::uint16_t list_length = load_be16(&req.cdb[7]);
  if (list_length == 0) return good();
  if (list_length < 8) return parameter_list_length_error();
  const auto& data_out = req.task.data_out;
  if (data_out.size() < list_length) return parameter_list_length_error();
  const std::uint8_t* p = data_out.data();
  const std::uint16_t descriptor_bytes = load_be16(p + 2);
  const std::size_t count = std::min<std::size_t>(descriptor_bytes, list_length - 8) / 16;
  if (count > disk.limits().max_unmap_descriptors) return invalid_field_in_parameter_list(2);

  std::uint64_t total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t* d = p + 8 + 16 * i;
    const std::uint64_t lba = load_be64(d);
    const std::uint32_t blocks = load_be32(d + 8);
    if (blocks == 0) continue;  // SBC-3: a zero count unmaps nothing and is no error
    if (!disk.in_range(lba, blocks)) return lba_out_of_range();
    total += blocks;
  }
  if (total > disk.limits().max_unmap_blocks) {
    return invalid_field_in_parameter_list(static_cast<std::uint16_t>(8 + 8));
  }
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t* d = p + 8 + 16 * i;
    const std::uint32_t blocks = load_be32(d + 8);
    if (blocks == 0) continue;
    if (auto done = deallocate(disk, load_be64(d), blocks); !done)
      return io_error(done.error(), IoKind::kWrite);
  }
  return good();
}

TaskResult handle_write_same(Disk& disk, const Request& req) {
  const auto& cdb = req.cdb;
  const bool sixteen = cdb.size() == 16;
  const bool anchor = cdb[1] & 0x10;
  const bool unmap = cdb[1] & 0x08;
  const bool ndob = sixteen && (cdb[1] & 0x01);
  const std::uint64_t lba = sixteen ? load_be64(&cdb[2]) : load_be32(&cdb[2]);
  const std::uint32_t blocks = sixteen ? load_be32(&cdb[10]) : load_be16(&cdb[7]);
  const std::uint16_t length_field = sixteen ? 10 : 7;

  if (cdb[1] >> 5) return invalid_field_in_cdb(1, 7);       // WRPROTECT
  if (anchor && !unmap) return invalid_field_in_cdb(1, 4);  // ANCHOR needs UNMAP
  if (unmap && !disk.thin()) return invalid_field_in_cdb(1, 3);
  if (blocks == 0) return invalid_field_in_cdb(length_field);  // WSNZ is advertised
  if (blocks > disk.limits().max_write_same_blocks) return invalid_field_in_cdb(length_field);
  if (!disk.in_range(lba, blocks)) return lba_out_of_range();

  const std::uint64_t bs = disk.block_size();
  const auto& data = req.task.data_out;
  if (!ndob && data.size() != bs) {
    // The Data-Out buffer is exactly one logical block (SBC-3 5.42).
    return check_condition(sense_key::kIllegalRequest, asc::kInvalidFieldInCommandIu);
  }
  if (unmap) {
    // Holes read back as zeros (LBPRZ) whatever the pattern, as SBC-3 allows.
    if (auto io = deallocate(disk, lba, blocks); !io) return io_error(io.error(), IoKind::kWrite);
    return good();
  }
  std::vector<std::byte> zeros;
  std::span<const std::byte> pattern;
  if (ndob) {
    zeros.assign(bs, std::byte{0});
    pattern = zeros;
  } else {
    pattern = std::as_bytes(data);
  }
  if (auto io = write_pattern(disk, lba, blocks, pattern); !io)
    return io_error(io.error(), IoKind::kWrite);
  return good();
}

TaskResult handle_get_lba_status(Disk& disk, const Request& req) {
  const std::uint64_t start = load_be64(&req.cdb[2]);
  const std::uint32_t alloc = load_be32(&req.cdb[10]);
  if (start >= disk.blocks()) return lba_out_of_range();
  const std::uint64_t bs = disk.block_size();
  // Room for as many descriptors as the allocation length takes (at least one).
  const std::size_t room =
      std::clamp<std::size_t>(alloc > 8 ? (alloc - 8) / 16 : 1, 1, kMaxLbaStatusDescriptors);
  TaskResult r;
  r.data_in.assign(8, 0);
  std::uint64_t lba = start;
  for (std::size_t n = 0; n < room && lba < disk.blocks(); ++n) {
    auto extent = disk.backend().extent_at(lba * bs);
    if (!extent) return io_error(extent.error(), IoKind::kRead);
    std::uint64_t blocks = std::max<std::uint64_t>(1, extent->length / bs);
    blocks = std::min<std::uint64_t>({blocks, disk.blocks() - lba, 0xffffffffull});
    std::uint8_t d[16] = {};
    store_be64(d, lba);
    store_be32(d + 8, static_cast<std::uint32_t>(blocks));
    d[12] = extent->mapped ? 0x00 : 0x01;  // PROVISIONING STATUS: mapped / deallocated
    r.data_in.insert(r.data_in.end(), d, d + 16);
    lba += blocks;
  }
  store_be32(&r.data_in[0], static_cast<std::uint32_t>(r.data_in.size() - 4));
  return r;
}

}  // namespace maya::scsi
