// The host's membership in its realm, kept by the daemon: a thread that registers the host
// (its record under hosts/ID, its liveness under alive/ID with a lease of [realm] lease_ttl),
// keeps the lease alive, republishes the record when it changes (pools filling up), and
// registers again, by itself, after etcd was unreachable long enough for the lease to expire.
// Other hosts see this host `down` once its lease expires: a dead, partitioned or frozen host.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "lib/realm/host_record.h"
#include "lib/realm/realm_keys.h"
#include "lib/realm/realm_store.h"

namespace maya::realm {

class HostAgent {
 public:
  // What the host publishes; called on the agent's thread, every few seconds.
  using Describe = std::function<HostRecord()>;

  // `lease_file` keeps the lease's id across a restart (kill -9, a handover to a new image): a
  // daemon that finds its alive key under the lease it saved takes the lease back, where any
  // other holder of the key means a second host runs with this host's id.
  HostAgent(std::unique_ptr<RealmStore> store, std::string realm, std::chrono::seconds ttl,
            Describe describe, std::filesystem::path lease_file);
  ~HostAgent();  // stop(true)
  HostAgent(const HostAgent&) = delete;
  HostAgent& operator=(const HostAgent&) = delete;

  void start();
  // Stops the thread; with `revoke`, gives the lease up so other hosts see this one down at
  // once (a clean unload). A handover to a new image keeps it: the next image registers again.
  void stop(bool revoke);

  // `maya status`: {realm, registered, lease, last_error, since}.
  nlohmann::json status() const;
  // The host's lease while it is registered, else 0: what attachments are held under.
  LeaseId lease() const {
    std::lock_guard lock(mutex_);
    return lease_;
  }
  RealmStore& store() { return *store_; }
  const RealmKeys& keys() const { return keys_; }

 private:
  void run();
  bool register_host(const HostRecord& host);  // false: try again later (last_error_ says why)
  bool keep_alive();                           // false: registered no more, or unreachable
  void publish_if_changed(const HostRecord& host);
  bool set_error(const std::string& error);       // logs a new error; true when `error` is empty
  bool wait(std::chrono::milliseconds how_long);  // false: stopping

  std::unique_ptr<RealmStore> store_;
  const std::string realm_;
  const RealmKeys keys_;
  const std::chrono::seconds ttl_;
  const Describe describe_;
  const std::filesystem::path lease_file_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  LeaseId lease_ = 0;  // 0: not registered
  std::string published_;
  std::string last_error_;
  std::string since_;  // when it last registered (UTC)
  std::thread thread_;
};

}  // namespace maya::realm
