// RegionBitmap: one bit per fixed-size region of a volume (kRegionBytes), set and tested
// without locks. The replicator keeps two: regions with writes that may not be on every replica
// yet (dirty), and regions written while a replica was away (degraded), so that a replica that
// comes back copies only those.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace maya::replica {

inline constexpr std::uint64_t kRegionShift = 20;  // 1 MiB regions
inline constexpr std::uint64_t kRegionBytes = 1ull << kRegionShift;

inline std::uint64_t region_count(std::uint64_t size_bytes) {
  return (size_bytes + kRegionBytes - 1) >> kRegionShift;
}

class RegionBitmap {
 public:
  explicit RegionBitmap(std::uint64_t regions = 0);
  RegionBitmap(const RegionBitmap& other);
  RegionBitmap& operator=(const RegionBitmap& other);

  std::uint64_t regions() const { return regions_; }
  // Sets the bit; true if it was clear.
  bool set(std::uint64_t region);
  bool test(std::uint64_t region) const;
  void clear(std::uint64_t region);
  void clear_all();
  void merge(const RegionBitmap& other);  // this |= other
  // Counts `regions` from now on (more than now), the new ones clear. Not safe against
  // concurrent use: the caller excludes every other user.
  void grow(std::uint64_t regions);
  std::uint64_t count() const;
  bool empty() const { return count() == 0; }

  // The 64-bit word holding `region`, and words as bytes (little-endian), for persistence.
  static std::uint64_t word_of(std::uint64_t region) { return region / 64; }
  std::uint64_t word(std::uint64_t index) const;
  // Clears word `index` and returns what it held, atomically.
  std::uint64_t take_word(std::uint64_t index);
  void set_word(std::uint64_t index, std::uint64_t bits);
  std::size_t words() const { return words_.size(); }
  std::vector<std::uint8_t> to_bytes() const;
  // From persisted bytes (missing bytes read as clear; bits past `regions` are ignored).
  static RegionBitmap from_bytes(std::uint64_t regions, std::span<const std::uint8_t> bytes);

 private:
  std::uint64_t regions_;
  std::vector<std::atomic<std::uint64_t>> words_;
};

}  // namespace maya::replica
