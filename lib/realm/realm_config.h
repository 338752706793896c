// The realm as this host's config describes it: the store to open ([realm] etcd, etcd_user,
// etcd_password_file) and the host's own record ([host] name, id, zone, address; [roles]).
#pragma once

#include <memory>
#include <string>

#include "lib/common/result.h"
#include "lib/config/config.h"
#include "lib/realm/host_record.h"
#include "lib/realm/realm_store.h"

namespace maya::realm {

// The etcd client of the config's realm; the password is read from etcd_password_file.
// Fails when the config names no realm.
Result<std::unique_ptr<RealmStore>> open_store(const config::Config& config);

// The host's record without its pools and volume count (the daemon adds those).
HostRecord host_basics(const config::Config& config);

}  // namespace maya::realm
