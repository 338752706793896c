// The data path: READ and WRITE (6/10/12/16), WRITE AND VERIFY and VERIFY (10/12/16, BYTCHK),
// and COMPARE AND WRITE. READ allocates only its Data-In vector (or reuses the transport's
// spare); WRITE takes the I/O lock shared so that COMPARE AND WRITE, which takes it
// exclusively, is atomic against every other write.
//
// Data-Out shorter than the CDB asks for (iSCSI EDTL < SCSI transfer length) is written as far
// as it goes, as FCP-4 and libiscsi's residual tests expect: whole blocks directly, a trailing
// partial block merged into what the medium holds.

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "lib/scsi/cdb.h"
#include "lib/scsi/handlers.h"
#include "lib/scsi/sense.h"

namespace maya::scsi {
namespace {

constexpr std::size_t kVerifyChunkBytes = 1u << 20;

std::span<const std::byte> as_bytes_of(std::span<const std::uint8_t> s) {
  return std::as_bytes(s);
}

TaskResult miscompare(std::uint64_t offset) {
  return check_condition(Sense{
      .key = sense_key::kMiscompare, .asc = asc::kMiscompareDuringVerify, .information = offset});
}

TaskResult data_out_too_short() {
  return check_condition(sense_key::kIllegalRequest, asc::kInvalidFieldInCommandIu);
}

// Checks every block command shares: no protection information, the transfer length limit
// and the LBA range.
std::optional<TaskResult> check_block_cdb(const Disk& disk, const BlockCdb& c) {
  if (c.protect != 0) return invalid_field_in_cdb(1, 7);
  if (c.blocks > disk.limits().max_transfer_blocks) return invalid_field_in_cdb(c.length_field);
  if (!disk.in_range(c.lba, c.blocks)) return lba_out_of_range();
  return std::nullopt;
}

// Offset of the first byte where a and b differ, if any.
std::optional<std::size_t> first_difference(std::span<const std::byte> a,
                                            std::span<const std::byte> b) {
  if (std::memcmp(a.data(), b.data(), std::min(a.size(), b.size())) == 0) return std::nullopt;
  const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return static_cast<std::size_t>(ia - a.begin());
}

// Writes the Data-Out bytes the initiator sent, up to `blocks` blocks, at `lba`.
Result<void> write_data(Disk& disk, std::uint64_t lba, std::uint32_t blocks,
                        std::span<const std::uint8_t> data, bool fua) {
  const std::uint64_t bs = disk.block_size();
  data = data.first(std::min<std::uint64_t>(data.size(), blocks * bs));
  const std::size_t whole = data.size() - data.size() % bs;
  fua = fua || !disk.write_cache_enabled();
  if (whole > 0) {
    std::shared_lock lock(disk.io_lock());
    if (auto ok = disk.backend().write(lba * bs, as_bytes_of(data.first(whole)), fua); !ok) {
      return ok;
    }
  }
  if (whole < data.size()) {
    std::unique_lock lock(disk.io_lock());
    std::vector<std::byte> block(bs);
    const std::uint64_t at = lba * bs + whole;
    if (auto ok = disk.backend().read(at, block); !ok) return ok;
    const auto tail = as_bytes_of(data.subspan(whole));
    std::copy(tail.begin(), tail.end(), block.begin());
    if (auto ok = disk.backend().write(at, block, fua); !ok) return ok;
  }
  return {};
}

// Reads [lba, lba + blocks) in chunks and compares it with `expected` (BYTCHK 01b: the whole
// range; 11b: one block repeated); no comparison for BYTCHK 00b.
TaskResult verify_range(Disk& disk, std::uint64_t lba, std::uint32_t blocks,
                        std::span<const std::byte> expected, std::uint8_t bytchk) {
  const std::uint64_t bs = disk.block_size();
  const std::uint64_t total = blocks * bs;
  std::vector<std::byte> buffer(std::min<std::uint64_t>(total, kVerifyChunkBytes));
  for (std::uint64_t done = 0; done < total;) {
    const std::size_t n = std::min<std::uint64_t>(buffer.size(), total - done);
    const std::span<std::byte> chunk(buffer.data(), n);
    if (auto io = disk.backend().read(lba * bs + done, chunk); !io)
      return io_error(io.error(), IoKind::kRead);
    if (bytchk == 1) {
      if (auto diff = first_difference(chunk, expected.subspan(done, n))) {
        return miscompare(done + *diff);
      }
    } else if (bytchk == 3) {
      for (std::size_t b = 0; b < n; b += bs) {
        if (auto diff = first_difference(chunk.subspan(b, bs), expected.first(bs))) {
          return miscompare(done + b + *diff);
        }
      }
    }
    done += n;
  }
  return good();
}

}  // namespace

TaskResult handle_read(Disk& disk, const Request& req) {
  const BlockCdb c = decode_block_cdb(req.cdb);
  if (auto bad = check_block_cdb(disk, c)) return std::move(*bad);
  TaskResult r;
  if (c.blocks == 0) return r;
  const std::uint64_t bs = disk.block_size();
  if (req.task.spare_data_in != nullptr) r.data_in = std::move(*req.task.spare_data_in);
  r.data_in.resize(c.blocks * bs);  // every byte is overwritten by the read
  if (auto got = disk.backend().read(c.lba * bs, std::as_writable_bytes(std::span(r.data_in)));
      !got) {
    return io_error(got.error(), IoKind::kRead);
  }
  return r;
}

TaskResult handle_write(Disk& disk, const Request& req) {
  const BlockCdb c = decode_block_cdb(req.cdb);
  if (auto bad = check_block_cdb(disk, c)) return std::move(*bad);
  if (c.blocks == 0) return good();
  if (auto io = write_data(disk, c.lba, c.blocks, req.task.data_out, c.fua); !io)
    return io_error(io.error(), IoKind::kWrite);
  return good();
}

TaskResult handle_write_and_verify(Disk& disk, const Request& req) {
  const BlockCdb c = decode_block_cdb(req.cdb);
  if (auto bad = check_block_cdb(disk, c)) return std::move(*bad);
  if (c.bytchk > 1) return invalid_field_in_cdb(1, 2);
  if (c.blocks == 0) return good();
  const std::uint64_t bs = disk.block_size();
  const auto data =
      req.task.data_out.first(std::min<std::uint64_t>(req.task.data_out.size(), c.blocks * bs));
  // Verification means the data is on the medium: write through.
  if (auto io = write_data(disk, c.lba, c.blocks, data, true); !io)
    return io_error(io.error(), IoKind::kWrite);
  const auto written_blocks = static_cast<std::uint32_t>((data.size() + bs - 1) / bs);
  if (written_blocks == 0) return good();
  if (c.bytchk == 0) return verify_range(disk, c.lba, written_blocks, {}, 0);
  std::vector<std::byte> readback(written_blocks * bs);  // whole blocks, compared as far as sent
  if (auto io = disk.backend().read(c.lba * bs, readback); !io)
    return io_error(io.error(), IoKind::kRead);
  if (auto diff = first_difference(std::span(readback).first(data.size()), as_bytes_of(data))) {
    return miscompare(*diff);
  }
  return good();
}

TaskResult handle_verify(Disk& disk, const Request& req) {
  const BlockCdb c = decode_block_cdb(req.cdb);
  if (c.protect != 0) return invalid_field_in_cdb(1, 7);  // VRPROTECT
  if (c.bytchk == 2) return invalid_field_in_cdb(1, 2);
  if (auto bad = check_block_cdb(disk, c)) return std::move(*bad);
  if (c.blocks == 0) return good();
  const std::uint64_t bs = disk.block_size();
  const std::uint64_t needed = c.bytchk == 1 ? c.blocks * bs : c.bytchk == 3 ? bs : 0;
  if (req.task.data_out.size() < needed) return data_out_too_short();
  return verify_range(disk, c.lba, c.blocks, as_bytes_of(req.task.data_out), c.bytchk);
}

TaskResult handle_compare_and_write(Disk& disk, const Request& req) {
  const auto& cdb = req.cdb;
  if (cdb[1] >> 5) return invalid_field_in_cdb(1, 7);  // WRPROTECT
  const bool fua = cdb[1] & 0x08;
  const std::uint64_t lba = load_be64(&cdb[2]);
  const std::uint32_t blocks = cdb[13];
  const std::uint64_t bs = disk.block_size();
  const auto& data = req.task.data_out;
  if (blocks > disk.limits().max_compare_and_write_blocks) return invalid_field_in_cdb(13);
  if (blocks == 0) return data.empty() ? good() : invalid_field_in_cdb(13);
  if (!disk.in_range(lba, blocks)) return lba_out_of_range();
  // The Data-Out buffer holds the compare blocks followed by the write blocks, exactly.
  const std::uint64_t half = blocks * bs;
  if (data.size() != 2 * half) return invalid_field_in_cdb(13);

  std::unique_lock lock(disk.io_lock());
  std::vector<std::byte> current(half);
  if (auto io = disk.backend().read(lba * bs, current); !io)
    return io_error(io.error(), IoKind::kRead);
  if (auto diff = first_difference(current, as_bytes_of(data.first(half)))) {
    return miscompare(*diff);
  }
  if (auto put = disk.backend().write(lba * bs, as_bytes_of(data.subspan(half, half)),
                                      fua || !disk.write_cache_enabled());
      !put) {
    return io_error(put.error(), IoKind::kWrite);
  }
  return good();
}

}  // namespace maya::scsi
