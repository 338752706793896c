// Docker's legacy VolumeDriver protocol (HTTP/JSON on /run/docker/plugins/maya.sock), as an
// adapter onto a VolumeDriver. Endpoints: /Plugin.Activate and /VolumeDriver.{Create, Remove,
// Mount, Unmount, Path, Get, List, Capabilities}; errors are {"Err": "one sentence"}.
#pragma once

#include <functional>

#include "drivers/volume/volume_json.h"
#include "drivers/volume_driver.h"
#include "lib/config/config.h"
#include "lib/http/message.h"
#include "lib/http/router.h"

namespace maya::plugin::docker {

// Docker's error shape, for requests the HTTP server refuses itself (too large, malformed).
http::Response docker_error(int status, const std::string& message);

// `defaults` is asked on each Create, so a config reload applies to the next volume. `ebs_id`
// fills Status's "ebs_id", as in `maya volume inspect -o json`.
http::Router make_router(drivers::VolumeDriver& driver,
                         std::function<config::VolumeDefaults()> defaults,
                         drivers::EbsIdOf ebs_id = {});

}  // namespace maya::plugin::docker
