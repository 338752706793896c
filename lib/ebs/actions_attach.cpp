// AttachVolume and DetachVolume: the volume as a block device on this host
// (VolumeService::attach, as `maya volume attach`), never mounted, with stable links
// <dev>/<vol-id> and <dev>/by-name/<name>. The instance is this host (its id is the host id);
// other instances come with multi-host support, behind host_of() below.
#include <unistd.h>

#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/ebs/actions.h"

namespace maya::ebs {
namespace {

namespace fs = std::filesystem;

// The host an instance id names: only this one today.
ApiResult<void> host_of(const Backend& b, const std::string& instance_id) {
  if (instance_id != b.settings.identity.instance_id)
    return api_fail(errors::instance_not_found(instance_id));
  return {};
}

// Points `link` at `target`, replacing what was there in one rename.
Result<void> replace_link(const fs::path& link, const fs::path& target) {
  MAYA_TRY_VOID(make_dirs(link.parent_path(), 0755));
  fs::path tmp = link.parent_path() / ("." + link.filename().string() + ".new");
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp, ec);
  if (!ec) fs::rename(tmp, link, ec);
  if (ec)
    return fail("cannot link " + link.string() + " to " + target.string() + ": " + ec.message());
  return {};
}

void remove_links(const ApiSettings& s, const VolumeEntry& e) {
  std::error_code ec;
  fs::remove(s.dev_dir / e.id, ec);
  fs::remove(s.dev_dir / "by-name" / e.name, ec);
}

void write_attachment(XmlWriter& out, const VolumeEntry& e, const std::string& state) {
  out.timestamp("attachTime", e.attach_time);
  out.text("device", e.device);
  out.text("instanceId", e.instance_id);
  out.text("status", state);
  out.text("volumeId", e.id);
  out.boolean("deleteOnTermination", false);
}

}  // namespace

ApiResult<void> attach_volume(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"Device", "InstanceId", "VolumeId"})) return api_fail(*unknown);
  auto device = q.require("Device");
  if (!device) return api_fail(device.error());
  auto instance = q.require("InstanceId");
  if (!instance) return api_fail(instance.error());
  auto id = q.require("VolumeId");
  if (!id) return api_fail(id.error());
  auto volume = find_volume(b, *id);
  if (!volume) return api_fail(volume.error());
  if (auto host = host_of(b, *instance); !host) return api_fail(host.error());
  if (volume->info->state == "mounted")
    return api_fail(errors::volume_in_use(*id, "it is mounted for containers (Docker)"));
  if (volume->info->state == "attached")
    return api_fail(errors::volume_in_use(*id, "it is already attached to " + *instance));
  if (volume->info->state != "detached")
    return api_fail(errors::incorrect_state(
        "volume " + *id + " is " + volume->info->state +
        (volume->info->error.empty() ? std::string() : ": " + volume->info->error)));

  auto path = b.volumes->attach(volume->entry.name);
  if (!path) return api_fail(service_error(path.error()));
  for (const fs::path& link :
       {b.settings.dev_dir / *id, b.settings.dev_dir / "by-name" / volume->entry.name}) {
    if (auto linked = replace_link(link, *path); !linked) {
      log::warn("volume " + volume->entry.name + ": " + linked.error().message);
      if (auto undone = b.volumes->detach(volume->entry.name); !undone)
        log::warn("volume " + volume->entry.name + ": " + undone.error().message);
      return api_fail(errors::internal_error(linked.error().message));
    }
  }
  std::lock_guard lock(b.catalog_mutex);
  VolumeEntry* entry = b.catalog.volume_by_id(*id);
  if (entry == nullptr) return api_fail(errors::volume_not_found(*id));
  entry->device = *device;
  entry->instance_id = *instance;
  entry->attach_time = std::chrono::system_clock::now();
  if (auto ok = save_catalog(b); !ok) return api_fail(ok.error());
  log::info("EBS API: volume " + entry->name + " (" + *id + ") attached as " + path->string());
  write_attachment(out, *entry, "attaching");
  return {};
}

ApiResult<void> detach_volume(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"Device", "Force", "InstanceId", "VolumeId"}))
    return api_fail(*unknown);
  auto id = q.require("VolumeId");
  if (!id) return api_fail(id.error());
  auto force = q.boolean("Force");
  if (!force) return api_fail(force.error());
  auto volume = find_volume(b, *id);
  if (!volume) return api_fail(volume.error());
  const std::string instance = q.get("InstanceId").value_or(b.settings.identity.instance_id);
  if (auto host = host_of(b, instance); !host) return api_fail(host.error());
  if (volume->info->state == "mounted")
    return api_fail(errors::volume_in_use(
        *id, "it is mounted for containers (Docker), not attached through this API"));
  if (volume->info->state != "attached")
    return api_fail(errors::incorrect_state("volume " + *id + " is in the '" +
                                            volume_state(*volume) + "' state"));
  VolumeEntry entry = volume->entry;
  if (auto device = q.get("Device"); device && !entry.device.empty() && *device != entry.device)
    return api_fail(errors::attachment_not_found(*id, instance));
  // The service refuses a device that is mounted or open (naming who holds it). Force never
  // pulls it from under them either: they keep it until they close it (mounts here are
  // unmounted lazily), then the kernel releases it and the next look finishes the detach.
  std::vector<std::string> holders;
  if (force->value_or(false)) {
    auto waiting = b.volumes->detach_when_released(entry.name);
    if (!waiting) return api_fail(errors::volume_in_use(*id, waiting.error().message));
    holders = std::move(*waiting);
  } else if (auto detached = b.volumes->detach(entry.name); !detached) {
    return api_fail(errors::volume_in_use(*id, detached.error().message));
  }
  remove_links(b.settings, entry);
  std::lock_guard lock(b.catalog_mutex);
  if (VolumeEntry* e = b.catalog.volume_by_id(*id)) {
    e->detaching = !holders.empty();
    if (!e->detaching) {
      e->device.clear();
      e->instance_id.clear();
    }
    if (auto ok = save_catalog(b); !ok) return api_fail(ok.error());
  }
  if (entry.instance_id.empty()) entry.instance_id = instance;
  std::string who;
  for (const std::string& h : holders) who += (who.empty() ? "" : "; ") + h;
  if (holders.empty())
    log::info("EBS API: volume " + entry.name + " (" + *id + ") detached");
  else
    log::warn("EBS API: volume " + entry.name + " (" + *id +
              ") detached by force; it becomes available once its device is released by its "
              "holders: " +
              who);
  write_attachment(out, entry, "detaching");
  return {};
}

}  // namespace maya::ebs
