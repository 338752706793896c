#include "drivers/pools/replica_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>

#include "drivers/volume_spec.h"
#include "lib/common/errno_text.h"
#include "lib/common/fd.h"
#include "lib/common/files.h"
#include "lib/common/names.h"
#include "lib/common/size.h"
#include "lib/common/time_format.h"

namespace maya::drivers::pools {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kData = "data.img";
constexpr const char* kMeta = "pool-replica.json";
constexpr std::uint64_t kAlign = 4096;

// Sizes the new file and, for a thick replica, allocates every block; fsyncs. ENOSPC names the
// pool's free space.
Result<void> make_data(const fs::path& data, std::uint64_t size, bool thin,
                       const std::string& pool) {
  Fd fd(::open(data.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) return fail_errno("cannot create " + data.string());
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
    return fail_errno("cannot size " + data.string());
  if (!thin && ::fallocate(fd.get(), 0, 0, static_cast<off_t>(size)) != 0) {
    const int err = errno;
    if (err != ENOSPC) return fail_errno("cannot allocate " + data.string(), err);
    struct statvfs st {};
    std::string free = "?";
    if (::statvfs(data.parent_path().c_str(), &st) == 0)
      free = format_size_approx(std::uint64_t(st.f_bavail) * st.f_frsize);
    return fail("pool " + pool + " has " + free + " free: a thick replica of " +
                format_size_approx(size) + " does not fit (a --thin one takes space as written)");
  }
  if (::fsync(fd.get()) != 0) return fail_errno("cannot fsync " + data.string());
  return {};
}

}  // namespace

Result<void> validate_replica_name(const std::string& name) {
  if (auto valid = validate_volume_name(name); !valid) {
    std::string message = valid.error().message;
    if (auto at = message.find("volume name"); at != std::string::npos)
      message.replace(at, 11, "replica name");
    return fail(message);
  }
  return {};
}

Result<void> validate_replica_ref(const std::string& name) {
  const auto at = name.find('@');
  if (at == std::string::npos) return validate_replica_name(name);
  MAYA_TRY_VOID(validate_replica_name(name.substr(0, at)));
  return validate_replica_name(name.substr(at + 1));
}

json replica_json(const PoolReplica& r) {
  return {{"pool", r.pool},
          {"name", r.name},
          {"thin", r.thin},
          {"size_bytes", r.size_bytes},
          {"allocated_bytes", r.allocated_bytes},
          {"created", r.created},
          {"path", r.path.string()},
          {"volume", r.volume.empty() ? json() : json(r.volume)}};
}

Result<PoolReplica> ReplicaStore::create(const std::string& name, std::uint64_t size_bytes,
                                         bool thin) const {
  MAYA_TRY_VOID(validate_replica_name(name));
  if (size_bytes == 0 || size_bytes % kAlign != 0)
    return fail("replica size " + std::to_string(size_bytes) +
                " bytes: it must be a positive multiple of 4 KiB");
  if (size_bytes > kMaxVolumeBytes)
    return fail("replica size " + format_size_human(size_bytes) + " is above the limit of " +
                format_size_human(kMaxVolumeBytes));
  const fs::path here = dir_ / name;
  std::error_code ec;
  if (fs::exists(here / kMeta, ec)) return fail("replica " + name + " exists in pool " + pool_);
  // What a crash left of an earlier create of this name: never listed, swept now.
  fs::remove_all(here, ec);
  if (ec) return fail("cannot clear " + here.string() + ": " + ec.message());
  MAYA_TRY_VOID(make_dirs(here, 0700));
  const fs::path data = here / kData;
  if (auto made = make_data(data, size_bytes, thin, pool_); !made) {
    fs::remove_all(here, ec);
    return std::unexpected(made.error());
  }
  json meta{{"name", name}, {"size_bytes", size_bytes}, {"thin", thin}, {"created", iso8601()}};
  if (auto put = write_file_atomic(here / kMeta, meta.dump(2) + "\n", 0600); !put) {
    fs::remove_all(here, ec);
    return std::unexpected(put.error());
  }
  // The replica's own directory entry, so that a power loss cannot drop a replica made.
  if (Fd parent(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      parent.get() < 0 || ::fsync(parent.get()) != 0)
    return fail_errno("cannot fsync " + dir_.string());
  return read(here);
}

Result<PoolReplica> ReplicaStore::read(const fs::path& replica_dir) const {
  const fs::path file = replica_dir / kMeta;
  MAYA_TRY(text, read_file(file));
  json meta = json::parse(*text, nullptr, false);
  if (meta.is_discarded() || !meta.is_object() || !meta.contains("size_bytes") ||
      !meta["size_bytes"].is_number_unsigned() || !meta.contains("thin") ||
      !meta["thin"].is_boolean())
    return fail(file.string() + " is damaged: expected {\"size_bytes\": N, \"thin\": true|false}");
  PoolReplica r;
  r.pool = pool_;
  r.name = replica_dir.filename().string();
  r.size_bytes = meta["size_bytes"].get<std::uint64_t>();
  r.thin = meta["thin"].get<bool>();
  r.created = meta.value("created", "");
  if (meta.contains("volume") && meta["volume"].is_string())
    r.volume = meta["volume"].get<std::string>();
  r.path = replica_dir / kData;
  r.allocated_bytes = allocated_bytes(r.path);
  return r;
}

Result<std::vector<PoolReplica>> ReplicaStore::list() const {
  std::vector<PoolReplica> all;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return all;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (!entry.is_directory(ec) || !fs::exists(entry.path() / kMeta, ec)) continue;
    MAYA_TRY(replica, read(entry.path()));
    all.push_back(std::move(*replica));
  }
  if (ec) return fail("cannot read " + dir_.string() + ": " + ec.message());
  std::sort(all.begin(), all.end(),
            [](const PoolReplica& a, const PoolReplica& b) { return a.name < b.name; });
  return all;
}

Result<PoolReplica> ReplicaStore::get(const std::string& name) const {
  MAYA_TRY_VOID(validate_replica_ref(name));
  std::error_code ec;
  if (!fs::exists(dir_ / name / kMeta, ec))
    return fail("no replica named " + name + " in pool " + pool_);
  return read(dir_ / name);
}

Result<void> ReplicaStore::destroy(const std::string& name) const {
  MAYA_TRY(replica, get(name));
  const fs::path here = dir_ / name;
  // pool-replica.json first: from here on a crash leaves a directory that is never listed.
  if (::unlink((here / kMeta).c_str()) != 0)
    return fail_errno("cannot remove " + (here / kMeta).string());
  std::error_code ec;
  fs::remove_all(here, ec);
  if (ec) return fail("cannot delete " + here.string() + ": " + ec.message());
  return {};
}

Result<fs::path> ReplicaStore::make_volume_replica(const std::string& volume, const std::string& id,
                                                   std::uint64_t size_bytes, bool thin) const {
  const std::string name = volume + "@" + id;
  MAYA_TRY_VOID(validate_replica_ref(name));
  const fs::path here = dir_ / name;
  std::error_code ec;
  fs::remove_all(here, ec);
  if (ec) return fail("cannot clear " + here.string() + ": " + ec.message());
  MAYA_TRY_VOID(make_dirs(here, 0700));
  json meta{{"name", name},
            {"size_bytes", size_bytes},
            {"thin", thin},
            {"created", iso8601()},
            {"volume", volume}};
  if (auto put = write_file_atomic(here / kMeta, meta.dump(2) + "\n", 0600); !put) {
    fs::remove_all(here, ec);
    return std::unexpected(put.error());
  }
  return here;
}

std::uint64_t ReplicaStore::committed_bytes() const {
  std::uint64_t sum = 0;
  if (auto all = list())
    for (const PoolReplica& r : *all) sum += r.size_bytes;
  return sum;
}

}  // namespace maya::drivers::pools
