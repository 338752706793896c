// The iscsi:// child: a replica on another host, exported there as one LUN laid out as
// lib/replica/remote_layout.h says (the journal area first, the data after it). IscsiBackend
// serves the data half as a BlockBackend (every offset shifted by kRemoteJournalBytes);
// IscsiJournal (iscsi_journal.h) keeps the journal in the first half. Both share one IscsiLun,
// its pool of sessions and its io_timeout.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "lib/block/backend.h"
#include "lib/replica/child_factory.h"
#include "lib/replica/iscsi_lun.h"

namespace maya::replica {

// Opens `uri` (iscsi://[USER[%SECRET]@]HOST[:PORT]/IQN/LUN, or USER:SECRET@): logs in, checks
// that the LUN holds the journal area and `options.size_bytes` of data, and that the volume's
// regions fit the journal's bitmaps.
// Gives a remote child up (IscsiLun::release) as the owner `options.owner_key`: the volume
// that held it is gone, or no longer names it. A child another owner holds is left alone.
Result<void> release_iscsi_child(std::string_view id, std::string_view uri,
                                 const ChildOptions& options);

Result<Child> open_iscsi_child(std::string_view id, std::string_view uri,
                               const ChildOptions& options);

class IscsiBackend final : public block::BlockBackend {
 public:
  // `lun` must hold kRemoteJournalBytes + options.size_bytes.
  static Result<std::unique_ptr<IscsiBackend>> open(std::shared_ptr<IscsiLun> lun,
                                                    const ChildOptions& options);

  std::uint64_t size_bytes() const override { return size_.load(); }
  std::uint32_t block_size() const override { return block_size_; }
  bool thin() const override { return thin_; }
  bool discard_zeroes() const override;

  Result<void> read(std::uint64_t offset, std::span<std::byte> out) override;
  Result<void> write(std::uint64_t offset, std::span<const std::byte> data, bool fua) override;
  Result<void> flush() override;
  Result<void> discard(std::uint64_t offset, std::uint64_t length) override;
  Result<block::Extent> extent_at(std::uint64_t offset) override;
  Result<void> grow(std::uint64_t size_bytes) override;
  bool remote() const override { return true; }

 private:
  IscsiBackend(std::shared_ptr<IscsiLun> lun, const ChildOptions& options);
  Result<void> in_range(const char* what, std::uint64_t offset, std::uint64_t length) const;
  Result<void> write_zeros(std::uint64_t offset, std::uint64_t length);

  std::shared_ptr<IscsiLun> lun_;
  std::atomic<std::uint64_t> size_;
  std::uint32_t block_size_;
  bool thin_;
  // The LUN answered UNMAP or GET LBA STATUS with "not supported": we stop asking.
  std::atomic<bool> no_unmap_{false}, no_lba_status_{false};
};

}  // namespace maya::replica
