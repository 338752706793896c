#include "lib/replica/iscsi_child.h"

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "lib/replica/iscsi_journal.h"
#include "lib/replica/remote_layout.h"

namespace maya::replica {
namespace {

// Zeros written at once where a LUN cannot UNMAP.
constexpr std::uint64_t kZeroChunk = 1ull << 20;

Result<void> check_capacity(const IscsiLun& lun, const LunGeometry& g, std::uint64_t size) {
  if (g.capacity_bytes < kRemoteJournalBytes + size)
    return fail(lun.name() + ": the LUN holds " + std::to_string(g.capacity_bytes) +
                " bytes, less than the journal area (" + std::to_string(kRemoteJournalBytes) +
                ") and the volume (" + std::to_string(size) + ") need");
  return {};
}

}  // namespace

Result<void> release_iscsi_child(std::string_view id, std::string_view uri,
                                 const ChildOptions& options) {
  MAYA_TRY(url, parse_iscsi_url(id, uri));
  MAYA_TRY(lun,
           IscsiLun::open(id, std::move(*url), options.io_timeout, 1, {options.owner_key, false}));
  return (*lun)->release();
}

Result<Child> open_iscsi_child(std::string_view id, std::string_view uri,
                               const ChildOptions& options) {
  MAYA_TRY(url, parse_iscsi_url(id, uri));
  MAYA_TRY(lun, IscsiLun::open(id, std::move(*url), options.io_timeout, IscsiLun::kDefaultSessions,
                               {options.owner_key, options.claim}));
  MAYA_TRY(data, IscsiBackend::open(*lun, options));
  MAYA_TRY(journal, IscsiJournal::open(*lun, region_count(options.size_bytes)));
  return Child{std::move(*data), std::move(*journal)};
}

IscsiBackend::IscsiBackend(std::shared_ptr<IscsiLun> lun, const ChildOptions& options)
    : lun_(std::move(lun)),
      size_(options.size_bytes),
      block_size_(options.block_size),
      thin_(options.thin) {}

Result<std::unique_ptr<IscsiBackend>> IscsiBackend::open(std::shared_ptr<IscsiLun> lun,
                                                         const ChildOptions& options) {
  const LunGeometry& g = lun->geometry();
  if (options.block_size == 0 || options.block_size % g.block_size != 0)
    return fail(lun->name() + ": the LUN's blocks are " + std::to_string(g.block_size) +
                " bytes, which the volume's " + std::to_string(options.block_size) +
                "-byte blocks are not a multiple of");
  if (options.size_bytes % options.block_size != 0)
    return fail(lun->name() + ": the volume's size " + std::to_string(options.size_bytes) +
                " is not a multiple of its block size");
  MAYA_TRY_VOID(check_capacity(*lun, g, options.size_bytes));
  return std::unique_ptr<IscsiBackend>(new IscsiBackend(std::move(lun), options));
}

bool IscsiBackend::discard_zeroes() const {
  // Without UNMAP a discard writes zeros, which read back as zeros too.
  const LunGeometry& g = lun_->geometry();
  return g.lbprz || !g.lbpme;
}

Result<void> IscsiBackend::in_range(const char* what, std::uint64_t offset,
                                    std::uint64_t length) const {
  const std::uint64_t size = size_.load();
  if (offset > size || length > size - offset || offset % block_size_ != 0 ||
      length % block_size_ != 0)
    return fail(lun_->name() + ": " + what + " at " + std::to_string(offset) + " of " +
                    std::to_string(length) + " bytes is outside the volume's " +
                    std::to_string(size) + " bytes or not block-aligned",
                errno_code(EINVAL));
  return {};
}

Result<void> IscsiBackend::read(std::uint64_t offset, std::span<std::byte> out) {
  MAYA_TRY_VOID(in_range("read", offset, out.size()));
  return lun_->read(kRemoteJournalBytes + offset, out, {"read", kRemoteJournalBytes});
}

Result<void> IscsiBackend::write(std::uint64_t offset, std::span<const std::byte> data, bool fua) {
  MAYA_TRY_VOID(in_range("write", offset, data.size()));
  return lun_->write(kRemoteJournalBytes + offset, data, fua, {"write", kRemoteJournalBytes});
}

Result<void> IscsiBackend::flush() {
  return lun_->synchronize_cache();
}

Result<void> IscsiBackend::write_zeros(std::uint64_t offset, std::uint64_t length) {
  const std::vector<std::byte> zeros(std::min(length, kZeroChunk));
  for (std::uint64_t done = 0; done < length;) {
    const std::uint64_t n = std::min<std::uint64_t>(length - done, zeros.size());
    MAYA_TRY_VOID(lun_->write(kRemoteJournalBytes + offset + done,
                              std::span(zeros.data(), static_cast<std::size_t>(n)), false,
                              {"discard (writing zeros)", kRemoteJournalBytes}));
    done += n;
  }
  return {};
}

Result<void> IscsiBackend::discard(std::uint64_t offset, std::uint64_t length) {
  MAYA_TRY_VOID(in_range("discard", offset, length));
  if (length == 0) return {};
  if (!lun_->geometry().lbpme || no_unmap_.load()) return write_zeros(offset, length);
  auto unmapped =
      lun_->unmap(kRemoteJournalBytes + offset, length, {"discard", kRemoteJournalBytes});
  if (unmapped || unmapped.error().code != errno_code(ENOTSUP)) return unmapped;
  no_unmap_ = true;
  return write_zeros(offset, length);
}

Result<block::Extent> IscsiBackend::extent_at(std::uint64_t offset) {
  const std::uint64_t size = size_.load();
  if (offset >= size)
    return fail(lun_->name() + ": no extent at " + std::to_string(offset) + ", past the end (" +
                    std::to_string(size) + " bytes)",
                errno_code(ENXIO));
  const block::Extent all{offset, size - offset, true};
  if (!lun_->geometry().lbpme || no_lba_status_.load()) return all;
  auto status = lun_->lba_status(kRemoteJournalBytes + offset,
                                 {"extent lookup (GET LBA STATUS)", kRemoteJournalBytes});
  if (!status) {
    if (status.error().code != errno_code(ENOTSUP)) return std::unexpected(status.error());
    no_lba_status_ = true;
    return all;
  }
  return block::Extent{offset, std::min(status->length, size - offset), status->mapped};
}

Result<void> IscsiBackend::grow(std::uint64_t size_bytes) {
  if (size_bytes < size_.load() || size_bytes % block_size_ != 0)
    return fail(lun_->name() + ": cannot grow to " + std::to_string(size_bytes) +
                " bytes (smaller than now or not a multiple of the block size)");
  MAYA_TRY(geometry, lun_->read_capacity());
  MAYA_TRY_VOID(check_capacity(*lun_, *geometry, size_bytes));
  size_ = size_bytes;
  return {};
}

}  // namespace maya::replica
