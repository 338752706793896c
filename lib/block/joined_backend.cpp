#include "lib/block/joined_backend.h"

#include <algorithm>
#include <string>

namespace maya::block {

Result<std::unique_ptr<JoinedBackend>> JoinedBackend::join(std::unique_ptr<BlockBackend> head,
                                                           std::unique_ptr<BlockBackend> tail) {
  if (!head || !tail) return fail("cannot join a missing backend");
  if (head->block_size() != tail->block_size())
    return fail("cannot join backends of block sizes " + std::to_string(head->block_size()) +
                " and " + std::to_string(tail->block_size()));
  if (head->size_bytes() % head->block_size() != 0)
    return fail("the head backend's size is not a multiple of its block size");
  return std::unique_ptr<JoinedBackend>(new JoinedBackend(std::move(head), std::move(tail)));
}

Result<void> JoinedBackend::read(std::uint64_t offset, std::span<std::byte> out) {
  if (offset < head_size_) {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), head_size_ - offset));
    MAYA_TRY_VOID(head_->read(offset, out.first(n)));
    if (n == out.size()) return {};
    return tail_->read(0, out.subspan(n));
  }
  return tail_->read(offset - head_size_, out);
}

Result<void> JoinedBackend::write(std::uint64_t offset, std::span<const std::byte> data, bool fua) {
  if (offset < head_size_) {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), head_size_ - offset));
    MAYA_TRY_VOID(head_->write(offset, data.first(n), fua));
    if (n == data.size()) return {};
    return tail_->write(0, data.subspan(n), fua);
  }
  return tail_->write(offset - head_size_, data, fua);
}

Result<void> JoinedBackend::flush() {
  MAYA_TRY_VOID(head_->flush());
  return tail_->flush();
}

Result<void> JoinedBackend::discard(std::uint64_t offset, std::uint64_t length) {
  if (offset < head_size_) {
    const std::uint64_t n = std::min(length, head_size_ - offset);
    MAYA_TRY_VOID(head_->discard(offset, n));
    if (n == length) return {};
    return tail_->discard(0, length - n);
  }
  return tail_->discard(offset - head_size_, length);
}

Result<Extent> JoinedBackend::extent_at(std::uint64_t offset) {
  if (offset < head_size_) return head_->extent_at(offset);
  MAYA_TRY(extent, tail_->extent_at(offset - head_size_));
  extent->offset += head_size_;
  return extent;
}

Result<void> JoinedBackend::grow(std::uint64_t size_bytes) {
  if (size_bytes < head_size_) return fail("cannot shrink the joined backend");
  return tail_->grow(size_bytes - head_size_);
}

}  // namespace maya::block
