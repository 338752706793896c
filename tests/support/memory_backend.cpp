#include "tests/support/memory_backend.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace maya::block {

MemoryBackend::MemoryBackend(const MemoryBackendOptions& options) : options_(options) {
  options_.size -= options_.size % options_.block_size;
}

Result<void> MemoryBackend::check(Fault kind, std::uint64_t offset, std::uint64_t length) const {
  const bool whole = kind == Fault::flush || kind == Fault::flush_no_space || kind == Fault::grow;
  if (!whole && (offset > options_.size || length > options_.size - offset)) {
    return fail("range of " + std::to_string(length) + " bytes at " + std::to_string(offset) +
                " is past the end of the memory disk");
  }
  for (const FaultRange& f : faults_) {
    if (f.fault != kind) continue;
    const bool overlaps = whole || (offset < f.offset + std::min(f.length, UINT64_MAX - f.offset) &&
                                    f.offset < offset + std::max<std::uint64_t>(length, 1));
    if (overlaps) {
      ++faults_hit_;
      const auto at = std::to_string(std::max(offset, f.offset));
      if (kind == Fault::no_space || kind == Fault::flush_no_space)
        return fail("injected: no space left at " + at, errno_code(ENOSPC));
      return fail("injected fault at " + at, errno_code(EIO));
    }
  }
  return {};
}

MemoryBackend::Chunk& MemoryBackend::chunk_for_write(std::uint64_t index) {
  auto [it, inserted] = chunks_.try_emplace(index);
  if (inserted) {
    it->second.data.assign(kChunkBytes, std::byte{0});
    it->second.mapped.assign(kChunkBytes / options_.block_size, false);
  }
  return it->second;
}

bool MemoryBackend::block_mapped(std::uint64_t offset) const {
  auto it = chunks_.find(offset / kChunkBytes);
  if (it == chunks_.end()) return false;
  return it->second.mapped[(offset % kChunkBytes) / options_.block_size];
}

std::uint64_t MemoryBackend::size_bytes() const {
  std::lock_guard lock(mutex_);
  return options_.size;
}

Result<void> MemoryBackend::grow(std::uint64_t size_bytes) {
  std::lock_guard lock(mutex_);
  if (auto ok = check(Fault::grow, 0, 0); !ok) return ok;
  if (size_bytes < options_.size || size_bytes % options_.block_size != 0)
    return fail("the memory disk of " + std::to_string(options_.size) + " bytes cannot grow to " +
                std::to_string(size_bytes));
  options_.size = size_bytes;  // past the old end nothing was ever stored: zeros
  return {};
}

Result<void> MemoryBackend::read(std::uint64_t offset, std::span<std::byte> out) {
  std::lock_guard lock(mutex_);
  if (auto ok = check(Fault::read, offset, out.size()); !ok) return ok;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t at = offset + done;
    const std::uint64_t in_chunk = at % kChunkBytes;
    const std::size_t n = std::min<std::uint64_t>(kChunkBytes - in_chunk, out.size() - done);
    auto it = chunks_.find(at / kChunkBytes);
    if (it == chunks_.end()) {
      std::memset(out.data() + done, 0, n);
    } else {
      std::memcpy(out.data() + done, it->second.data.data() + in_chunk, n);
    }
    done += n;
  }
  return {};
}

Result<void> MemoryBackend::write(std::uint64_t offset, std::span<const std::byte> data, bool fua) {
  std::lock_guard lock(mutex_);
  if (auto ok = check(Fault::write, offset, data.size()); !ok) return ok;
  if (auto room = check(Fault::no_space, offset, data.size()); !room) {
    // What fits before the full part is stored, as a file system that fills up mid-write does.
    std::uint64_t fits = data.size();
    for (const FaultRange& f : faults_) {
      const bool overlaps = f.offset < offset + data.size() &&
                            offset < f.offset + std::min(f.length, UINT64_MAX - f.offset);
      if (f.fault == Fault::no_space && overlaps)
        fits = std::min<std::uint64_t>(fits, f.offset > offset ? f.offset - offset : 0);
    }
    store(offset, data.first(fits));
    return room;
  }
  ++writes_;
  if (fua) ++fua_writes_;
  store(offset, data);
  return {};
}

void MemoryBackend::store(std::uint64_t offset, std::span<const std::byte> data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const std::uint64_t at = offset + done;
    const std::uint64_t in_chunk = at % kChunkBytes;
    const std::size_t n = std::min<std::uint64_t>(kChunkBytes - in_chunk, data.size() - done);
    Chunk& chunk = chunk_for_write(at / kChunkBytes);
    std::memcpy(chunk.data.data() + in_chunk, data.data() + done, n);
    const std::uint64_t bs = options_.block_size;
    for (std::uint64_t b = in_chunk / bs; b < (in_chunk + n + bs - 1) / bs; ++b) {
      chunk.mapped[b] = true;
    }
    done += n;
  }
}

Result<void> MemoryBackend::flush() {
  std::lock_guard lock(mutex_);
  if (auto ok = check(Fault::flush, 0, 0); !ok) return ok;
  if (auto ok = check(Fault::flush_no_space, 0, 0); !ok) return ok;
  ++flushes_;
  return {};
}

Result<void> MemoryBackend::discard(std::uint64_t offset, std::uint64_t length) {
  std::lock_guard lock(mutex_);
  if (auto ok = check(Fault::discard, offset, length); !ok) return ok;
  const std::uint64_t bs = options_.block_size;
  for (std::uint64_t at = offset; at < offset + length;) {
    const std::uint64_t index = at / kChunkBytes;
    const std::uint64_t in_chunk = at % kChunkBytes;
    const std::uint64_t n = std::min(kChunkBytes - in_chunk, offset + length - at);
    auto it = chunks_.find(index);
    if (it != chunks_.end()) {
      Chunk& chunk = it->second;
      if (options_.discard_zeroes) std::memset(chunk.data.data() + in_chunk, 0, n);
      for (std::uint64_t b = in_chunk / bs; b < (in_chunk + n) / bs; ++b) chunk.mapped[b] = false;
      if (std::none_of(chunk.mapped.begin(), chunk.mapped.end(), [](bool m) { return m; }) &&
          options_.discard_zeroes) {
        chunks_.erase(it);
      }
    }
    at += n;
  }
  return {};
}

Result<Extent> MemoryBackend::extent_at(std::uint64_t offset) {
  std::lock_guard lock(mutex_);
  if (offset >= options_.size) {
    return fail("extent at " + std::to_string(offset) + " is past the end of the memory disk");
  }
  const std::uint64_t bs = options_.block_size;
  if (!options_.thin) return Extent{offset, options_.size - offset, true};
  const bool mapped = block_mapped(offset);
  std::uint64_t end = offset + bs;
  while (end < options_.size) {
    // Skip whole absent chunks quickly when looking for the end of a hole.
    if (!mapped && end % kChunkBytes == 0 && !chunks_.contains(end / kChunkBytes)) {
      auto next = chunks_.lower_bound(end / kChunkBytes);
      end = next == chunks_.end() ? options_.size
                                  : std::min(options_.size, next->first * kChunkBytes);
      continue;
    }
    if (block_mapped(end) != mapped) break;
    end += bs;
  }
  return Extent{offset, std::min(end, options_.size) - offset, mapped};
}

void MemoryBackend::inject_fault(Fault fault, std::uint64_t offset, std::uint64_t length) {
  std::lock_guard lock(mutex_);
  faults_.push_back({fault, offset, length});
}

void MemoryBackend::set_space(std::optional<SpaceUsage> usage) {
  std::lock_guard lock(mutex_);
  space_ = usage;
}

std::optional<SpaceUsage> MemoryBackend::space() const {
  std::lock_guard lock(mutex_);
  return space_;
}

void MemoryBackend::clear_faults() {
  std::lock_guard lock(mutex_);
  faults_.clear();
}

std::uint64_t MemoryBackend::writes() const {
  std::lock_guard lock(mutex_);
  return writes_;
}

std::uint64_t MemoryBackend::fua_writes() const {
  std::lock_guard lock(mutex_);
  return fua_writes_;
}

std::uint64_t MemoryBackend::faults_hit() const {
  std::lock_guard lock(mutex_);
  return faults_hit_;
}

std::uint64_t MemoryBackend::flushes() const {
  std::lock_guard lock(mutex_);
  return flushes_;
}

bool MemoryBackend::mapped(std::uint64_t offset) const {
  std::lock_guard lock(mutex_);
  return block_mapped(offset);
}

}  // namespace maya::block
