// BlockBackend: where a target's blocks live. The SCSI layer (lib/scsi) runs on it; the file
// backend serves a volume's file, the memory backend (tests/support) serves unit tests, and the
// replicator (lib/replica) fans out to several. Offsets and lengths are in bytes and block-aligned
// by callers. Implementations are safe for concurrent calls from several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "lib/common/result.h"

namespace maya::block {

// A run of blocks that are all allocated (mapped) or all holes.
struct Extent {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool mapped = true;
};

// Room on the store that holds a backend's blocks (the file system of its file).
struct SpaceUsage {
  std::uint64_t total_bytes = 0;
  std::uint64_t free_bytes = 0;
};

class BlockBackend {
 public:
  virtual ~BlockBackend() = default;

  virtual std::uint64_t size_bytes() const = 0;
  // Logical block size advertised to initiators (512 or 4096).
  virtual std::uint32_t block_size() const = 0;
  // Thin: unwritten and discarded ranges take no space (advertised as LBPME).
  virtual bool thin() const = 0;
  // Discarded ranges read back as zeros (advertised as LBPRZ).
  virtual bool discard_zeroes() const = 0;

  virtual Result<void> read(std::uint64_t offset, std::span<std::byte> out) = 0;
  // `fua`: the data is durable when this returns.
  virtual Result<void> write(std::uint64_t offset, std::span<const std::byte> data, bool fua) = 0;
  virtual Result<void> flush() = 0;
  // Deallocates a range (punches holes); it reads as zeros afterwards when discard_zeroes().
  virtual Result<void> discard(std::uint64_t offset, std::uint64_t length) = 0;
  // The extent that starts at `offset` (SEEK_DATA/SEEK_HOLE for files); never past the end.
  virtual Result<Extent> extent_at(std::uint64_t offset) = 0;
  // Grows the backend to `size_bytes` (a multiple of the block size, not smaller than now):
  // the new range reads as zeros. Called with no I/O in flight (the replicator pauses it).
  virtual Result<void> grow(std::uint64_t size_bytes);
  // The open file of a file backend (for reflinks), or -1.
  virtual int native_fd() const { return -1; }
  // Reached over the network (a replica on another host): each operation waits a round trip,
  // so the replicator overlaps those of several replicas even for small writes.
  virtual bool remote() const { return false; }
  // Room on the store, where known.
  virtual std::optional<SpaceUsage> space() const { return std::nullopt; }
  // How many times the store's use rose past the soft threshold (SBC-4 thin provisioning);
  // the SCSI disk raises THIN PROVISIONING SOFT THRESHOLD REACHED once for each.
  virtual std::uint64_t soft_threshold_events() const { return 0; }
};

inline Result<void> BlockBackend::grow(std::uint64_t size_bytes) {
  return fail("this backend cannot grow (to " + std::to_string(size_bytes) + " bytes)");
}

}  // namespace maya::block
