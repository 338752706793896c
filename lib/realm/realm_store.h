// The realm's store: what maya asks of etcd, and nothing more. Keys and values are plain bytes
// (JSON documents by convention); revisions are etcd's. Everything the realm needs of a
// consistent store is here: reads, a conditional write (create-if-absent, replace-if-unchanged),
// leases (liveness and attachment ownership) and a bounded wait for changes (a watch).
//
// Errors: a store that cannot be reached (no endpoint answers within the timeout) fails with a
// message that starts "realm store unreachable: " and the cause ECONNREFUSED or ETIMEDOUT, so
// that callers and users can tell "etcd is down" from "etcd said no".
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/common/result.h"

namespace maya::realm {

using LeaseId = std::int64_t;  // 0: no lease

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;  // the revision to pass to replace()/remove()
  LeaseId lease = 0;
};

// A listing and the store's revision when it was read (a wait_changes() starts after it).
struct Listing {
  std::vector<KeyValue> items;  // sorted by key
  std::int64_t revision = 0;
};

class RealmStore {
 public:
  virtual ~RealmStore() = default;

  virtual Result<std::optional<KeyValue>> get(std::string_view key) = 0;
  // Every key that starts with `prefix`.
  virtual Result<Listing> list(std::string_view prefix) = 0;

  // Writes unconditionally; with a lease, the key goes when the lease does.
  virtual Result<void> put(std::string_view key, std::string_view value, LeaseId lease = 0) = 0;
  // Writes only when the key does not exist: false when it does (nothing written).
  virtual Result<bool> create(std::string_view key, std::string_view value, LeaseId lease = 0) = 0;
  // Writes only when the key's mod_revision is still `mod_revision`: false when another writer
  // came first or the key is gone (nothing written).
  virtual Result<bool> replace(std::string_view key, std::string_view value,
                               std::int64_t mod_revision, LeaseId lease = 0) = 0;
  // Deletes the key; with mod_revision != 0 only when it is unchanged. False: nothing deleted.
  virtual Result<bool> remove(std::string_view key, std::int64_t mod_revision = 0) = 0;

  // A lease of `ttl`; keys put with it go when it is not kept alive.
  virtual Result<LeaseId> grant(std::chrono::seconds ttl) = 0;
  // Renews the lease; returns its TTL. Fails (not "unreachable") when the lease has expired,
  // with the cause ENOENT.
  virtual Result<std::chrono::seconds> keep_alive(LeaseId lease) = 0;
  // Ends the lease and deletes its keys. A lease already gone (expired, revoked) is no error.
  virtual Result<void> revoke(LeaseId lease) = 0;

  // Waits until a key under `prefix` changes after revision `after` (a watch), or `timeout`
  // passes. Returns the revision of the change seen, or `after` when none came. When etcd has
  // compacted history past `after`, changes may have been missed: it returns a newer revision
  // at once, and the caller lists again.
  virtual Result<std::int64_t> wait_changes(std::string_view prefix, std::int64_t after,
                                            std::chrono::milliseconds timeout) = 0;
};

struct EtcdOptions {
  std::vector<std::string> endpoints;       // "http://HOST:PORT"; tried in turn
  std::chrono::milliseconds timeout{3000};  // per request and endpoint
  std::string user;                         // etcd auth; empty: none
  std::string password;
};

// etcd v3 through its JSON gateway (HTTP; see ARCHITECTURE for why not gRPC). Checks the
// endpoints' syntax only: nothing is contacted until the first call.
Result<std::unique_ptr<RealmStore>> open_etcd(const EtcdOptions& options);

}  // namespace maya::realm
