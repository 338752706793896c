// MemoryBackend: a sparse in-memory BlockBackend for unit tests. Storage is allocated per chunk
// on first write, so a "1 TiB" disk costs only what is written. It tracks which blocks are mapped
// (written and not discarded) for extent_at(), and can be told to fail reads or writes that touch
// a byte range, so MEDIUM ERROR paths are testable. Thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "lib/block/backend.h"

namespace maya::block {

struct MemoryBackendOptions {
  std::uint64_t size = 64ull << 20;
  std::uint32_t block_size = 512;
  bool thin = true;
  bool discard_zeroes = true;
  bool remote = false;  // plays a replica on another host (BlockBackend::remote)
};

class MemoryBackend final : public BlockBackend {
 public:
  explicit MemoryBackend(const MemoryBackendOptions& options = {});

  std::uint64_t size_bytes() const override;
  std::uint32_t block_size() const override { return options_.block_size; }
  bool thin() const override { return options_.thin; }
  bool discard_zeroes() const override { return options_.discard_zeroes; }
  bool remote() const override { return options_.remote; }

  Result<void> read(std::uint64_t offset, std::span<std::byte> out) override;
  Result<void> write(std::uint64_t offset, std::span<const std::byte> data, bool fua) override;
  Result<void> flush() override;
  Result<void> discard(std::uint64_t offset, std::uint64_t length) override;
  Result<Extent> extent_at(std::uint64_t offset) override;
  // The new range reads as zeros; fails (EIO) while a `grow` fault is injected.
  Result<void> grow(std::uint64_t size_bytes) override;

  // `no_space`: a write reaching [offset, offset + length) stores what comes before `offset`
  // and then fails with ENOSPC (a store that filled up mid-write); `flush_no_space`: a flush
  // fails with ENOSPC (fdatasync that lost written-back pages); other kinds fail with EIO.
  enum class Fault { read, write, flush, discard, no_space, flush_no_space, grow };
  // Makes every operation of kind `fault` that touches [offset, offset + length) fail (flush
  // and grow ignore the range). Stays until clear_faults().
  void inject_fault(Fault fault, std::uint64_t offset = 0, std::uint64_t length = UINT64_MAX);
  void clear_faults();
  // The room space() reports (tests of the low-space warning); unset: unknown.
  void set_space(std::optional<SpaceUsage> usage);
  std::optional<SpaceUsage> space() const override;

  // Observability for tests.
  std::uint64_t writes() const;
  std::uint64_t fua_writes() const;
  std::uint64_t flushes() const;
  std::uint64_t faults_hit() const;         // operations failed by an injected fault
  bool mapped(std::uint64_t offset) const;  // is the block holding `offset` mapped?

 private:
  static constexpr std::uint64_t kChunkBytes = 64 * 1024;
  struct Chunk {
    std::vector<std::byte> data;
    std::vector<bool> mapped;  // one per block
  };
  struct FaultRange {
    Fault fault;
    std::uint64_t offset;
    std::uint64_t length;
  };

  Result<void> check(Fault kind, std::uint64_t offset, std::uint64_t length) const;
  void store(std::uint64_t offset, std::span<const std::byte> data);
  Chunk& chunk_for_write(std::uint64_t index);
  bool block_mapped(std::uint64_t offset) const;

  MemoryBackendOptions options_;
  mutable std::mutex mutex_;
  std::map<std::uint64_t, Chunk> chunks_;
  std::vector<FaultRange> faults_;
  std::optional<SpaceUsage> space_;
  std::uint64_t writes_ = 0;
  std::uint64_t fua_writes_ = 0;
  std::uint64_t flushes_ = 0;
  mutable std::uint64_t faults_hit_ = 0;
};

}  // namespace maya::block
