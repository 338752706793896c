#include "lib/target/admission.h"

namespace maya::target {

Admission::Verdict Admission::acquire(const std::string& address) {
  std::lock_guard lock(mutex_);
  if (total_ >= limits_.max_connections) return Verdict::kPortalFull;
  std::size_t& mine = per_address_[address];
  if (mine >= limits_.max_connections_per_address) {
    if (mine == 0) per_address_.erase(address);
    return Verdict::kAddressFull;
  }
  ++mine;
  ++total_;
  return Verdict::kAdmitted;
}

void Admission::release(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto it = per_address_.find(address);
  if (it == per_address_.end() || it->second == 0) return;
  if (--it->second == 0) per_address_.erase(it);
  --total_;
}

std::size_t Admission::count() const {
  std::lock_guard lock(mutex_);
  return total_;
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

}  // namespace maya::target
