#include "drivers/pools/replica_shares.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <map>
#include <set>

#include "drivers/storage/common/tcp_port.h"
#include "lib/common/errno_text.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/iscsi_target/share_serve.h"
#include "lib/jiva/manifest.h"
#include "lib/process/exec.h"
#include "lib/process/pidfile.h"

namespace maya::drivers::pools {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Letters, digits, '.' and '-' only, lower case: what an IQN may hold.
std::string iqn_part(const std::string& text) {
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : c == '.' ? '.' : '-';
  }
  return out;
}

// Waits until `done` holds, up to `timeout`.
template <typename F>
bool wait_for(F done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

fs::path dir_of(const PoolReplica& replica) {
  return replica.path.parent_path();
}

}  // namespace

Result<std::optional<ShareRecord>> read_share(const fs::path& replica_dir) {
  const fs::path file = replica_dir / kShareFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::optional<ShareRecord>{};
  MAYA_TRY(text, read_file(file));
  const json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("iqn") || !j["iqn"].is_string() ||
      !j.contains("port") || !j["port"].is_number_unsigned() || j["port"].get<unsigned>() == 0 ||
      j["port"].get<unsigned>() > 65535 || !j.contains("user") || !j["user"].is_string() ||
      !j.contains("secret") || !j["secret"].is_string())
    return fail(file.string() +
                " is damaged: expected {\"iqn\", \"port\", \"user\", \"secret\"}; `maya replica "
                "unshare` removes it");
  ShareRecord r;
  r.iqn = j["iqn"].get<std::string>();
  r.port = static_cast<std::uint16_t>(j["port"].get<unsigned>());
  r.user = j["user"].get<std::string>();
  r.secret = j["secret"].get<std::string>();
  return std::optional<ShareRecord>(std::move(r));
}

json share_json(const ShareInfo& s, bool with_secret) {
  json j{{"uri", s.uri},
         {"iqn", s.record.iqn},
         {"port", s.record.port},
         {"user", s.record.user},
         {"running", s.running}};
  if (with_secret) j["uri_with_secret"] = s.uri_with_secret;
  return j;
}

ReplicaShares::ReplicaShares(PoolService& pools, Options options, bool threaded)
    : pools_(pools), options_(std::move(options)) {
  if (!threaded) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(stop_mutex_);
    while (!stop_) {
      lock.unlock();
      keep();
      lock.lock();
      wake_.wait_for(lock, options_.keep_interval, [this] { return stop_; });
    }
  });
}

ReplicaShares::~ReplicaShares() {
  {
    std::lock_guard lock(stop_mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ShareInfo ReplicaShares::describe(const PoolReplica& replica, const ShareRecord& record) const {
  ShareInfo s;
  s.pool = replica.pool;
  s.name = replica.name;
  s.record = record;
  std::string host = options_.advertise.empty() ? options_.address : options_.advertise;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  const std::string where = host + ":" + std::to_string(record.port) + "/" + record.iqn + "/0";
  s.uri = "iscsi://" + record.user + "@" + where;
  s.uri_with_secret = "iscsi://" + record.user + ":" + record.secret + "@" + where;
  const auto holder = PidFile::holder(dir_of(replica) / iscsi_target::kSharePidFile);
  s.running = holder && *holder > 0;
  return s;
}

std::optional<ShareInfo> ReplicaShares::share_of(const PoolReplica& replica) const {
  auto record = read_share(dir_of(replica));
  if (!record || !*record) return std::nullopt;
  return describe(replica, **record);
}

Result<std::uint16_t> ReplicaShares::free_port() {
  std::set<std::uint16_t> used;
  if (auto all = pools_.list_replicas(""))
    for (const PoolReplica& r : *all)
      if (auto record = read_share(dir_of(r)); record && *record) used.insert((*record)->port);
  for (unsigned p = options_.port_first; p <= options_.port_last; ++p) {
    const auto port = static_cast<std::uint16_t>(p);
    if (!used.contains(port) && tcp_bindable(options_.address, port)) return port;
  }
  return fail("no free port left in [iscsi] share_ports " + std::to_string(options_.port_first) +
              "-" + std::to_string(options_.port_last) + "; widen the range");
}

Result<void> ReplicaShares::start_server(const fs::path& replica_dir, const std::string& what) {
  std::vector<std::string> argv = options_.serve_command;
  argv.insert(argv.end(), {"--dir", replica_dir.string()});
  MAYA_TRY(pid, spawn_detached(argv, replica_dir / "share.log"));
  MAYA_TRY(record, read_share(replica_dir));
  const std::uint16_t port = *record ? (*record)->port : 0;
  // Until it listens, it is reaped here (a server that exits at once is seen at once, and a
  // pid is never signalled after it was reaped); then a thread of its own reaps it.
  bool exited = false;
  const bool up = wait_for(
      [&] {
        if (::waitpid(*pid, nullptr, WNOHANG) == *pid) return exited = true;
        const auto holder = PidFile::holder(replica_dir / iscsi_target::kSharePidFile);
        return holder && *holder > 0 && tcp_listening(options_.address, port, 200);
      },
      10s);
  if (up && !exited) {
    std::thread([pid = *pid] {
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }).detach();
    return {};
  }
  if (!exited) {
    ::kill(*pid, SIGKILL);
    while (::waitpid(*pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  std::string tail;
  if (auto log_text = read_file(replica_dir / "share.log")) {
    tail = *log_text;
    while (!tail.empty() && tail.back() == '\n') tail.pop_back();
    if (auto nl = tail.find_last_of('\n'); nl != std::string::npos) tail = tail.substr(nl + 1);
  }
  return fail("the share of " + what +
              (exited ? " exited at its start" : " did not start listening within 10 s") +
              (tail.empty() ? "" : ": " + tail));
}

Result<ShareInfo> ReplicaShares::share(const std::string& pool, const std::string& name,
                                       std::optional<std::uint16_t> port) {
  std::lock_guard lock(mutex_);
  MAYA_TRY(all, pools_.list_replicas(pool));
  auto it =
      std::find_if(all->begin(), all->end(), [&](const PoolReplica& r) { return r.name == name; });
  if (it == all->end()) return fail("no replica named " + name + " in pool " + pool);
  if (!it->volume.empty())
    return fail("replica " + name + " belongs to volume " + it->volume +
                "; share a bare replica (`maya replica create`)");
  const fs::path dir = dir_of(*it);
  MAYA_TRY(existing, read_share(dir));
  if (*existing) {
    if (port && *port != (*existing)->port)
      return fail("replica " + name + " is already shared on port " +
                  std::to_string((*existing)->port) + "; unshare it first");
    ShareInfo info = describe(*it, **existing);
    if (!info.running) {
      MAYA_TRY_VOID(start_server(dir, "replica " + pool + "/" + name));
      info.running = true;
    }
    return info;
  }
  ShareRecord record;
  if (port) {
    if (*port < options_.port_first || *port > options_.port_last)
      return fail("port " + std::to_string(*port) + " is outside [iscsi] share_ports " +
                  std::to_string(options_.port_first) + "-" + std::to_string(options_.port_last));
    if (!tcp_bindable(options_.address, *port))
      return fail("port " + std::to_string(*port) + " is in use on " + options_.address);
    record.port = *port;
  } else {
    MAYA_TRY(free, free_port());
    record.port = *free;
  }
  record.iqn = "iqn.2026-12.io.maya:share." + iqn_part(pool) + "." + iqn_part(name);
  record.user = "share-" + name;
  MAYA_TRY(secret, jiva::random_secret());
  record.secret = *secret;
  const json j{
      {"iqn", record.iqn}, {"port", record.port}, {"user", record.user}, {"secret", record.secret}};
  MAYA_TRY_VOID(write_file_atomic(dir / kShareFile, j.dump(2) + "\n", 0600));
  if (auto started = start_server(dir, "replica " + pool + "/" + name); !started) {
    std::error_code ec;
    fs::remove(dir / kShareFile, ec);
    return std::unexpected(started.error());
  }
  log::info("replica " + pool + "/" + name + " shared as " + record.iqn + " on port " +
            std::to_string(record.port));
  ShareInfo info = describe(*it, record);
  info.running = true;
  return info;
}

Result<void> ReplicaShares::unshare(const std::string& pool, const std::string& name) {
  std::lock_guard lock(mutex_);
  MAYA_TRY(all, pools_.list_replicas(pool));
  auto it =
      std::find_if(all->begin(), all->end(), [&](const PoolReplica& r) { return r.name == name; });
  if (it == all->end()) return fail("no replica named " + name + " in pool " + pool);
  const fs::path dir = dir_of(*it);
  std::error_code ec;
  if (!fs::exists(dir / kShareFile, ec)) return fail("replica " + name + " is not shared");
  // The share file first: keep() no longer starts a server for it.
  if (::unlink((dir / kShareFile).c_str()) != 0)
    return fail_errno("cannot remove " + (dir / kShareFile).string());
  const fs::path pidfile = dir / iscsi_target::kSharePidFile;
  if (auto holder = PidFile::holder(pidfile); holder && *holder > 0) {
    ::kill(*holder, SIGTERM);
    if (!wait_for([&] { return !PidFile::holder(pidfile); }, 5s)) {
      ::kill(*holder, SIGKILL);
      if (!wait_for([&] { return !PidFile::holder(pidfile); }, 2s))
        return fail("the share server of " + name + " (pid " + std::to_string(*holder) +
                    ") does not stop");
    }
  }
  // The fence goes with the share: shared again, the replica is free for any volume owner.
  std::error_code gone;
  fs::remove(dir / iscsi_target::kShareReservations, gone);
  log::info("replica " + pool + "/" + name + " unshared");
  return {};
}

void ReplicaShares::keep() {
  std::lock_guard lock(mutex_);
  auto all = pools_.list_replicas("");
  if (!all) return;
  for (const PoolReplica& r : *all) {
    const fs::path dir = dir_of(r);
    auto record = read_share(dir);
    if (!record) {
      log::warn(record.error().message);
      continue;
    }
    if (!*record) continue;
    const auto holder = PidFile::holder(dir / iscsi_target::kSharePidFile);
    if (holder) {  // running, or starting (0)
      retry_.erase(dir.string());
      continue;
    }
    // One that keeps failing to start is tried again after 2 s, doubling up to a minute.
    auto& retry = retry_[dir.string()];
    const auto now = std::chrono::steady_clock::now();
    if (now < retry.next) continue;
    const std::string what = "replica " + r.pool + "/" + r.name;
    if (auto started = start_server(dir, what); !started) {
      retry.wait = std::min(std::max(retry.wait * 2, std::chrono::milliseconds(2000)),
                            std::chrono::milliseconds(60000));
      retry.next = now + retry.wait;
      log::warn(started.error().message + "; tried again in " +
                std::to_string(retry.wait.count() / 1000) + " s");
    } else {
      retry_.erase(dir.string());
      log::info("the share of " + what + " was not running: started again");
    }
  }
}

}  // namespace maya::drivers::pools
