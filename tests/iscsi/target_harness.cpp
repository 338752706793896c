#include "tests/iscsi/target_harness.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "tests/iscsi/mini_initiator.h"

namespace maya::iscsi::testing {

std::unique_ptr<iscsi_target::Target> start_target(TestDisk& disk,
                                                   iscsi_target::TargetOptions options,
                                                   const char* iqn) {
  options.listen = "127.0.0.1:0";
  options.iqn = iqn;
  auto t = iscsi_target::Target::create_with_disk(options, disk);
  EXPECT_TRUE(t) << t.error().message;
  if (!t) return nullptr;
  (*t)->start();
  return std::move(*t);
}

bool login_inquiry_write(std::uint16_t port, const char* iqn, const char* source) {
  auto c = MiniInitiator::connect(port, "127.0.0.1", source);
  if (!c) return false;
  auto st = c->login(iqn, "iqn.2026-11.io.maya:probe");
  if (!st || *st != 0) return false;
  const std::uint8_t inquiry[6] = {0x12, 0, 0, 0, 36, 0};
  auto inq = c->command(inquiry, 36, true, false);
  if (!inq || inq->status != 0 || inq->data.size() < 36) return false;
  std::vector<std::uint8_t> data(4096);
  std::iota(data.begin(), data.end(), 7);
  const std::uint8_t write10[10] = {0x2a, 0, 0, 0, 0, 8, 0, 0, 8, 0};
  auto w = c->command(write10, 4096, false, true, data, 4096);
  return w && w->status == 0;
}

bool raise_own_nofile(rlim_t want) {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0) return false;
  if (nofile.rlim_cur >= want) return true;
  if (nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < want) return false;
  nofile.rlim_cur = want;
  return ::setrlimit(RLIMIT_NOFILE, &nofile) == 0;
}

}  // namespace maya::iscsi::testing
