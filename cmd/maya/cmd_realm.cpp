// maya realm status: the hosts of this host's realm, read from the realm's store (etcd) itself,
// so that it answers on any host of the realm, with or without a daemon running here.
#include <iostream>

#include "cmd/maya/commands.h"
#include "cmd/maya/table.h"
#include "lib/realm/host_record.h"
#include "lib/realm/realm_config.h"

namespace maya::cli {
namespace {

using nlohmann::json;

constexpr const char* kSummary =
    "A realm is hosts that share one etcd ([realm] name and etcd in the config, written by\n"
    "`maya init --realm NAME --etcd URL`). Each host's daemon registers it with a lease that it\n"
    "keeps alive and publishes its pools; a host that stops renewing is `down` after [realm]\n"
    "lease_ttl.\n\n"
    "  maya realm status    every host: name, id, zone, address, roles, up or down, pools with\n"
    "                       their free space, and volume count (-o json)\n"
    "  maya realm drain HOST    move HOST's replicas to other hosts, so that it can be taken out\n"
    "  maya realm undrain HOST  give HOST back to placement";

std::string pools_text(const realm::HostRecord& host) {
  std::string text;
  for (const realm::PoolSpace& p : host.pools) {
    if (!text.empty()) text += ", ";
    text += p.name + " " + spaced_size(p.free_bytes) + " free";
    if (p.state != "online") text += " (" + p.state + ")";
  }
  return text.empty() ? "-" : text;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ",") + item;
  return text.empty() ? "-" : text;
}

int status(Globals& globals, const Args& args) {
  Parsed parsed = parse({"realm status", "maya realm status [-o table|json]", kSummary,
                         "maya realm status\nmaya realm status -o json | jq '.hosts[].state'"},
                        po::options_description("Options"), {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  auto cfg = load_config(globals);
  if (!cfg) return 1;
  auto store = realm::open_store(*cfg);
  if (!store) return error(store.error().message);
  const realm::RealmKeys keys(cfg->realm_name);
  auto list = realm::list_hosts(**store, keys);
  if (!list) return error(list.error().message);
  if (json_output(globals)) {
    json hosts = json::array();
    for (const auto& h : list->hosts) {
      json host = realm::host_json(h.record);
      host["state"] = h.up ? "up" : "down";
      if (h.draining) host["draining"] = realm::drain_json(*h.draining);
      hosts.push_back(host);
    }
    json out{{"realm", cfg->realm_name}, {"hosts", hosts}};
    if (!list->errors.empty()) out["errors"] = list->errors;
    print_json(out);
    return 0;
  }
  std::cout << "realm " << cfg->realm_name << ": " << list->hosts.size() << " host"
            << (list->hosts.size() == 1 ? "" : "s") << "\n\n";
  Table table({"NAME", "ID", "ZONE", "ADDRESS", "ROLES", "STATE", "POOLS", "VOLUMES"});
  for (const auto& h : list->hosts) {
    const auto& r = h.record;
    table.add({r.name, r.id, r.zone.empty() ? "-" : r.zone, r.address.empty() ? "-" : r.address,
               joined(r.roles),
               std::string(h.up ? "up" : "down") + (h.draining ? ", draining" : ""), pools_text(r),
               std::to_string(r.volumes)});
  }
  table.print(std::cout);
  for (const std::string& e : list->errors)
    std::cerr << "maya: unreadable host record " << e << "\n";
  return 0;
}

}  // namespace

int cmd_realm(Globals& globals, const Args& args) {
  if (auto help = help_redirect(args)) return cmd_realm(globals, *help);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << "Usage: maya realm status|drain|undrain ...\n\n"
              << kSummary << "\n\nExample:\n  maya realm status\n";
    return args.empty() ? kExitUsage : 0;
  }
  Args rest(args.begin() + 1, args.end());
  if (args[0] == "status") return status(globals, rest);
  if (args[0] == "drain") return cmd_realm_drain(globals, rest, false);
  if (args[0] == "undrain") return cmd_realm_drain(globals, rest, true);
  return usage_error("realm", "unknown realm command \"" + args[0] + "\"");
}

}  // namespace maya::cli
