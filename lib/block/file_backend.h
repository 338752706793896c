// FileBackend: a BlockBackend on a regular file (or block device). Thin when the file system can
// punch holes: discarded and never-written ranges stay holes, and extent_at() reports them with
// SEEK_DATA/SEEK_HOLE. Durability: `fua` writes use RWF_DSYNC, flush() is fdatasync().
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>

#include "lib/block/backend.h"
#include "lib/common/fd.h"
#include "lib/common/result.h"

namespace maya::block {

struct FileBackendOptions {
  // Size exported to initiators. Unset: the file's size. Set: the file is grown (sparsely) to
  // this size when smaller; a larger file keeps its data but only `size` bytes are exported.
  std::optional<std::uint64_t> size;
  // Create the file when it does not exist (needs `size`).
  bool create = false;
  // Thick: the blocks the file gains (grown to `size` at open, or by grow()) are allocated
  // (fallocate) rather than left as holes, so that the store's space is taken now.
  bool preallocate = false;
  std::uint32_t block_size = 512;
};

class FileBackend final : public BlockBackend {
 public:
  static Result<std::unique_ptr<FileBackend>> open(const std::filesystem::path& path,
                                                   const FileBackendOptions& options = {});

  std::uint64_t size_bytes() const override { return size_.load(std::memory_order_acquire); }
  std::uint32_t block_size() const override { return block_size_; }
  bool thin() const override { return thin_; }
  bool discard_zeroes() const override { return punch_; }

  Result<void> read(std::uint64_t offset, std::span<std::byte> out) override;
  Result<void> write(std::uint64_t offset, std::span<const std::byte> data, bool fua) override;
  Result<void> flush() override;
  Result<void> discard(std::uint64_t offset, std::uint64_t length) override;
  Result<Extent> extent_at(std::uint64_t offset) override;
  // Extends the file to `size_bytes` (ftruncate; fallocate when preallocating). Bytes a larger
  // file held past the exported end are cut off first, so the new range reads as zeros. A block
  // device must already be large enough; its new range is zeroed.
  Result<void> grow(std::uint64_t size_bytes) override;
  int native_fd() const override { return fd_.get(); }
  // Whether large aligned writes go around the page cache (see direct_fd_), their least size
  // and their alignment.
  bool writes_direct() const { return direct_ok_.load(std::memory_order_relaxed); }
  static constexpr std::size_t kDirectMinBytes = 64 * 1024;
  static constexpr std::size_t kDirectAlign = 4096;
  std::optional<SpaceUsage> space() const override;  // fstatvfs of the file's file system

 private:
  FileBackend(Fd fd, std::filesystem::path path, std::uint64_t size, std::uint32_t block_size,
              bool preallocate);
  void probe_capabilities(std::uint64_t file_size);
  Result<void> check_range(std::uint64_t offset, std::uint64_t length, const char* what) const;
  Result<void> write_all(std::uint64_t offset, std::span<const std::byte> data, bool dsync);
  void open_direct();
  bool direct_fits(std::uint64_t offset, std::span<const std::byte> data) const;

  Fd fd_;
  std::filesystem::path path_;
  std::atomic<std::uint64_t> size_;  // changes only by grow(), with no I/O in flight
  std::uint32_t block_size_;
  bool preallocate_;
  bool punch_ = false;                 // fallocate(PUNCH_HOLE) works here
  bool thin_ = false;                  // punching works and holes are visible to SEEK_HOLE
  std::atomic<bool> rwf_dsync_{true};  // pwritev2(RWF_DSYNC) works; cleared on EOPNOTSUPP
  // The same file opened with O_DIRECT. Writes of kDirectMinBytes or more whose memory, offset
  // and length are aligned go through it (direct_fits): on a FUSE attach, copying each 1 MiB
  // write into the store's page cache, under the inode lock buffered writers share and behind
  // dirty-page throttling, cost more than the write itself. Small writes stay buffered: 4k
  // random writes that allocate blocks ran 5 times slower direct (docs/datapath_profile.md).
  // Invalid where the file system has no direct I/O; cleared if a direct write is refused. Reads
  // stay buffered: the kernel drops cached pages a direct write replaces, so both descriptors see
  // the same bytes.
  Fd direct_fd_;
  std::size_t direct_align_ = 0;
  std::atomic<bool> direct_ok_{false};
};

}  // namespace maya::block
