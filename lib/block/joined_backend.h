// JoinedBackend: two backends served as one, `head` first (a fixed size), then `tail`. A shared
// replica's LUN is its journal area followed by its data (lib/replica/remote_layout.h); the
// host that shares it keeps the two as separate files and joins them here. A request that
// spans the seam is split in two; extent_at() never reports an extent across it.
#pragma once

#include <memory>

#include "lib/block/backend.h"

namespace maya::block {

class JoinedBackend final : public BlockBackend {
 public:
  // Both must have the same block size; head's size is a multiple of it.
  static Result<std::unique_ptr<JoinedBackend>> join(std::unique_ptr<BlockBackend> head,
                                                     std::unique_ptr<BlockBackend> tail);

  std::uint64_t size_bytes() const override { return head_size_ + tail_->size_bytes(); }
  std::uint32_t block_size() const override { return tail_->block_size(); }
  bool thin() const override { return tail_->thin(); }
  bool discard_zeroes() const override { return tail_->discard_zeroes(); }

  Result<void> read(std::uint64_t offset, std::span<std::byte> out) override;
  Result<void> write(std::uint64_t offset, std::span<const std::byte> data, bool fua) override;
  Result<void> flush() override;
  Result<void> discard(std::uint64_t offset, std::uint64_t length) override;
  Result<Extent> extent_at(std::uint64_t offset) override;
  // Grows the tail: the LUN grows at its end.
  Result<void> grow(std::uint64_t size_bytes) override;
  std::optional<SpaceUsage> space() const override { return tail_->space(); }
  std::uint64_t soft_threshold_events() const override { return tail_->soft_threshold_events(); }

 private:
  JoinedBackend(std::unique_ptr<BlockBackend> head, std::unique_ptr<BlockBackend> tail)
      : head_(std::move(head)), tail_(std::move(tail)), head_size_(head_->size_bytes()) {}

  std::unique_ptr<BlockBackend> head_, tail_;
  std::uint64_t head_size_;
};

}  // namespace maya::block
