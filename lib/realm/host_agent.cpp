#include "lib/realm/host_agent.h"

#include <algorithm>
#include <cerrno>

#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/time_format.h"

namespace maya::realm {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

LeaseId saved_lease(const std::filesystem::path& file) {
  auto text = read_file(file);
  if (!text) return 0;
  try {
    return std::stoll(*text);
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

HostAgent::HostAgent(std::unique_ptr<RealmStore> store, std::string realm, std::chrono::seconds ttl,
                     Describe describe, std::filesystem::path lease_file)
    : store_(std::move(store)),
      realm_(std::move(realm)),
      keys_(realm_),
      ttl_(ttl),
      describe_(std::move(describe)),
      lease_file_(std::move(lease_file)) {}

HostAgent::~HostAgent() {
  stop(true);
}

void HostAgent::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void HostAgent::stop(bool revoke) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  if (lease_ == 0) return;
  if (!revoke) {  // kept for the next daemon, which finds it in lease_file_
    lease_ = 0;
    return;
  }
  // Gone at once rather than after the TTL; an unreachable store lets the lease expire.
  if (auto r = store_->revoke(lease_); !r)
    log::warn("realm " + realm_ + ": could not give the host's lease up: " + r.error().message);
  else
    std::filesystem::remove(lease_file_);
  lease_ = 0;
}

json HostAgent::status() const {
  std::lock_guard lock(mutex_);
  json s{{"name", realm_}, {"registered", lease_ != 0}, {"lease_ttl_seconds", ttl_.count()}};
  if (lease_ != 0) s["since"] = since_;
  if (!last_error_.empty()) s["error"] = last_error_;
  return s;
}

bool HostAgent::set_error(const std::string& error) {
  std::lock_guard lock(mutex_);
  if (error != last_error_ && !error.empty()) log::warn("realm " + realm_ + ": " + error);
  last_error_ = error;
  return error.empty();
}

bool HostAgent::wait(std::chrono::milliseconds how_long) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, how_long, [this] { return stopping_; });
}

void HostAgent::run() {
  const auto renew_every = std::max<std::chrono::milliseconds>(1s, ttl_ / 3);
  while (true) {
    const HostRecord host = describe_();
    bool registered;
    {
      std::lock_guard lock(mutex_);
      registered = lease_ != 0;
    }
    bool ok = registered ? keep_alive() : register_host(host);
    if (ok && registered) publish_if_changed(host);
    if (!wait(ok ? renew_every : 1s)) return;
  }
}

bool HostAgent::register_host(const HostRecord& host) {
  const std::string alive_key = keys_.alive(host.id);
  const json alive_value{{"since", iso8601()}, {"name", host.name}};
  LeaseId lease = 0;
  // A restarted daemon (kill -9, a new image) finds its own lease still alive: take it back.
  if (LeaseId saved = saved_lease(lease_file_); saved != 0) {
    auto current = store_->get(alive_key);
    if (!current) return set_error("cannot register: " + current.error().message);
    if (*current && (*current)->lease == saved && store_->keep_alive(saved)) lease = saved;
  }
  if (lease == 0) {
    auto granted = store_->grant(ttl_);
    if (!granted) return set_error("cannot register: " + granted.error().message);
    lease = *granted;
    auto created = store_->create(alive_key, alive_value.dump(), lease);
    if (!created || !*created) {
      (void)store_->revoke(lease);
      return set_error(created
                           ? "host id " + host.id +
                                 " is already alive in the realm: another host runs with this "
                                 "host's id (a copied config?), or a previous daemon's lease has "
                                 "not expired yet; trying again"
                           : "cannot register: " + created.error().message);
    }
    if (auto saved = write_file_atomic(lease_file_, std::to_string(lease) + "\n", 0600); !saved)
      log::warn("realm " + realm_ + ": " + saved.error().message);
  }
  const std::string record = host_json(host).dump();
  if (auto put = store_->put(keys_.host(host.id), record); !put)
    return set_error("cannot publish the host: " + put.error().message);
  std::lock_guard lock(mutex_);
  lease_ = lease;
  published_ = record;
  since_ = iso8601();
  last_error_.clear();
  log::info("realm " + realm_ + ": host " + host.name + " (" + host.id + ") registered, lease " +
            std::to_string(ttl_.count()) + " s");
  return true;
}

bool HostAgent::keep_alive() {
  LeaseId lease;
  {
    std::lock_guard lock(mutex_);
    lease = lease_;
  }
  auto renewed = store_->keep_alive(lease);
  if (renewed) return set_error("");
  if (renewed.error().code != errno_code(ENOENT)) {
    // Unreachable, or an answer that is not "no such lease": keep the lease, etcd back within
    // the TTL still knows it (a dropped lease would drop this host's attachments).
    return set_error(renewed.error().message);
  }
  {
    std::lock_guard lock(mutex_);
    lease_ = 0;
  }
  return set_error("the host's lease was lost (" + renewed.error().message +
                   "); registering again");
}

void HostAgent::publish_if_changed(const HostRecord& host) {
  const std::string record = host_json(host).dump();
  {
    std::lock_guard lock(mutex_);
    if (record == published_) return;
  }
  if (auto put = store_->put(keys_.host(host.id), record); !put) {
    set_error("cannot publish the host: " + put.error().message);
    return;
  }
  std::lock_guard lock(mutex_);
  published_ = record;
}

}  // namespace maya::realm
