// RegionLocks: one lock per region of a volume, folded onto 256 stripes. Every write and
// discard holds the stripes of its regions shared while it marks them and reaches the
// replicas; rebuild, the cleaner and snapshot copies hold one stripe exclusively for the
// region they work on, so no write to it runs meanwhile and writes after it reach everyone.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <vector>

#include "lib/replica/region_bitmap.h"

namespace maya::replica {

class RegionLocks {
 public:
  static constexpr std::size_t kStripes = 256;

  std::shared_mutex& stripe(std::size_t index) { return stripes_[index]; }
  std::shared_mutex& of_region(std::uint64_t region) { return stripes_[region % kStripes]; }

  // The stripes of [offset, offset + length), ascending, each once.
  static std::vector<std::size_t> stripes_of(std::uint64_t offset, std::uint64_t length) {
    std::vector<std::size_t> stripes;
    if (length == 0) return stripes;
    const std::uint64_t first = offset >> kRegionShift;
    const std::uint64_t last = (offset + length - 1) >> kRegionShift;
    for (std::uint64_t r = first; r <= last && stripes.size() < kStripes; ++r)
      stripes.push_back(static_cast<std::size_t>(r % kStripes));
    std::sort(stripes.begin(), stripes.end());
    stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
    return stripes;
  }

  // Holds the stripes of a range shared, taken in ascending order so two holders never
  // deadlock.
  class Shared {
   public:
    Shared(RegionLocks& locks, std::uint64_t offset, std::uint64_t length)
        : locks_(locks), which_(stripes_of(offset, length)) {
      for (std::size_t s : which_) locks_.stripes_[s].lock_shared();
    }
    ~Shared() {
      for (auto it = which_.rbegin(); it != which_.rend(); ++it)
        locks_.stripes_[*it].unlock_shared();
    }
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;

   private:
    RegionLocks& locks_;
    std::vector<std::size_t> which_;
  };

 private:
  std::array<std::shared_mutex, kStripes> stripes_;
};

}  // namespace maya::replica
