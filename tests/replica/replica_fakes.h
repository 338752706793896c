// What the replicator tests share: in-memory replicas whose data and journals the test keeps
// (to inspect and damage them), data patterns, and reading a replica's mode.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "lib/replica/replicator.h"
#include "tests/support/memory_backend.h"
#include "tests/support/memory_journal.h"

namespace maya::replica::fakes {

using block::BlockBackend;
using block::MemoryBackend;
using block::MemoryBackendOptions;

constexpr std::uint64_t kSize = 16ull << 20;  // 16 regions

// A replica's parts, kept by the test (valid while the replicator that owns them lives).
struct Fake {
  std::string id;
  MemoryBackend* data = nullptr;
  MemoryJournal* journal = nullptr;
};

// n bytes that differ with `seed` and along the buffer.
inline std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 7 + seed * 13) & 0xff);
  return v;
}

inline std::vector<std::byte> read_back(BlockBackend& b, std::uint64_t offset, std::size_t n) {
  std::vector<std::byte> v(n);
  EXPECT_TRUE(b.read(offset, v).has_value());
  return v;
}

// The mode of replica `id`; ERR for one the replicator does not know.
inline ReplicaMode mode_of(const Replicator& r, const std::string& id) {
  for (const auto& s : r.replicas())
    if (s.id == id) return s.mode;
  return ReplicaMode::ERR;
}

}  // namespace maya::replica::fakes
