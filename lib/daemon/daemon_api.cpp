// The EBS-compatible API on [api] listen (TCP), served when [roles] orchestration = true. A port
// that cannot be bound (another program holds it) does not stop the daemon: the reason is logged
// and `maya status` shows it.
//
// The API's catalog (which EBS id names which volume, in the state directory) is the daemon's
// whether or not the API is served: `maya volume inspect` shows a volume's id either way, and
// it is the id DescribeVolumes shows once the API is turned on.
#include "lib/common/log.h"
#include "lib/daemon/daemon_server.h"
#include "lib/daemon/realm_requests.h"
#include "lib/ebs/api.h"

namespace maya::daemon {

// The instance's zone: [api] zone; in a realm the host's zone ([host] zone, which defaults to
// it), since the realm's zones are its hosts' (CreateVolume's AvailabilityZone picks one).
std::string Daemon::api_zone() const {
  return config_.in_realm() ? config_.host_zone : config_.api_zone;
}

void Daemon::make_api() {
  if (!volumes_ && !config_.role_orchestration) return;  // no volumes, no API: no ids to give
  ebs::ApiSettings settings{
      {config_.host_id, config_.api_region, api_zone()},
      config_.api_credentials,
      config_.api_max_clock_skew,
      config_.state_dir,
      config_.dev_dir,
  };
  // In a realm: its hosts are the API's instances; requests for them go through etcd.
  if (realm_) {
    realm_ebs_ = std::make_unique<RealmEbsLink>(*realm_, config_.host_id);
    settings.realm = realm_ebs_.get();
  }
  api_ = std::make_unique<ebs::Api>(std::move(settings), volumes_.get(),
                                    [this] { return volume_defaults(); });
}

drivers::EbsIdOf Daemon::ebs_ids() const {
  if (!api_) return {};
  return [api = api_.get()](const drivers::VolumeInfo& v) {
    return api->volume_id(v.spec.name, v.created, v.realm_ebs_id);
  };
}

void Daemon::open_api() {
  if (!config_.role_orchestration) {
    api_error_ = "not served: [roles] orchestration = false";
    return;
  }
  http::ServerOptions options;
  options.body_limit = ebs::kApiBodyLimit;
  options.make_error = ebs::server_error;
  options.workers = 4;
  auto server = http::TcpServer::listen(
      io_, config_.api_listen.host, config_.api_listen.port, options,
      counted(front_doors_.ebs, [api = api_.get()](const http::Request& r) { return (*api)(r); }));
  if (!server) {
    api_error_ = "not served: " + server.error().message;
    log::error("EBS-compatible API " + api_error_);
    return;
  }
  api_server_ = std::move(*server);
}

nlohmann::json Daemon::api_json() const {
  if (api_server_)
    return {{"served", true},
            {"endpoint", "http://" + api_server_->endpoint()},
            {"region", config_.api_region},
            {"zone", api_zone()},
            {"credentials", config_.api_credentials.string()}};
  return {{"served", false}, {"reason", api_error_}};
}

}  // namespace maya::daemon
