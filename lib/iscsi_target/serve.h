// `maya target serve`: one standalone target on a backing file until SIGINT/SIGTERM.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lib/scsi/scsi_disk.h"

namespace maya::iscsi_target {

struct ServeOptions {
  std::string backing;                     // backing file (created when `size` is given)
  std::string iqn;                         // e.g. iqn.2026-11.io.maya:vol1
  std::string listen = "0.0.0.0:3260";     // "ADDR:PORT" or "[IPv6]:PORT"; port 0 picks one
  std::optional<std::uint64_t> size;       // bytes; creates or grows the file (sparse)
  std::string chap_user, chap_secret;      // initiator must authenticate (optional)
  std::string mutual_user, mutual_secret;  // target authenticates itself too (optional)
  std::uint32_t block_size = 512;
  std::uint32_t max_connections = 64;              // logged-in connections at once
  std::uint32_t max_connections_per_address = 16;  // of those, from one source address
};

// A stable identity per target name: the same IQN keeps its serial and NAA across restarts.
scsi::Identity identity_for(std::string_view iqn);

// Serves until SIGINT or SIGTERM. Prints "serving IQN on ADDR:PORT (LUN 0: FILE, SIZE)" to stdout
// once listening; errors go to the log (lib/common/log.h). Returns the process exit status.
int serve_main(const ServeOptions& options);

}  // namespace maya::iscsi_target
