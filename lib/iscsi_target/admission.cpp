#include "lib/iscsi_target/admission.h"

namespace maya::iscsi_target {

Admission::Verdict Admission::acquire(const std::string& address, bool discovery) {
  std::lock_guard lock(mutex_);
  Pool& pool = pools_[discovery];
  if (pool.total >= pool.limits.max_connections) return Verdict::kPortalFull;
  std::size_t& mine = pool.per_address[address];
  if (mine >= pool.limits.max_connections_per_address) {
    if (mine == 0) pool.per_address.erase(address);
    return Verdict::kAddressFull;
  }
  ++mine;
  ++pool.total;
  return Verdict::kAdmitted;
}

void Admission::release(const std::string& address, bool discovery) {
  std::lock_guard lock(mutex_);
  Pool& pool = pools_[discovery];
  auto it = pool.per_address.find(address);
  if (it == pool.per_address.end() || it->second == 0) return;
  if (--it->second == 0) pool.per_address.erase(it);
  --pool.total;
}

std::size_t Admission::count() const {
  std::lock_guard lock(mutex_);
  return pools_[0].total + pools_[1].total;
}

std::size_t Admission::count(bool discovery) const {
  std::lock_guard lock(mutex_);
  return pools_[discovery].total;
}

bool LogThrottle::allow(std::size_t& held_back) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (logged_ && now - last_ < interval_) {
    ++held_back_;
    return false;
  }
  logged_ = true;
  last_ = now;
  held_back = held_back_;
  held_back_ = 0;
  return true;
}

}  // namespace maya::iscsi_target
