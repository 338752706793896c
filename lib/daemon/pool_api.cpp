#include "lib/daemon/pool_api.h"

#include "lib/daemon/control_api.h"

namespace maya::daemon {

using drivers::pools::pool_json;
using drivers::pools::replica_json;
using nlohmann::json;

namespace {

// The value of `key` in the target's query string, as sent (pool names need no decoding: a name
// that would is not a pool's).
std::string query_value(const std::string& target, const std::string& key) {
  const auto q = target.find('?');
  if (q == std::string::npos) return {};
  std::string_view rest(target);
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    if (pair.starts_with(key + "=")) return std::string(pair.substr(key.size() + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace

void add_pool_routes(http::Router& router, drivers::pools::PoolService* pools,
                     drivers::pools::ReplicaShares* shares) {
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

  // Bare replicas: GET /v1/replicas[?pool=P], POST /v1/pools/P/replicas, DELETE
  // /v1/pools/P/replicas/NAME.
  router.add("GET", "/v1/replicas", guarded([pools, shares](const Request& r, const std::string&) {
               const std::string pool = query_value(r.target, "pool");
               auto all = pools->list_replicas(pool);
               if (!all) return json_error(404, all.error().message);
               json list = json::array();
               for (const auto& replica : *all) {
                 json j = replica_json(replica);
                 auto share = shares ? shares->share_of(replica) : std::nullopt;
                 j["share"] = share ? drivers::pools::share_json(*share, false) : json();
                 list.push_back(std::move(j));
               }
               return json_response(200, {{"replicas", list}});
             }));
  router.add("POST", "/v1/pools/{name}/replicas",
             guarded([pools](const Request& r, const std::string& pool) {
               json body = json::parse(r.body, nullptr, false);
               if (body.is_discarded() || !body.is_object() || !body.contains("name") ||
                   !body["name"].is_string() || !body.contains("size_bytes") ||
                   !body["size_bytes"].is_number_unsigned())
                 return json_error(
                     400, "expected {\"name\": \"…\", \"size_bytes\": N, \"thin\": false}");
               auto thin = body.value("thin", json(false));
               if (!thin.is_boolean()) return json_error(400, "thin must be true or false");
               auto created =
                   pools->create_replica(pool, body["name"].get<std::string>(),
                                         body["size_bytes"].get<std::uint64_t>(), thin.get<bool>());
               if (!created) return json_error(400, created.error().message);
               return json_response(201, replica_json(*created));
             }));
  router.add("DELETE", "/v1/pools/{name}/replicas/{replica}",
             guarded([pools](const Request&, const std::string& both) {
               const auto slash = both.find('/');
               const std::string pool = both.substr(0, slash), name = both.substr(slash + 1);
               auto destroyed = pools->destroy_replica(pool, name);
               if (!destroyed) return json_error(400, destroyed.error().message);
               return json_response(200, {{"destroyed", name}, {"pool", pool}});
             }));
  // Shares: POST (share; the answer holds the URI with its secret) and DELETE (unshare).
  const auto split = [](const std::string& param) {
    const auto slash = param.find('/');
    return std::pair{param.substr(0, slash), param.substr(slash + 1)};
  };
  router.add("POST", "/v1/pools/{name}/replicas/{replica}/share",
             guarded([shares, split](const Request& r, const std::string& both) {
               if (shares == nullptr) return json_error(409, "this host shares no replicas");
               const auto [pool, name] = split(both);
               json body = r.body.empty() ? json::object() : json::parse(r.body, nullptr, false);
               if (body.is_discarded() || !body.is_object())
                 return json_error(400, "expected {\"port\": N} or an empty body");
               std::optional<std::uint16_t> port;
               if (body.contains("port") && !body["port"].is_null()) {
                 if (!body["port"].is_number_unsigned() || body["port"].get<std::uint64_t>() == 0 ||
                     body["port"].get<std::uint64_t>() > 65535)
                   return json_error(400, "port must be 1 to 65535");
                 port = static_cast<std::uint16_t>(body["port"].get<std::uint64_t>());
               }
               auto shared = shares->share(pool, name, port);
               if (!shared) return json_error(400, shared.error().message);
               json answer = drivers::pools::share_json(*shared, true);
               answer["pool"] = pool;
               answer["name"] = name;
               return json_response(200, answer);
             }));
  router.add("DELETE", "/v1/pools/{name}/replicas/{replica}/share",
             guarded([shares, split](const Request&, const std::string& both) {
               if (shares == nullptr) return json_error(409, "this host shares no replicas");
               const auto [pool, name] = split(both);
               auto gone = shares->unshare(pool, name);
               if (!gone) return json_error(400, gone.error().message);
               return json_response(200, {{"unshared", name}, {"pool", pool}});
             }));
}

}  // namespace maya::daemon
