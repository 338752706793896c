// The daemon's two HTTP front doors as the server sees them: the Docker plugin's router and the
// control API's (status, reload, shutdown, volumes, replicas, snapshots), over MemoryVolumes.
#pragma once

#include <string_view>

#include "lib/daemon/control_api.h"
#include "lib/daemon/volume_api.h"
#include "plugin/docker/docker_plugin.h"
#include "tests/fuzz/fake_drivers.h"

namespace maya::fuzz {

struct Routers {
  MemoryVolumes volumes;
  http::Router docker;
  http::Router control;

  Routers()
      : docker(plugin::docker::make_router(*volumes.driver, [this] { return volumes.defaults(); })),
        control(daemon::make_control_router(daemon::ControlHooks{
            .status =
                [] {
                  return nlohmann::json{{"state", "running"}};
                },
            .reload = []() -> Result<nlohmann::json> {
              return nlohmann::json{{"reloaded", true}};
            },
            .shutdown = [](bool) -> Result<void> { return {}; },
        })) {
    daemon::add_volume_routes(control, volumes.driver.get(), [this] { return volumes.defaults(); });
    daemon::add_volume_ops_routes(control, volumes.driver.get());
  }

  // Sends the request where the daemon would: the plugin socket's paths start with a capital.
  http::Response operator()(const http::Request& request) {
    const bool plugin =
        request.target.starts_with("/Plugin.") || request.target.starts_with("/VolumeDriver.");
    return plugin ? docker(request) : control(request);
  }
};

}  // namespace maya::fuzz
