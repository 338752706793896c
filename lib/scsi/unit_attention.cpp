#include "lib/scsi/unit_attention.h"

#include <algorithm>

namespace maya::scsi {

std::string nexus_key(const Nexus& nexus) {
  std::string key;
  key.reserve(nexus.initiator_port.size() + nexus.target_port.size() + 1);
  key += nexus.initiator_port;
  key += '\n';
  key += nexus.target_port;
  return key;
}

void UnitAttentions::count(const Queue& queue, std::ptrdiff_t delta) {
  if (!queue.present || delta == 0) return;
  if (delta > 0) {
    pending_.fetch_add(static_cast<std::size_t>(delta), std::memory_order_release);
  } else {
    pending_.fetch_sub(static_cast<std::size_t>(-delta), std::memory_order_release);
  }
}

void UnitAttentions::add_nexus(const std::string& key, std::optional<Asc> initial) {
  std::lock_guard lock(mutex_);
  Queue& queue = queues_[key];
  if (!queue.present) {
    queue.present = true;
    count(queue, static_cast<std::ptrdiff_t>(queue.conditions.size()));
  }
  if (initial) post_locked(queue, *initial);
}

void UnitAttentions::remove_nexus(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(key);
  if (it == queues_.end()) return;
  count(it->second, -static_cast<std::ptrdiff_t>(it->second.conditions.size()));
  queues_.erase(it);
}

void UnitAttentions::post_locked(Queue& queue, Asc code) {
  auto& q = queue.conditions;
  if (code.code == 0x29) {  // a newer power-on/reset condition supersedes an older one
    const auto before = q.size();
    std::erase_if(q, [](Asc a) { return a.code == 0x29; });
    count(queue, -static_cast<std::ptrdiff_t>(before - q.size()));
  }
  if (std::find(q.begin(), q.end(), code) != q.end()) return;
  if (q.size() >= kMaxQueued) {
    q.pop_front();
    count(queue, -1);
  }
  if (code.code == 0x29) {
    q.push_front(code);  // power-on and reset conditions are reported first
  } else {
    q.push_back(code);
  }
  count(queue, 1);
}

void UnitAttentions::post(const std::string& key, Asc code) {
  std::lock_guard lock(mutex_);
  post_locked(queues_[key], code);
}

void UnitAttentions::post_all(Asc code) {
  std::lock_guard lock(mutex_);
  for (auto& [key, queue] : queues_) {
    if (queue.present) post_locked(queue, code);
  }
}

void UnitAttentions::post_all_except(const std::string& except, Asc code) {
  std::lock_guard lock(mutex_);
  for (auto& [key, queue] : queues_) {
    if (queue.present && key != except) post_locked(queue, code);
  }
}

std::optional<Asc> UnitAttentions::take(const std::string& key) {
  if (!pending()) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = queues_.find(key);
  if (it == queues_.end() || !it->second.present || it->second.conditions.empty()) {
    return std::nullopt;
  }
  const Asc code = it->second.conditions.front();
  it->second.conditions.pop_front();
  count(it->second, -1);
  return code;
}

}  // namespace maya::scsi
