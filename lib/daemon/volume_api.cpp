#include "lib/daemon/volume_api.h"

#include "drivers/volume/spec_options.h"
#include "lib/common/size.h"
#include "lib/daemon/control_api.h"

namespace maya::daemon {

using nlohmann::json;

void add_volume_routes(http::Router& router, drivers::VolumeDriver* driver,
                       std::function<config::VolumeDefaults()> defaults, drivers::EbsIdOf ebs_id,
                       const VolumeEvents* events) {
  using http::Request;
  auto guarded = [driver](auto body) {
    return [driver, body](const Request& request, const std::string& name) {
      if (driver == nullptr)
        return json_error(409, "this host has no storage role ([roles] storage = false)");
      return body(request, name);
    };
  };
  router.add("GET", "/v1/volumes", guarded([driver, ebs_id](const Request&, const std::string&) {
               auto all = driver->list();
               if (!all) return json_error(500, all.error().message);
               json volumes = json::array();
               for (const auto& v : *all) {
                 volumes.push_back(volume_json(v));
                 drivers::with_ebs_id(volumes.back(), v, ebs_id);
               }
               return json_response(200, {{"volumes", volumes}});
             }));
  router.add(
      "POST", "/v1/volumes", guarded([driver, defaults](const Request& r, const std::string&) {
        json body = json::parse(r.body, nullptr, false);
        if (body.is_discarded() || !body.is_object() || !body.contains("name") ||
            !body["name"].is_string())
          return json_error(400, "expected {\"name\": \"…\", \"opts\": {…}}");
        drivers::VolumeOptions opts;
        if (body.contains("opts") && body["opts"].is_object()) {
          for (const auto& [key, value] : body["opts"].items()) {
            if (!value.is_string()) return json_error(400, "option " + key + " must be a string");
            opts[key] = value.get<std::string>();
          }
        }
        auto spec = drivers::spec_from_options(body["name"].get<std::string>(), opts, defaults());
        if (!spec) return json_error(400, spec.error().message);
        // The realm's takeover of a volume from a dead host (VolumeSpec::claim_remote_replicas):
        // a key of the body, never an option, so that Docker's -o cannot set it.
        if (body.contains("claim_remote_replicas")) {
          if (!body["claim_remote_replicas"].is_boolean())
            return json_error(400, "claim_remote_replicas must be true or false");
          spec->claim_remote_replicas = body["claim_remote_replicas"].get<bool>();
        }
        auto created = driver->create(*spec);
        if (!created) return json_error(400, created.error().message);
        json answer = volume_json(*created);
        answer["warnings"] = created->warnings;
        return json_response(201, answer);
      }));
  router.add("GET", "/v1/volumes/{name}",
             guarded([driver, ebs_id, events](const Request& r, const std::string& name) {
               auto info = driver->get(name);
               if (!info) return json_error(404, info.error().message);
               bool secrets = r.target.find("secrets=true") != std::string::npos;
               json answer = volume_json(*info, secrets);
               drivers::with_ebs_id(answer, *info, ebs_id);
               if (events) {
                 answer["events"] = json::array();
                 for (const auto& e : events->of(name))  // not those of an older namesake
                   if (e.time >= info->created)
                     answer["events"].push_back({{"time", e.time}, {"note", e.note}});
               }
               return json_response(200, answer);
             }));
  router.add("DELETE", "/v1/volumes/{name}",
             guarded([driver](const Request& r, const std::string& name) {
               bool force = r.target.find("force=true") != std::string::npos;
               bool snapshots = r.target.find("snapshots=true") != std::string::npos;
               auto removed = driver->remove(name, force, snapshots);
               if (!removed) return json_error(400, removed.error().message);
               return json_response(200, {{"removed", name}});
             }));
}

}  // namespace maya::daemon
