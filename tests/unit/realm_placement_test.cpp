// Replica placement across a realm's hosts: each rule on its own, the error that explains a
// refusal, and the balance of many placements in a row.
#include "lib/realm/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace maya::realm {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;

PoolCandidate pool(const std::string& host, const std::string& zone, const std::string& name,
                   std::uint64_t free_gib, bool up = true) {
  return PoolCandidate{host, "name-" + host, zone, name, free_gib * kGiB, up};
}

PlacementRequest request(unsigned replicas, std::uint64_t size_gib) {
  PlacementRequest r;
  r.replicas = replicas;
  r.size_bytes = size_gib * kGiB;
  return r;
}

std::vector<std::string> hosts_of(const std::vector<Placement>& placements) {
  std::vector<std::string> out;
  for (const Placement& p : placements) out.push_back(p.host_id);
  return out;
}

using Hosts = std::vector<std::string>;

TEST(Placement, OneReplicaPerHostOnItsBestPool) {
  std::vector<PoolCandidate> pools = {pool("a", "z1", "small", 10), pool("a", "z1", "big", 20),
                                      pool("b", "z2", "only", 5)};
  auto placed = place(request(2, 1), pools);
  ASSERT_TRUE(placed.has_value()) << placed.error().message;
  EXPECT_EQ(*placed, (std::vector<Placement>{{"a", "big"}, {"b", "only"}}));
  // Two pools on one host do not make room for two replicas.
  auto three = place(request(3, 1), pools);
  ASSERT_FALSE(three.has_value());
  EXPECT_NE(three.error().message.find("2 of 2 hosts qualify"), std::string::npos)
      << three.error().message;
}

TEST(Placement, DistinctZonesBeforeMoreFreeSpace) {
  std::vector<PoolCandidate> pools = {pool("a", "z1", "p", 100), pool("b", "z1", "p", 90),
                                      pool("c", "z2", "p", 10), pool("d", "z3", "p", 5)};
  auto two = place(request(2, 1), pools);
  ASSERT_TRUE(two.has_value()) << two.error().message;
  EXPECT_EQ(hosts_of(*two), (Hosts{"a", "c"})) << "b is in a's zone; c's zone is unused";
  auto three = place(request(3, 1), pools);
  ASSERT_TRUE(three.has_value()) << three.error().message;
  EXPECT_EQ(hosts_of(*three), (Hosts{"a", "c", "d"}));
  // Every zone used once: a second replica in a zone, by free space again.
  auto four = place(request(4, 1), pools);
  ASSERT_TRUE(four.has_value()) << four.error().message;
  EXPECT_EQ(hosts_of(*four), (Hosts{"a", "c", "d", "b"}));
}

TEST(Placement, FirstReplicaInTheZoneAskedForWhenOneQualifies) {
  std::vector<PoolCandidate> pools = {pool("a", "z1", "p", 100), pool("b", "z2", "p", 50),
                                      pool("c", "z3", "p", 10)};
  PlacementRequest in_z3 = request(2, 1);
  in_z3.first_zone = "z3";
  auto placed = place(in_z3, pools);
  ASSERT_TRUE(placed.has_value()) << placed.error().message;
  EXPECT_EQ(hosts_of(*placed), (Hosts{"c", "a"})) << "c first (z3), then the most free space";
  // z3's only host cannot hold the volume: the zone is a preference, the rest as ever.
  PlacementRequest too_big = request(2, 20);
  too_big.first_zone = "z3";
  placed = place(too_big, pools);
  ASSERT_TRUE(placed.has_value()) << placed.error().message;
  EXPECT_EQ(hosts_of(*placed), (Hosts{"a", "b"}));
}

TEST(Placement, MostFreeSpaceFirstTiesByHostIdThenPoolName) {
  std::vector<PoolCandidate> pools = {pool("c", "z", "p", 50), pool("b", "z", "y", 70),
                                      pool("b", "z", "x", 70), pool("a", "z", "p", 50),
                                      pool("d", "z", "p", 60)};
  const std::vector<Placement> expected = {{"b", "x"}, {"d", "p"}, {"a", "p"}};
  auto placed = place(request(3, 1), pools);
  ASSERT_TRUE(placed.has_value()) << placed.error().message;
  EXPECT_EQ(*placed, expected);
  // The answer does not depend on the order the hosts published their pools in.
  std::sort(pools.begin(), pools.end(), [](const auto& l, const auto& r) {
    return std::tie(l.host_id, l.pool) < std::tie(r.host_id, r.pool);
  });
  int orders = 0;
  do {
    auto again = place(request(3, 1), pools);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, expected);
    ++orders;
  } while (std::next_permutation(pools.begin(), pools.end(), [](const auto& l, const auto& r) {
    return std::tie(l.host_id, l.pool) < std::tie(r.host_id, r.pool);
  }));
  EXPECT_EQ(orders, 120);
}

TEST(Placement, DownAndExcludedHostsAreSkipped) {
  std::vector<PoolCandidate> pools = {pool("a", "z1", "p", 100, /*up=*/false),
                                      pool("b", "z2", "p", 90), pool("c", "z3", "p", 80),
                                      pool("d", "z1", "p", 10)};
  PlacementRequest r = request(2, 1);
  r.exclude_hosts = {"b"};
  auto placed = place(r, pools);
  ASSERT_TRUE(placed.has_value()) << placed.error().message;
  EXPECT_EQ(hosts_of(*placed), (Hosts{"c", "d"}));
  // A host is down when any of its records says so.
  pools.push_back(pool("c", "z3", "q", 80, /*up=*/false));
  auto without_c = place(r, pools);
  ASSERT_FALSE(without_c.has_value());
  EXPECT_NE(without_c.error().message.find("name-c: down"), std::string::npos)
      << without_c.error().message;
}

TEST(Placement, APoolMustHoldTheWholeVolume) {
  std::vector<PoolCandidate> pools = {pool("a", "z", "p", 10), pool("b", "z", "p", 9),
                                      pool("b", "z", "q", 3)};
  auto exact = place(request(1, 10), pools);
  ASSERT_TRUE(exact.has_value()) << exact.error().message;
  EXPECT_EQ(hosts_of(*exact), (Hosts{"a"}));
  auto two = place(request(2, 10), pools);
  ASSERT_FALSE(two.has_value());
  EXPECT_NE(two.error().message.find("name-b: largest pool 9GiB free, needs 10GiB"),
            std::string::npos)
      << two.error().message;
  // Pools are not added up: 9 + 3 GiB on b still do not hold a 10 GiB replica.
  pools[0].free_bytes = 10 * kGiB - 1;
  EXPECT_FALSE(place(request(1, 10), pools).has_value()) << "one byte short";
}

TEST(Placement, NamedHostsInTheirOrderOfPreference) {
  std::vector<PoolCandidate> pools = {pool("a", "z1", "p", 10), pool("b", "z1", "p", 90),
                                      pool("c", "z1", "p", 5), pool("d", "z2", "p", 100)};
  PlacementRequest r = request(2, 1);
  r.hosts = {"c", "a", "b"};
  auto placed = place(r, pools);
  ASSERT_TRUE(placed.has_value()) << placed.error().message;
  EXPECT_EQ(hosts_of(*placed), (Hosts{"c", "a"})) << "d is not named; the order wins over space";
  r.exclude_hosts = {"c"};
  EXPECT_EQ(hosts_of(place(r, pools).value()), (Hosts{"a", "b"}));

  r.hosts = {"a", "ghost"};
  r.exclude_hosts = {};
  auto unknown = place(r, pools);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("1 of 2 hosts qualify (name-a); ghost: not a host of "
                                         "the realm"),
            std::string::npos)
      << unknown.error().message;
  r.hosts = {"a", "b", "a"};
  auto twice = place(r, pools);
  ASSERT_FALSE(twice.has_value());
  EXPECT_NE(twice.error().message.find("host a is named twice"), std::string::npos)
      << twice.error().message;
}

TEST(Placement, TooFewHostsSaysWhyEachOtherHostDoesNotQualify) {
  std::vector<PoolCandidate> pools = {
      pool("a", "z1", "p", 50), pool("b", "z1", "p", 2),
      pool("b", "z1", "q", 1),  pool("c", "z2", "p", 50, /*up=*/false),
      pool("d", "z3", "p", 50), pool("e", "z3", "p", 60)};
  pools[4].host_name = "";  // shown by its id
  PlacementRequest r = request(3, 10);
  r.exclude_hosts = {"e"};
  auto placed = place(r, pools);
  ASSERT_FALSE(placed.has_value());
  EXPECT_EQ(placed.error().message,
            "cannot place 3 replicas of 10GiB (one per host): 2 of 5 hosts qualify (name-a, d); "
            "name-b: largest pool 2GiB free, needs 10GiB; name-c: down; name-e: excluded");
  auto none = place(request(1, 1), {});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().message,
            "cannot place 1 replica of 1GiB (one per host): 0 of 0 hosts "
            "qualify");
  EXPECT_FALSE(place(request(0, 1), pools).has_value()) << "no replica at all";
}

TEST(Placement, ReserveTakesTheSizeOffThePlacedPoolsOnly) {
  std::vector<PoolCandidate> pools = {pool("a", "z", "p", 10), pool("a", "z", "q", 10),
                                      pool("b", "z", "p", 3)};
  reserve(pools, {{"a", "q"}, {"b", "p"}}, 4 * kGiB);
  EXPECT_EQ(pools[0].free_bytes, 10 * kGiB);
  EXPECT_EQ(pools[1].free_bytes, 6 * kGiB);
  EXPECT_EQ(pools[2].free_bytes, 0u) << "never below zero";
  reserve(pools, {{"c", "p"}}, kGiB);  // a pool it does not know: nothing changes
  EXPECT_EQ(pools[1].free_bytes, 6 * kGiB);
}

// Places `volumes` volumes of `replicas` in a row, reserving as it goes; the bytes each host
// ends up holding.
std::map<std::string, std::uint64_t> place_many(std::vector<PoolCandidate> pools, int volumes,
                                                unsigned replicas, bool varied_sizes) {
  std::map<std::string, std::uint64_t> used;
  std::uint32_t seed = 12345;
  for (int i = 0; i < volumes; ++i) {
    seed = seed * 1664525u + 1013904223u;  // a fixed sequence: the same run every time
    std::uint64_t size = varied_sizes ? (1 + (seed >> 16) % 16) * kGiB : 4 * kGiB;
    PlacementRequest r;
    r.replicas = replicas;
    r.size_bytes = size;
    auto placed = place(r, pools);
    if (!placed) {
      ADD_FAILURE() << "volume " << i << ": " << placed.error().message;
      return used;
    }
    EXPECT_EQ(placed->size(), replicas);
    reserve(pools, *placed, size);
    for (const Placement& p : *placed) used[p.host_id] += size;
  }
  return used;
}

std::uint64_t spread(const std::map<std::string, std::uint64_t>& used) {
  auto [min, max] = std::minmax_element(
      used.begin(), used.end(), [](const auto& l, const auto& r) { return l.second < r.second; });
  return max->second - min->second;
}

TEST(Placement, ManyPlacementsInARowStayBalanced) {
  std::vector<PoolCandidate> pools = {pool("a", "z1", "p", 4096), pool("b", "z2", "p", 4096),
                                      pool("c", "z3", "p", 4096), pool("d", "z4", "p", 4096)};
  auto used = place_many(pools, 200, 3, /*varied_sizes=*/false);
  ASSERT_EQ(used.size(), 4u);
  // 600 replicas of 4 GiB over 4 hosts: 150 each, give or take one.
  EXPECT_LE(spread(used), 4 * kGiB);
  for (const auto& [host, bytes] : used) EXPECT_NEAR(double(bytes), 150.0 * 4 * kGiB, 4.0 * kGiB);

  // Sizes from 1 to 16 GiB, two zones of two hosts: within one volume's size of each other.
  std::vector<PoolCandidate> zoned = {pool("a", "z1", "p", 8192), pool("b", "z1", "p", 8192),
                                      pool("c", "z2", "p", 8192), pool("d", "z2", "p", 8192)};
  auto varied = place_many(zoned, 200, 3, /*varied_sizes=*/true);
  ASSERT_EQ(varied.size(), 4u);
  EXPECT_LE(spread(varied), 16 * kGiB);
  const std::uint64_t min_used =
      std::min_element(varied.begin(), varied.end(), [](const auto& l, const auto& r) {
        return l.second < r.second;
      })->second;
  EXPECT_GT(min_used, 0u);
  EXPECT_LE(double(spread(varied)) / double(min_used), 0.05) << "max/min within 5%";
}

TEST(Placement, UnequalHostsFillTowardsEqualFreeSpace) {
  // The host with 100 GiB more room takes a replica of every volume until the free space evens
  // out (50 volumes), then all three share alike: 1600 GiB placed of 1900, 100 GiB left on each.
  std::vector<PoolCandidate> pools = {pool("a", "z", "p", 700), pool("b", "z", "p", 600),
                                      pool("c", "z", "p", 600)};
  auto used = place_many(pools, 200, 2, /*varied_sizes=*/false);
  EXPECT_NEAR(double(used["a"]) / double(kGiB), 600.0, 4.0);
  EXPECT_NEAR(double(used["b"]) / double(kGiB), 500.0, 4.0);
  EXPECT_NEAR(double(used["c"]) / double(kGiB), 500.0, 4.0);
}

TEST(Placement, DrainingHostsTakeNoReplicaAndSayWhy) {
  std::vector<PoolCandidate> pools = {pool("a", "z1", "p", 100), pool("b", "z2", "p", 10),
                                      pool("c", "z3", "p", 10)};
  PlacementRequest r = request(2, 1);
  r.draining_hosts = {"a"};
  auto placed = place(r, pools);
  ASSERT_TRUE(placed.has_value()) << placed.error().message;
  EXPECT_EQ(hosts_of(*placed), (Hosts{"b", "c"}));
  r.replicas = 3;
  auto refused = place(r, pools);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("name-a: draining"), std::string::npos)
      << refused.error().message;
}

TEST(Placement, AMovedReplicaGoesToAZoneTheVolumeDoesNotUseYet) {
  // The volume keeps replicas in z1 and z2; of the hosts without one, d (z3) comes before the
  // roomier b (z1).
  std::vector<PoolCandidate> pools = {pool("a", "z1", "p", 10), pool("b", "z1", "p", 100),
                                      pool("c", "z2", "p", 10), pool("d", "z3", "p", 5)};
  PlacementRequest r = request(1, 1);
  r.exclude_hosts = {"a", "c"};
  r.zones_used = {"z1", "z2"};
  auto placed = place(r, pools);
  ASSERT_TRUE(placed.has_value()) << placed.error().message;
  EXPECT_EQ(hosts_of(*placed), (Hosts{"d"}));
}

TEST(Placement, AThinVolumeIsRefusedWithoutASizeInTheMessage) {
  std::vector<PoolCandidate> pools = {pool("a", "z1", "p", 1)};
  auto refused = place(request(2, 0), pools);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("cannot place 2 replicas (one per host)"),
            std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace maya::realm
