#include "lib/replica/region_bitmap.h"

#include <bit>

namespace maya::replica {

RegionBitmap::RegionBitmap(std::uint64_t regions) : regions_(regions), words_((regions + 63) / 64) {
  for (auto& w : words_) w.store(0, std::memory_order_relaxed);
}

RegionBitmap::RegionBitmap(const RegionBitmap& other)
    : regions_(other.regions_), words_(other.words_.size()) {
  for (std::size_t i = 0; i < words_.size(); ++i) words_[i].store(other.words_[i].load());
}

RegionBitmap& RegionBitmap::operator=(const RegionBitmap& other) {
  if (this == &other) return *this;
  regions_ = other.regions_;
  std::vector<std::atomic<std::uint64_t>> words(other.words_.size());
  for (std::size_t i = 0; i < words.size(); ++i) words[i].store(other.words_[i].load());
  words_.swap(words);
  return *this;
}

bool RegionBitmap::set(std::uint64_t region) {
  if (region >= regions_) return false;
  const std::uint64_t bit = 1ull << (region % 64);
  return (words_[region / 64].fetch_or(bit) & bit) == 0;
}

bool RegionBitmap::test(std::uint64_t region) const {
  if (region >= regions_) return false;
  return (words_[region / 64].load() >> (region % 64)) & 1u;
}

void RegionBitmap::clear(std::uint64_t region) {
  if (region >= regions_) return;
  words_[region / 64].fetch_and(~(1ull << (region % 64)));
}

void RegionBitmap::clear_all() {
  for (auto& w : words_) w.store(0);
}

void RegionBitmap::merge(const RegionBitmap& other) {
  const std::size_t n = std::min(words_.size(), other.words_.size());
  for (std::size_t i = 0; i < n; ++i) words_[i].fetch_or(other.words_[i].load());
}

void RegionBitmap::grow(std::uint64_t regions) {
  if (regions <= regions_) return;
  std::vector<std::atomic<std::uint64_t>> words((regions + 63) / 64);
  for (std::size_t i = 0; i < words.size(); ++i)
    words[i].store(i < words_.size() ? words_[i].load() : 0);
  words_.swap(words);
  regions_ = regions;
}

std::uint64_t RegionBitmap::count() const {
  std::uint64_t n = 0;
  for (const auto& w : words_) n += static_cast<std::uint64_t>(std::popcount(w.load()));
  return n;
}

std::uint64_t RegionBitmap::word(std::uint64_t index) const {
  return index < words_.size() ? words_[index].load() : 0;
}

std::uint64_t RegionBitmap::take_word(std::uint64_t index) {
  return index < words_.size() ? words_[index].exchange(0) : 0;
}

void RegionBitmap::set_word(std::uint64_t index, std::uint64_t bits) {
  if (index < words_.size()) words_[index].store(bits);
}

std::vector<std::uint8_t> RegionBitmap::to_bytes() const {
  std::vector<std::uint8_t> out(words_.size() * 8);
  for (std::size_t i = 0; i < words_.size(); ++i) {
    std::uint64_t w = words_[i].load();
    for (int b = 0; b < 8; ++b) out[i * 8 + b] = static_cast<std::uint8_t>(w >> (8 * b));
  }
  return out;
}

RegionBitmap RegionBitmap::from_bytes(std::uint64_t regions, std::span<const std::uint8_t> bytes) {
  RegionBitmap bm(regions);
  for (std::size_t i = 0; i < bm.words_.size(); ++i) {
    std::uint64_t w = 0;
    for (int b = 0; b < 8; ++b) {
      std::size_t at = i * 8 + static_cast<std::size_t>(b);
      if (at < bytes.size()) w |= static_cast<std::uint64_t>(bytes[at]) << (8 * b);
    }
    if (i + 1 == bm.words_.size() && regions % 64 != 0) w &= (1ull << (regions % 64)) - 1;
    bm.words_[i].store(w);
  }
  return bm;
}

}  // namespace maya::replica
