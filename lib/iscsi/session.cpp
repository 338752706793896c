#include "lib/iscsi/session.h"

#include <algorithm>
#include <cstdio>

namespace maya::iscsi {

scsi::Nexus make_nexus(const std::string& initiator_name, const Isid& isid,
                       const std::string& target_name, std::uint16_t tpgt) {
  char isid_hex[13];
  std::snprintf(isid_hex, sizeof isid_hex, "%02x%02x%02x%02x%02x%02x", isid[0], isid[1], isid[2],
                isid[3], isid[4], isid[5]);
  char tpgt_hex[5];
  std::snprintf(tpgt_hex, sizeof tpgt_hex, "%04x", tpgt);
  scsi::Nexus n;
  n.initiator_port = initiator_name + ",i,0x" + isid_hex;
  n.target_port = target_name + ",t,0x" + tpgt_hex;
  n.relative_target_port = 1;
  return n;
}

SessionRegistry::Opened SessionRegistry::open(const std::string& initiator_name, const Isid& isid,
                                              bool normal, std::function<void()> stop,
                                              std::uint16_t continue_tsih,
                                              const std::function<bool()>& admit) {
  std::lock_guard lock(mutex_);
  Opened opened;
  if (normal && admit && !admit()) {
    opened.refused = true;
    return opened;
  }
  opened.id = next_id_++;
  if (normal || continue_tsih != 0) {
    // Reinstatement (same initiator and ISID) or continuation (that TSIH): the old goes.
    auto old = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
      return e.isid == isid && e.initiator_name == initiator_name &&
             (continue_tsih != 0 ? e.tsih == continue_tsih : e.normal);
    });
    if (old != entries_.end()) {
      if (old->stop) old->stop();
      entries_.erase(old);
      opened.replaced = true;
      if (continue_tsih != 0) {
        opened.tsih = continue_tsih;
        entries_.push_back(
            Entry{opened.tsih, opened.id, initiator_name, isid, normal, std::move(stop)});
        return opened;
      }
    }
  }
  // TSIH 0 is reserved; skip values still in use after wrap-around.
  for (;;) {
    std::uint16_t candidate = next_tsih_++;
    if (next_tsih_ == 0) next_tsih_ = 1;
    if (candidate == 0) continue;
    bool used = std::any_of(entries_.begin(), entries_.end(),
                            [&](const Entry& e) { return e.tsih == candidate; });
    if (!used) {
      opened.tsih = candidate;
      break;
    }
  }
  entries_.push_back(Entry{opened.tsih, opened.id, initiator_name, isid, normal, std::move(stop)});
  return opened;
}

bool SessionRegistry::exists(std::uint16_t tsih, const std::string& initiator_name,
                             const Isid& isid) const {
  std::lock_guard lock(mutex_);
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.tsih == tsih && e.isid == isid && e.initiator_name == initiator_name;
  });
}

bool SessionRegistry::close(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it =
      std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.id == id; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

void SessionRegistry::stop_all_except(std::uint16_t except) {
  std::lock_guard lock(mutex_);
  for (auto& e : entries_) {
    if (e.tsih != except && e.stop) e.stop();
  }
}

void SessionRegistry::stop_all() {
  stop_all_except(0);
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::size_t SessionRegistry::normal_sessions() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.normal; }));
}

}  // namespace maya::iscsi
