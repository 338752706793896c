// AttachVolume and DetachVolume: the volume as a block device on an instance
// (VolumeService::attach, as `maya volume attach`), never mounted, with stable links
// <dev>/<vol-id> and <dev>/by-name/<name>. The instance is this host (its id is the host id)
// or, in a realm, any live host of it: the request is then written to the realm and that host
// performs it (perform_request, through the same code), as EC2 attaches asynchronously.
#include <unistd.h>

#include "lib/common/files.h"
#include "lib/common/log.h"
#include "lib/common/time_format.h"
#include "lib/ebs/actions.h"

namespace maya::ebs {
namespace {

namespace fs = std::filesystem;

// The instance an id names: this host, or in a realm a host of it that is up.
struct Instance {
  bool here = false;
  std::string zone;
};
ApiResult<Instance> instance_of(const Backend& b, const std::string& instance_id) {
  if (instance_id == b.settings.identity.instance_id)
    return Instance{true, b.settings.identity.zone};
  if (b.settings.realm == nullptr) return api_fail(errors::instance_not_found(instance_id));
  auto instances = b.settings.realm->instances();
  if (!instances) return api_fail(errors::internal_error(instances.error().message));
  for (const RealmInstance& i : *instances) {
    if (i.id != instance_id) continue;
    if (!i.up)
      return api_fail(errors::incorrect_instance_state(
          instance_id, "host " + i.name + " is down (its realm lease expired)"));
    if (!i.storage)
      return api_fail(errors::incorrect_instance_state(
          instance_id, "host " + i.name + " has no storage role: it attaches no volumes"));
    return Instance{false, i.zone};
  }
  return api_fail(errors::instance_not_found(instance_id));
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

ApiError pending_request(const VolumeView& v) {
  return errors::incorrect_state("volume " + v.entry.id + " has an " + v.request->action +
                                 " pending on instance " + v.request->host_id + " (asked through " +
                                 v.request->requested_by + ")");
}

// AttachVolume's checks of the volume's state, wherever it attaches.
ApiResult<void> check_detached(const VolumeView& v, const std::string& instance) {
  const std::string& id = v.entry.id;
  if (v.request) return api_fail(pending_request(v));
  if (v.info->state == "mounted")
    return api_fail(errors::volume_in_use(id, "it is mounted for containers (Docker)"));
  if (v.info->state == "attached")
    return api_fail(errors::volume_in_use(id, "it is already attached to " + instance));
  if (v.info->state == "attached elsewhere")
    return api_fail(errors::volume_in_use(id, "it is attached to " + v.info->realm_attached_id));
  if (v.info->state != "detached")
    return api_fail(
        errors::incorrect_state("volume " + id + " is " + v.info->state +
                                (v.info->error.empty() ? std::string() : ": " + v.info->error)));
  return {};
}

// The attach on this host: the device, its links, the catalog's entry.
ApiResult<VolumeEntry> attach_here(Backend& b, const VolumeView& volume, const std::string& device,
                                   const std::string& instance) {
  const std::string& id = volume.entry.id;
  auto path = b.volumes->attach(volume.entry.name);
  if (!path) return api_fail(service_error(path.error()));
  for (const fs::path& link :
       {b.settings.dev_dir / id, b.settings.dev_dir / "by-name" / volume.entry.name}) {
    if (auto linked = replace_link(link, *path); !linked) {
      log::warn("volume " + volume.entry.name + ": " + linked.error().message);
      if (auto undone = b.volumes->detach(volume.entry.name); !undone)
        log::warn("volume " + volume.entry.name + ": " + undone.error().message);
      return api_fail(errors::internal_error(linked.error().message));
    }
  }
  std::lock_guard lock(b.catalog_mutex);
  VolumeEntry* entry = b.catalog.volume_by_id(id);
  if (entry == nullptr) return api_fail(errors::volume_not_found(id));
  entry->device = device;
  entry->instance_id = instance;
  entry->attach_time = std::chrono::system_clock::now();
  if (auto ok = save_catalog(b); !ok) return api_fail(ok.error());
  log::info("EBS API: volume " + entry->name + " (" + id + ") attached as " + path->string());
  return *entry;
}

// The request for another host of the realm, written for it to perform.
ApiResult<void> ask_instance(Backend& b, const VolumeView& v, RealmRequest request) {
  if (!v.info->realm_generation)
    return api_fail(errors::incorrect_state(
        "volume " + v.entry.id + " is this host's own (storage driver " +
        v.info->spec.storage_driver + ", not the realm's): it attaches on this host only"));
  request.volume = v.entry.name;
  request.volume_id = v.entry.id;
  request.requested_by = b.settings.identity.instance_id;
  request.at = iso8601();
  auto written = b.settings.realm->submit(request);
  if (!written) return api_fail(errors::internal_error(written.error().message));
  if (!*written)
    return api_fail(errors::incorrect_state("volume " + v.entry.id +
                                            " has an attach or detach "
                                            "pending: try again once it is done"));
  log::info("EBS API: volume " + v.entry.name + " (" + v.entry.id + "): " + request.action +
            " asked of instance " + request.host_id);
  return {};
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
  auto target = instance_of(b, *instance);
  if (!target) return api_fail(target.error());
  // A realm volume recorded before zones were kept has none: no zone to mismatch.
  const bool zoned = !volume->info->realm_generation || !volume->info->realm_zone.empty();
  if (b.settings.realm != nullptr && zoned && volume_zone(*volume, b.settings) != target->zone)
    return api_fail(
        errors::zone_mismatch(*id, volume_zone(*volume, b.settings), *instance, target->zone));
  if (auto detached = check_detached(*volume, *instance); !detached)
    return api_fail(detached.error());

  if (!target->here) {
    RealmRequest request;
    request.action = "attach";
    request.host_id = *instance;
    request.device = *device;
    if (auto asked = ask_instance(b, *volume, request); !asked) return api_fail(asked.error());
    VolumeEntry shown = volume->entry;
    shown.device = *device;
    shown.instance_id = *instance;
    shown.attach_time = std::chrono::system_clock::now();
    write_attachment(out, shown, "attaching");
    return {};
  }
  auto entry = attach_here(b, *volume, *device, *instance);
  if (!entry) return api_fail(entry.error());
  write_attachment(out, *entry, "attaching");
  return {};
}

namespace {

// The detach on this host; `instance` as DetachVolume named it (for its answer).
ApiResult<VolumeEntry> detach_here(Backend& b, const VolumeView& volume, bool force,
                                   const std::optional<std::string>& device,
                                   const std::string& instance) {
  const std::string& id = volume.entry.id;
  if (volume.info->state == "mounted")
    return api_fail(errors::volume_in_use(
        id, "it is mounted for containers (Docker), not attached through this API"));
  if (volume.info->state != "attached")
    return api_fail(errors::incorrect_state("volume " + id + " is in the '" + volume_state(volume) +
                                            "' state"));
  VolumeEntry entry = volume.entry;
  if (device && !entry.device.empty() && *device != entry.device)
    return api_fail(errors::attachment_not_found(id, instance));
  // The service refuses a device that is mounted or open (naming who holds it). Force never
  // pulls it from under them either: they keep it until they close it (mounts here are
  // unmounted lazily), then the kernel releases it and the next look finishes the detach.
  std::vector<std::string> holders;
  if (force) {
    auto waiting = b.volumes->detach_when_released(entry.name);
    if (!waiting) return api_fail(errors::volume_in_use(id, waiting.error().message));
    holders = std::move(*waiting);
  } else if (auto detached = b.volumes->detach(entry.name); !detached) {
    return api_fail(errors::volume_in_use(id, detached.error().message));
  }
  remove_links(b.settings, entry);
  std::lock_guard lock(b.catalog_mutex);
  if (VolumeEntry* e = b.catalog.volume_by_id(id)) {
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
    log::info("EBS API: volume " + entry.name + " (" + id + ") detached");
  else
    log::warn("EBS API: volume " + entry.name + " (" + id +
              ") detached by force; it becomes available once its device is released by its "
              "holders: " +
              who);
  return entry;
}

}  // namespace

ApiResult<void> detach_volume(Backend& b, const Query& q, XmlWriter& out) {
  if (auto unknown = q.check_known({"Device", "Force", "InstanceId", "VolumeId"}))
    return api_fail(*unknown);
  auto id = q.require("VolumeId");
  if (!id) return api_fail(id.error());
  auto force = q.boolean("Force");
  if (!force) return api_fail(force.error());
  auto volume = find_volume(b, *id);
  if (!volume) return api_fail(volume.error());
  const bool elsewhere = volume->info->state == "attached elsewhere";
  // Without InstanceId: the instance the volume is attached to.
  const std::string attached_to =
      elsewhere ? volume->info->realm_attached_id : b.settings.identity.instance_id;
  const std::string instance = q.get("InstanceId").value_or(attached_to);
  auto target = instance_of(b, instance);
  if (!target) return api_fail(target.error());
  if (volume->request) return api_fail(pending_request(*volume));
  if (instance != attached_to && (elsewhere || volume->info->state == "attached"))
    return api_fail(errors::attachment_not_found(*id, instance));

  if (elsewhere) {
    // Attached on another host of the realm: that host detaches it.
    RealmRequest request;
    request.action = "detach";
    request.host_id = instance;
    request.device = q.get("Device").value_or("");
    request.force = force->value_or(false);
    if (auto asked = ask_instance(b, *volume, request); !asked) return api_fail(asked.error());
    VolumeEntry shown = volume->entry;
    shown.instance_id = instance;
    shown.device = request.device;
    write_attachment(out, shown, "detaching");
    return {};
  }
  if (!target->here) return api_fail(errors::attachment_not_found(*id, instance));
  auto entry = detach_here(b, *volume, force->value_or(false), q.get("Device"), instance);
  if (!entry) return api_fail(entry.error());
  write_attachment(out, *entry, "detaching");
  return {};
}

ApiResult<void> perform_request(Backend& b, const RealmRequest& request) {
  auto volume = find_volume(b, request.volume_id);
  if (!volume) return api_fail(volume.error());
  if (volume->entry.name != request.volume)
    return api_fail(errors::incorrect_state("volume " + request.volume_id + " is " +
                                            volume->entry.name + " here, not " + request.volume));
  volume->request.reset();  // the request being performed is no obstacle to itself
  const std::string& self = b.settings.identity.instance_id;
  if (request.action == "attach") {
    if (auto detached = check_detached(*volume, self); !detached) return api_fail(detached.error());
    auto entry = attach_here(b, *volume, request.device, self);
    if (!entry) return api_fail(entry.error());
    return {};
  }
  if (request.action == "detach") {
    std::optional<std::string> device;
    if (!request.device.empty()) device = request.device;
    auto entry = detach_here(b, *volume, request.force, device, self);
    if (!entry) return api_fail(entry.error());
    return {};
  }
  return api_fail(errors::invalid_parameter("unknown realm request action " + request.action));
}

}  // namespace maya::ebs
