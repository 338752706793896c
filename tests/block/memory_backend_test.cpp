// MemoryBackend: sparse storage, mapped-block tracking for extent_at(), discard, and injected
// faults.
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/memory_backend.h"

namespace maya::block {
namespace {

std::vector<std::byte> bytes(std::size_t n, std::uint8_t value) {
  return std::vector<std::byte>(n, std::byte{value});
}

TEST(MemoryBackend, UnwrittenReadsZeroAndWritesReadBack) {
  MemoryBackend m({.size = 1 << 20});
  auto out = bytes(4096, 0xee);
  ASSERT_TRUE(m.read(8192, out));
  EXPECT_EQ(out, bytes(4096, 0));
  // A write crossing a 64 KiB chunk boundary.
  ASSERT_TRUE(m.write(65536 - 512, bytes(1024, 7), false));
  auto back = bytes(1024, 0);
  ASSERT_TRUE(m.read(65536 - 512, back));
  EXPECT_EQ(back, bytes(1024, 7));
  EXPECT_FALSE(m.read((1 << 20) - 512, out)) << "past the end";
}

TEST(MemoryBackend, ExtentsFollowWritesAndDiscards) {
  MemoryBackend m({.size = 1 << 20});
  ASSERT_TRUE(m.write(4096, bytes(8192, 1), false));
  auto e = m.extent_at(0);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->mapped);
  EXPECT_EQ(e->length, 4096u);
  e = m.extent_at(4096);
  EXPECT_TRUE(e->mapped);
  EXPECT_EQ(e->length, 8192u);
  e = m.extent_at(12288);
  EXPECT_FALSE(e->mapped);
  EXPECT_EQ(e->offset + e->length, 1u << 20) << "a hole up to the end";
  ASSERT_TRUE(m.discard(4096, 4096));
  EXPECT_FALSE(m.mapped(4096));
  EXPECT_TRUE(m.mapped(8192));
  auto back = bytes(4096, 9);
  ASSERT_TRUE(m.read(4096, back));
  EXPECT_EQ(back, bytes(4096, 0));
  EXPECT_FALSE(m.extent_at(1 << 20)) << "no extent past the end";
}

TEST(MemoryBackend, NotThinMeansOneMappedExtent) {
  MemoryBackend m({.size = 1 << 20, .thin = false});
  auto e = m.extent_at(512);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->mapped);
  EXPECT_EQ(e->length, (1u << 20) - 512);
}

TEST(MemoryBackend, InjectedFaultsHitOnlyTheirRange) {
  MemoryBackend m({.size = 1 << 20});
  m.inject_fault(MemoryBackend::Fault::read, 4096, 512);
  auto buf = bytes(512, 0);
  EXPECT_TRUE(m.read(0, buf));
  EXPECT_FALSE(m.read(4096, buf));
  auto big = bytes(8192, 0);
  EXPECT_FALSE(m.read(0, big));
  EXPECT_TRUE(m.write(4096, buf, false)) << "only reads fail";
  m.inject_fault(MemoryBackend::Fault::flush);
  EXPECT_FALSE(m.flush());
  m.clear_faults();
  EXPECT_TRUE(m.read(4096, buf));
  EXPECT_TRUE(m.flush());
}

TEST(MemoryBackend, CountsWritesAndFlushes) {
  MemoryBackend m({.size = 1 << 20});
  ASSERT_TRUE(m.write(0, bytes(512, 1), true));
  ASSERT_TRUE(m.write(0, bytes(512, 1), false));
  ASSERT_TRUE(m.flush());
  EXPECT_EQ(m.writes(), 2u);
  EXPECT_EQ(m.fua_writes(), 1u);
  EXPECT_EQ(m.flushes(), 1u);
}

TEST(MemoryBackend, GrowsWithZerosAndFailsWhenTold) {
  MemoryBackend m({.size = 1 << 20});
  ASSERT_TRUE(m.write(0, bytes(512, 3), false));
  ASSERT_TRUE(m.grow(2 << 20));
  EXPECT_EQ(m.size_bytes(), 2u << 20);
  auto out = bytes(512, 0xee);
  ASSERT_TRUE(m.read((2 << 20) - 512, out));
  EXPECT_EQ(out, bytes(512, 0));
  ASSERT_TRUE(m.read(0, out));
  EXPECT_EQ(out, bytes(512, 3));
  EXPECT_FALSE(m.grow(1 << 20)) << "no shrinking";
  m.inject_fault(MemoryBackend::Fault::grow);
  EXPECT_FALSE(m.grow(4 << 20));
  EXPECT_EQ(m.size_bytes(), 2u << 20);
}

}  // namespace
}  // namespace maya::block
