#include "lib/iscsi_target/share_serve.h"

#include <signal.h>

#include <cstdio>

#include "lib/block/file_backend.h"
#include "lib/block/joined_backend.h"
#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/size.h"
#include "lib/iscsi_target/serve.h"
#include "lib/iscsi_target/target.h"
#include "lib/process/pidfile.h"
#include "lib/process/signals.h"
#include "lib/replica/remote_layout.h"

namespace maya::iscsi_target {
namespace {

Result<std::unique_ptr<block::BlockBackend>> open_lun(const std::filesystem::path& dir) {
  block::FileBackendOptions journal;
  journal.size = replica::kRemoteJournalBytes;
  journal.create = true;
  MAYA_TRY(head, block::FileBackend::open(dir / replica::kRemoteJournalFile, journal));
  MAYA_TRY(tail, block::FileBackend::open(dir / "data.img"));
  MAYA_TRY(joined, block::JoinedBackend::join(std::move(*head), std::move(*tail)));
  return std::unique_ptr<block::BlockBackend>(std::move(*joined));
}

}  // namespace

int share_serve_main(const ShareServeOptions& options) {
  block_stop_signals();
  if (auto raised = raise_descriptor_limit(); !raised) log::warn(raised.error().message);
  if (options.chap_user.empty() || options.chap_secret.empty()) {
    log::error("share of " + options.dir.string() + ": CHAP credentials are required");
    return 1;
  }
  auto pid = PidFile::acquire(options.dir / kSharePidFile, "a share of " + options.dir.string());
  if (!pid) {
    log::error(pid.error().message);
    return 1;
  }
  auto lun = open_lun(options.dir);
  if (!lun) {
    log::error("share of " + options.dir.string() + ": " + lun.error().message);
    return 1;
  }
  // The fence between volume owners (persistent reservations) outlives this process.
  auto disk = scsi::make_disk(**lun, identity_for(options.iqn));
  const auto store = options.dir / kShareReservations;
  std::string saved;
  if (auto text = read_file(store); text) {
    saved = *text;
  } else if (std::error_code ec; std::filesystem::exists(store, ec)) {
    log::error("share of " + options.dir.string() + ": " + text.error().message);
    return 1;
  }
  if (auto kept = disk->persist_reservations(
          saved,
          [store](const std::string& state) { return write_file_atomic(store, state, 0600); });
      !kept) {
    log::error("share of " + options.dir.string() + ": " + store.string() + ": " +
               kept.error().message + "; the fence cannot be trusted, so the share stays down");
    return 1;
  }
  TargetOptions target_options;
  target_options.listen = options.listen;
  target_options.iqn = options.iqn;
  target_options.chap = {options.chap_user, options.chap_secret, "", ""};
  target_options.discovery_auth = true;
  target_options.limits = {options.max_connections, options.max_connections_per_address};
  auto target = Target::create_with_disk(target_options, *disk);
  if (!target) {
    log::error("share of " + options.dir.string() + ": " + target.error().message);
    return 1;
  }
  log::info("share: serving " + options.dir.string() + " as " + options.iqn + " on " +
            format_endpoint((*target)->endpoint()) + " (" +
            format_size((*lun)->size_bytes() - replica::kRemoteJournalBytes) + " of data)");
  std::printf("serving %s on %s\n", options.iqn.c_str(),
              format_endpoint((*target)->endpoint()).c_str());
  std::fflush(stdout);
  (*target)->start();
  const int sig = wait_for_stop_signal();
  log::info(std::string("share: ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
  (*target)->stop();
  return 0;
}

}  // namespace maya::iscsi_target
