#include "lib/daemon/pool_api.h"

#include "lib/daemon/control_api.h"

namespace maya::daemon {

using drivers::pools::pool_json;
using nlohmann::json;

void add_pool_routes(http::Router& router, drivers::pools::PoolService* pools) {
  using http::Request;
  auto guarded = [pools](auto body) {
    return [pools, body](const Request& request, const std::string& name) {
      if (pools == nullptr)
        return json_error(409, "this host has no storage role ([roles] storage = false)");
      return body(request, name);
    };
  };
  router.add("GET", "/v1/pools", guarded([pools](const Request&, const std::string&) {
               auto all = pools->list();
               if (!all) return json_error(500, all.error().message);
               json list = json::array();
               for (const auto& p : *all) list.push_back(pool_json(p));
               return json_response(200, {{"pools", list}});
             }));
  router.add("POST", "/v1/pools", guarded([pools](const Request& r, const std::string&) {
               json body = json::parse(r.body, nullptr, false);
               if (body.is_discarded() || !body.is_object() || !body.contains("name") ||
                   !body["name"].is_string() || !body.contains("disks") ||
                   !body["disks"].is_array())
                 return json_error(400, "expected {\"name\": \"…\", \"disks\": [\"…\"]}");
               std::vector<std::string> disks;
               for (const json& d : body["disks"]) {
                 if (!d.is_string()) return json_error(400, "disks must be strings");
                 disks.push_back(d.get<std::string>());
               }
               const bool force = body.value("force", false);
               auto created = pools->create(body["name"].get<std::string>(), disks, force);
               if (!created) return json_error(400, created.error().message);
               return json_response(201, pool_json(*created));
             }));
  router.add("GET", "/v1/pools/{name}", guarded([pools](const Request&, const std::string& name) {
               auto pool = pools->get(name);
               if (!pool) return json_error(404, pool.error().message);
               return json_response(200, pool_json(*pool));
             }));
  router.add(
      "DELETE", "/v1/pools/{name}", guarded([pools](const Request& r, const std::string& name) {
        bool force = r.target.find("force=true") != std::string::npos;
        auto destroyed = pools->destroy(name, force);
        if (!destroyed) return json_error(400, destroyed.error().message);
        return json_response(
            200, {{"destroyed", name},
                  {"deleted", destroyed->deleted},
                  {"detached", destroyed->detached.empty() ? json() : json(destroyed->detached)}});
      }));
}

}  // namespace maya::daemon
