#include "tests/iscsi/test_disk.h"

#include <cstring>

#include "lib/common/endian.h"
#include "lib/scsi/sense.h"
#include "lib/scsi/transfer.h"

namespace maya::iscsi::testing {
namespace {

scsi::TaskResult check(std::uint8_t key, std::uint8_t asc, std::uint8_t ascq) {
  return scsi::check_condition(key, scsi::Asc{asc, ascq});
}

}  // namespace

TestDisk::TestDisk(std::uint64_t size, std::uint32_t block_size)
    : backend_(block::MemoryBackendOptions{size, block_size, true, true}) {}

scsi::TaskResult TestDisk::execute(const scsi::Task& task) {
  ++commands;
  scsi::TaskResult r = run(task);
  if (task.expected) scsi::settle_transfer(*task.expected, {}, r);
  return r;
}

scsi::TaskResult TestDisk::run(const scsi::Task& task) {
  const std::uint8_t* c = task.cdb.data();
  const std::uint32_t bs = backend_.block_size();
  const std::uint64_t blocks = backend_.size_bytes() / bs;
  scsi::TaskResult r;
  switch (c[0]) {
    case 0x00:
      return r;
    case 0x12: {  // INQUIRY (standard data only)
      r.data_in.assign(36, 0);
      r.data_in[2] = 0x06;
      r.data_in[3] = 0x02;
      r.data_in[4] = 31;
      std::memcpy(&r.data_in[8], "MAYA    TESTDISK        0001", 28);
      const std::uint16_t alloc = load_be16(c + 3);
      if (r.data_in.size() > alloc) r.data_in.resize(alloc);
      return r;
    }
    case 0x25:  // READ CAPACITY(10)
      r.data_in.assign(8, 0);
      store_be32(r.data_in.data(), static_cast<std::uint32_t>(blocks - 1));
      store_be32(r.data_in.data() + 4, bs);
      return r;
    case 0xa0:  // REPORT LUNS: LUN 0 only
      r.data_in.assign(16, 0);
      store_be32(r.data_in.data(), 8);
      return r;
    case 0x28:
    case 0x2a: {
      const std::uint64_t lba = load_be32(c + 2);
      const std::uint64_t count = load_be16(c + 7);
      if (lba + count > blocks) return check(0x05, 0x21, 0x00);
      if (c[0] == 0x28) {
        r.data_in.resize(count * bs);
        auto out = std::as_writable_bytes(std::span(r.data_in));
        if (!backend_.read(lba * bs, out)) return check(0x03, 0x11, 0x00);
        return r;
      }
      if (task.data_out.size() < count * bs) return check(0x05, 0x24, 0x00);
      auto in = std::as_bytes(task.data_out.subspan(0, count * bs));
      if (!backend_.write(lba * bs, in, false)) return check(0x03, 0x0c, 0x00);
      return r;
    }
    default:
      return check(0x05, 0x20, 0x00);
  }
}

void TestDisk::nexus_added(const scsi::Nexus& nexus) {
  std::lock_guard lock(mutex_);
  nexuses_.insert(nexus.initiator_port);
}

void TestDisk::nexus_removed(const scsi::Nexus& nexus) {
  std::lock_guard lock(mutex_);
  auto it = nexuses_.find(nexus.initiator_port);
  if (it != nexuses_.end()) nexuses_.erase(it);
}

void TestDisk::reset(bool) {
  ++resets;
}

std::size_t TestDisk::live_nexuses() const {
  std::lock_guard lock(mutex_);
  return nexuses_.size();
}

}  // namespace maya::iscsi::testing
