#include "lib/iscsi_target/serve.h"

#include <signal.h>

#include <cstdio>
#include <ctime>
#include <functional>
#include <string_view>

#include "lib/block/file_backend.h"
#include "lib/common/log.h"
#include "lib/common/size.h"
#include "lib/iscsi_target/target.h"
#include "lib/process/signals.h"

namespace maya::iscsi_target {

scsi::Identity identity_for(std::string_view iqn) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : iqn) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  scsi::Identity id;
  char serial[17];
  std::snprintf(serial, sizeof serial, "%016llx", static_cast<unsigned long long>(h));
  id.serial = serial;
  // NAA 6 (IEEE registered extended), a locally administered company id, then the hash.
  id.naa = (0x6ull << 60) | (h & 0x0fffffffffffffffull);
  return id;
}

Result<std::unique_ptr<Target>> Target::create(const TargetOptions& options,
                                               block::BlockBackend& backend,
                                               scsi::Identity identity) {
  if (identity.serial.empty() && identity.naa == 0) identity = identity_for(options.iqn);
  auto disk = scsi::make_disk(backend, std::move(identity));
  if (!disk) return fail("cannot create the SCSI disk");
  MAYA_TRY(target, create_with_disk(options, *disk));
  (*target)->owned_disk_ = std::move(disk);
  return std::move(*target);
}

int serve_main(const ServeOptions& options) {
  block_stop_signals();  // taken synchronously below; blocked before any thread starts
  if (auto raised = raise_descriptor_limit(); !raised) log::warn(raised.error().message);

  block::FileBackendOptions file_options;
  file_options.size = options.size;
  file_options.create = options.size.has_value();
  file_options.block_size = options.block_size;
  auto backend = block::FileBackend::open(options.backing, file_options);
  if (!backend) {
    log::error(backend.error().message);
    return 1;
  }
  TargetOptions target_options;
  target_options.listen = options.listen;
  target_options.iqn = options.iqn;
  target_options.chap = {options.chap_user, options.chap_secret, options.mutual_user,
                         options.mutual_secret};
  target_options.limits = {options.max_connections, options.max_connections_per_address};
  auto target = Target::create(target_options, **backend);
  if (!target) {
    log::error(target.error().message);
    return 1;
  }
  std::printf("serving %s on %s (LUN 0: %s, %s)\n", options.iqn.c_str(),
              format_endpoint((*target)->endpoint()).c_str(), options.backing.c_str(),
              format_size((*backend)->size_bytes()).c_str());
  std::fflush(stdout);
  log::info("iscsi: serving " + options.iqn + " on " + format_endpoint((*target)->endpoint()));
  (*target)->start();

  int sig = wait_for_stop_signal();
  log::info(std::string("iscsi: ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
  (*target)->stop();
  return 0;
}

}  // namespace maya::iscsi_target
