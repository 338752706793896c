#include "lib/replica/iscsi_journal.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "lib/common/json_number.h"
#include "lib/replica/remote_layout.h"

namespace maya::replica {
namespace {

using nlohmann::json;

constexpr char kMagic[8] = {'M', 'A', 'Y', 'A', 'J', 'R', 'N', '1'};
constexpr std::size_t kHeader = 24;  // magic, sequence, length, CRC

static_assert(IscsiJournal::kBitmapsAt + 2 * IscsiJournal::kBitmapBytes <= kRemoteJournalBytes);
static_assert(IscsiJournal::kBitmapBytes % 4096 == 0 && IscsiJournal::kBitmapsAt % 4096 == 0);

// CRC32C (Castagnoli), bitwise: a 4 KiB slot is read twice per open, speed does not matter.
std::uint32_t crc32c(const std::byte* data, std::size_t size) {
  std::uint32_t crc = 0xffffffffu;
  for (std::size_t i = 0; i < size; ++i) {
    crc ^= static_cast<std::uint8_t>(data[i]);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put_le(std::byte* at, std::uint64_t value, int bytes) {
  for (int b = 0; b < bytes; ++b) at[b] = static_cast<std::byte>(value >> (8 * b));
}

std::uint64_t get_le(const std::byte* at, int bytes) {
  std::uint64_t value = 0;
  for (int b = 0; b < bytes; ++b)
    value |= std::uint64_t(std::to_integer<std::uint8_t>(at[b])) << (8 * b);
  return value;
}

struct Slot {
  enum { zeros, damaged, valid } state = zeros;
  std::uint64_t sequence = 0;
  ReplicaMeta meta;
};

Slot parse_slot(std::span<const std::byte> bytes) {
  Slot slot;
  if (std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte{0}; }))
    return slot;
  slot.state = Slot::damaged;
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return slot;
  const std::uint64_t length = get_le(bytes.data() + 16, 4);
  if (length > bytes.size() - kHeader) return slot;
  const auto crc = static_cast<std::uint32_t>(get_le(bytes.data() + 20, 4));
  std::vector<std::byte> covered(bytes.begin() + 8, bytes.begin() + 20);
  covered.insert(covered.end(), bytes.begin() + kHeader,
                 bytes.begin() + static_cast<std::ptrdiff_t>(kHeader + length));
  if (crc32c(covered.data(), covered.size()) != crc) return slot;
  try {
    const auto* text = reinterpret_cast<const char*>(bytes.data() + kHeader);
    slot.meta = meta_from_json(json::parse(text, text + length));
  } catch (const json::exception&) {
    return slot;
  }
  slot.sequence = get_le(bytes.data() + 8, 8);
  slot.state = Slot::valid;
  return slot;
}

}  // namespace

Result<void> IscsiJournal::check_regions(std::uint64_t regions) const {
  if (regions > kMaxRegions)
    return fail(lun_->name() + ": the volume's " + std::to_string(regions) +
                " regions do not fit the journal's bitmaps (at most " +
                std::to_string(kMaxRegions) + ")");
  return {};
}

Result<std::unique_ptr<IscsiJournal>> IscsiJournal::open(std::shared_ptr<IscsiLun> lun,
                                                         std::uint64_t regions) {
  std::unique_ptr<IscsiJournal> journal(new IscsiJournal(std::move(lun)));
  MAYA_TRY_VOID(journal->check_regions(regions));
  for (BitmapKind kind : {BitmapKind::dirty, BitmapKind::degraded}) {
    std::lock_guard lock(journal->bitmap(kind).mutex);
    MAYA_TRY_VOID(journal->load_words(kind, (regions + 63) / 64));
  }
  return journal;
}

Result<void> IscsiJournal::load_words(BitmapKind kind, std::uint64_t words) {
  Bitmap& b = bitmap(kind);
  if (b.words.size() >= words) return {};
  const std::uint64_t bs = lun_->geometry().block_size;
  // Whole blocks, from the block holding the first missing word.
  const std::uint64_t from = b.words.size() * 8 / bs * bs;
  const std::uint64_t to = std::min((words * 8 + bs - 1) / bs * bs, kBitmapBytes);
  std::vector<std::byte> bytes(to - from);
  MAYA_TRY_VOID(lun_->read(area(kind) + from, bytes, {"journal bitmap read", 0}));
  const std::uint64_t first = from / 8;
  b.words.resize(std::max<std::uint64_t>(b.words.size(), to / 8));
  for (std::uint64_t i = first; i < to / 8; ++i) b.words[i] = get_le(&bytes[(i - first) * 8], 8);
  return {};
}

Result<ReplicaMeta> IscsiJournal::load_meta() {
  std::vector<std::byte> bytes(2 * kSlotBytes);
  MAYA_TRY_VOID(lun_->read(0, bytes, {"journal meta read", 0}));
  const Slot slots[2] = {parse_slot(std::span(bytes).first(kSlotBytes)),
                         parse_slot(std::span(bytes).subspan(kSlotBytes))};
  std::lock_guard lock(meta_mutex_);
  int best = -1;
  for (int i = 0; i < 2; ++i) {
    if (slots[i].state == Slot::valid && (best < 0 || slots[i].sequence > slots[best].sequence))
      best = i;
  }
  if (best < 0) {
    if (slots[0].state == Slot::damaged && slots[1].state == Slot::damaged)
      return fail(lun_->name() + ": both meta slots of the journal are damaged");
    sequence_ = 0;
    newest_slot_ = 1;  // the first save goes to slot 0
    return ReplicaMeta{};
  }
  sequence_ = slots[best].sequence;
  newest_slot_ = best;
  return slots[best].meta;
}

Result<void> IscsiJournal::save_meta(const ReplicaMeta& meta) {
  bool known = false;
  {
    std::lock_guard lock(meta_mutex_);
    known = newest_slot_ >= 0;
  }
  if (!known) {
    auto loaded = load_meta();  // which slot is the newest
    if (!loaded) return std::unexpected(loaded.error());
  }
  const std::string text = meta_json(meta).dump();
  const std::uint32_t bs = lun_->geometry().block_size;
  const std::uint64_t slot_bytes = std::max<std::uint64_t>(kSlotBytes, bs);
  if (text.size() > kSlotBytes - kHeader)
    return fail(lun_->name() + ": the replica's meta (" + std::to_string(text.size()) +
                " bytes of JSON) does not fit a journal slot");
  std::lock_guard lock(meta_mutex_);
  const int slot = 1 - newest_slot_;
  const std::uint64_t sequence = sequence_ + 1;
  std::vector<std::byte> bytes(kSlotBytes);
  std::memcpy(bytes.data(), kMagic, sizeof kMagic);
  put_le(&bytes[8], sequence, 8);
  put_le(&bytes[16], text.size(), 4);
  std::memcpy(&bytes[kHeader], text.data(), text.size());
  std::vector<std::byte> covered(bytes.begin() + 8, bytes.begin() + 20);
  covered.insert(covered.end(), bytes.begin() + kHeader,
                 bytes.begin() + static_cast<std::ptrdiff_t>(kHeader + text.size()));
  put_le(&bytes[20], crc32c(covered.data(), covered.size()), 4);
  bytes.resize(slot_bytes);  // a LUN of blocks larger than a slot: the rest is zeros
  MAYA_TRY_VOID(lun_->write(static_cast<std::uint64_t>(slot) * kSlotBytes, bytes, true,
                            {"journal meta write", 0}));
  sequence_ = sequence;
  newest_slot_ = slot;
  return {};
}

Result<RegionBitmap> IscsiJournal::load_bitmap(BitmapKind kind, std::uint64_t regions) {
  MAYA_TRY_VOID(check_regions(regions));
  Bitmap& b = bitmap(kind);
  std::lock_guard lock(b.mutex);
  MAYA_TRY_VOID(load_words(kind, (regions + 63) / 64));
  std::vector<std::uint8_t> bytes((regions + 63) / 64 * 8);
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<std::uint8_t>(b.words[i / 8] >> (8 * (i % 8)));
  return RegionBitmap::from_bytes(regions, bytes);
}

Result<void> IscsiJournal::save_word(BitmapKind kind, std::uint64_t index, std::uint64_t word) {
  MAYA_TRY_VOID(check_regions(index * 64 + 1));
  const std::uint64_t bs = lun_->geometry().block_size;
  const std::uint64_t block = index * 8 / bs;
  Bitmap& b = bitmap(kind);
  std::lock_guard write_one(block_locks_[block % block_locks_.size()]);
  std::vector<std::byte> bytes(bs);
  {
    std::lock_guard lock(b.mutex);
    MAYA_TRY_VOID(load_words(kind, index + 1));
    b.words[index] = word;
    const std::uint64_t first = block * bs / 8;
    for (std::uint64_t i = 0; i < bs / 8; ++i)
      put_le(&bytes[i * 8], first + i < b.words.size() ? b.words[first + i] : 0, 8);
  }
  MAYA_TRY_VOID(lun_->write(area(kind) + block * bs, bytes, false, {"journal bitmap write", 0}));
  b.unsynced = true;
  return {};
}

Result<void> IscsiJournal::save_bitmap(BitmapKind kind, const RegionBitmap& bitmap_in) {
  MAYA_TRY_VOID(check_regions(bitmap_in.regions()));
  const std::uint64_t bs = lun_->geometry().block_size;
  Bitmap& b = bitmap(kind);
  // Every block lock, in order: no save_word of this journal runs meanwhile.
  std::vector<std::unique_lock<std::mutex>> all;
  for (auto& m : block_locks_) all.emplace_back(m);
  std::vector<std::byte> bytes;
  {
    std::lock_guard lock(b.mutex);
    const std::uint64_t words = bitmap_in.words();
    b.words.resize(std::max<std::uint64_t>(b.words.size(), (words * 8 + bs - 1) / bs * bs / 8));
    for (std::uint64_t i = 0; i < b.words.size(); ++i)
      b.words[i] = i < words ? bitmap_in.word(i) : 0;  // as FileJournal's truncate: the rest 0
    bytes.resize(b.words.size() * 8);
    for (std::uint64_t i = 0; i < b.words.size(); ++i) put_le(&bytes[i * 8], b.words[i], 8);
  }
  if (!bytes.empty())
    MAYA_TRY_VOID(lun_->write(area(kind), bytes, false, {"journal bitmap write", 0}));
  b.unsynced = true;
  return {};
}

Result<void> IscsiJournal::sync() {
  // A write after the exchange sets the flag again, for the next sync; a failed sync too.
  std::lock_guard one_at_a_time(sync_mutex_);
  const bool dirty = dirty_.unsynced.exchange(false);
  const bool degraded = degraded_.unsynced.exchange(false);
  if (!dirty && !degraded) return {};
  auto synced = lun_->synchronize_cache();
  if (!synced) {
    if (dirty) dirty_.unsynced = true;
    if (degraded) degraded_.unsynced = true;
  }
  return synced;
}

}  // namespace maya::replica
