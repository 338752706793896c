// Names that reach the filesystem: volume names are checked here before anything touches a path.
#pragma once

#include <string_view>

#include "lib/common/result.h"

namespace maya {

// [A-Za-z0-9][A-Za-z0-9_.-]{0,62}: no slashes, no "..", not empty, at most 63 characters.
Result<void> validate_volume_name(std::string_view name);
// A realm's name ([realm] name): the same rule. It prefixes every key the realm keeps in etcd.
Result<void> validate_realm_name(std::string_view name);

// An iSCSI name (RFC 3720 3.2.6): "iqn.YYYY-MM.reversed.domain[:anything]", "eui." + 16 hex
// digits or "naa." + 16 or 32 hex digits; at most 223 bytes of [a-z0-9.:-].
Result<void> validate_iscsi_name(std::string_view name);

}  // namespace maya
