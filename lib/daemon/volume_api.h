// Volume routes of the control API (what `maya volume …` calls):
//   GET    /v1/volumes                 -> {"volumes": [VOLUME…]}
//   POST   /v1/volumes                 {"name": N, "opts": {key: "value"}} -> 201 VOLUME
//   GET    /v1/volumes/{name}[?secrets=true] -> VOLUME (with chap_credentials)
//   DELETE /v1/volumes/{name}[?force=true] -> {"removed": N}
// VOLUME is the documented `maya volume inspect -o json` object (see README).
#pragma once

#include <functional>

#include <nlohmann/json.hpp>

#include "drivers/volume/volume_json.h"
#include "drivers/volume_driver.h"
#include "drivers/volume_service.h"
#include "lib/config/config.h"
#include "lib/daemon/volume_events.h"
#include "lib/http/router.h"

namespace maya::daemon {

// VOLUME and SNAPSHOT are drivers::volume_json and snapshot_json; CHAP credentials appear only
// with ?secrets=true (the control socket is root's, mode 0600).
using drivers::snapshot_json;
using drivers::volume_json;

// `driver` may be null on a host without the storage role: the routes then say so. `ebs_id`
// fills VOLUME's "ebs_id" (the EBS API's id of it); `events` (which outlives the routes) fills
// one volume's "events": [{"time", "note"}…], what the daemon did to it on its own.
void add_volume_routes(http::Router& router, drivers::VolumeDriver* driver,
                       std::function<config::VolumeDefaults()> defaults,
                       drivers::EbsIdOf ebs_id = {}, const VolumeEvents* events = nullptr);

// Replicas and snapshots of volumes whose storage driver has them (volume_ops_api.cpp):
//   POST   /v1/volumes/{name}/replicas                 -> {"added": ID}
//   DELETE /v1/volumes/{name}/replicas/{id}            -> {"removed": ID}
//   POST   /v1/volumes/{name}/rebuild                  -> {"rebuilding": [ID…]}
//   GET    /v1/volumes/{name}/snapshots                -> {"snapshots": [SNAPSHOT…]}
//   POST   /v1/volumes/{name}/snapshots  {"name": S}   -> 201 SNAPSHOT (once complete)
//   DELETE /v1/volumes/{name}/snapshots/{snap}         -> {"deleted": S}
//   POST   /v1/volumes/{name}/snapshots/{snap}/revert  -> {"reverted": S} (not while mounted)
//   GET    /v1/snapshots                              -> {"snapshots": [SNAPSHOT + volume…]}
//   DELETE /v1/snapshots/{volume}/{snap}              -> {"deleted": "VOLUME@S"}
//   POST   /v1/volumes/{name}/attach|detach           -> {"name": N, "device": D | "detached":
//   true}
// Nothing is added when `volumes` is null (no storage role).
void add_volume_ops_routes(http::Router& router, drivers::VolumeService* volumes);

}  // namespace maya::daemon
