// The command groups of `maya`; each takes the arguments after its name.
#pragma once

#include <string>
#include <vector>

#include "cmd/maya/cli.h"

namespace maya::cli {

using Args = std::vector<std::string>;

int cmd_init(Globals& globals, const Args& args);
int cmd_load(Globals& globals, const Args& args);
int cmd_status(Globals& globals, const Args& args);
int cmd_unload(Globals& globals, const Args& args);
int cmd_target(Globals& globals, const Args& args);
// maya pool create|list|inspect|destroy (cmd_pool.cpp).
int cmd_pool(Globals& globals, const Args& args);
// maya replica create|list|destroy: bare replicas in pools (cmd_replica.cpp).
int cmd_replica(Globals& globals, const Args& args);
int cmd_volume(Globals& globals, const Args& args);
// maya realm status: the hosts of this host's realm, from etcd (cmd_realm.cpp).
int cmd_realm(Globals& globals, const Args& args);
// maya realm drain|undrain HOST (cmd_realm_drain.cpp); `undo`: undrain.
int cmd_realm_drain(Globals& globals, const Args& args, bool undo);
// maya snapshot list|delete: snapshots of every volume, deleted ones too (cmd_snapshot.cpp).
int cmd_snapshot(Globals& globals, const Args& args);
// maya volume replica|rebuild|snapshot (cmd_volume_ops.cpp).
int cmd_volume_ops(Globals& globals, const std::string& verb, const Args& args);
// maya volume stats NAME: IOPS, throughput and latency over an interval (cmd_volume_stats.cpp).
int volume_stats(Globals& globals, const Args& args);

}  // namespace maya::cli
