// maya pool create|list|inspect|destroy: the disks maya owns (one disk, one pool) and the
// store directory, shown as the pool `default`.
#include <cstdio>
#include <iomanip>
#include <iostream>

#include "cmd/maya/commands.h"
#include "cmd/maya/table.h"
#include "lib/common/size.h"

namespace maya::cli {
namespace {

using nlohmann::json;

constexpr const char* kSummary =
    "Manages pools: a pool is one disk that maya owns, formatted XFS (reflink) and mounted at\n"
    "<state>/pools/NAME. The store directory ([paths] store) is the pool `default`.\n\n"
    "  maya pool create NAME DISK [--force]   one disk, one pool (a file: on a loop device)\n"
    "  maya pool list                          every pool (-o json)\n"
    "  maya pool inspect NAME                  one pool (-o json: the documented object)\n"
    "  maya pool destroy NAME [--force]        unmount it and forget it\n\n"
    "Known pools come back by themselves at `maya load`, found by their UUID wherever their\n"
    "disk now is; a pool whose disk is absent shows `missing`.";

std::string text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string bytes(const json& v, const char* key) {
  if (!v.contains(key) || !v[key].is_number()) return "-";
  return format_size_approx(v[key].get<std::uint64_t>());
}

// "2.3x": how far what is committed exceeds the capacity.
std::string overcommit(std::uint64_t committed, std::uint64_t capacity) {
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.1fx",
                static_cast<double>(committed) / static_cast<double>(capacity));
  return ratio;
}

int create(Globals& globals, const Args& args) {
  std::string name;
  std::vector<std::string> disks;
  po::options_description options("Options");
  options.add_options()("force",
                        "format a disk that holds a signature (a file system, a partition "
                        "table); never one that is mounted, in use, or a known pool's");
  po::options_description hidden;
  hidden.add_options()("name", po::value(&name))("disk", po::value(&disks));
  po::positional_options_description positional;
  positional.add("name", 1).add("disk", -1);
  Parsed parsed = parse(
      {"pool create", "maya pool create NAME DISK [--force]",
       "Makes pool NAME on DISK: one disk, one pool (a second disk is refused). DISK is a block\n"
       "device, or a regular file (for tests), which maya binds to a loop device. A disk that\n"
       "holds any signature is refused unless --force; a mounted or in-use disk, and a disk\n"
       "of a known pool, always. It is formatted XFS with reflink, a fresh UUID and the label\n"
       "NAME (its first 11 characters and ~ past 12), and mounted at <state>/pools/NAME.",
       "maya pool create tpool /dev/loop8\nmaya pool create fast /dev/nvme1n1 --force"},
      options, positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (name.empty() || disks.empty())
    return usage_error("pool create", "it needs a NAME and a DISK");
  if (disks.size() > 1)
    return usage_error("pool create", "one disk, one pool: got " + std::to_string(disks.size()) +
                                          " disks; create one pool per disk");
  json body{{"name", name}, {"disks", disks}, {"force", parsed.vars.count("force") > 0}};
  auto created = call_daemon(globals, "POST", "/v1/pools", body, std::chrono::seconds(360));
  if (!created) return 1;
  return report(globals, *created,
                "pool " + name + " created on " + text((*created)["disk"]) + " (" +
                    bytes(*created, "capacity_bytes") + ", mounted at " +
                    text((*created)["mountpoint"]) + ")");
}

int list(Globals& globals, const Args& args) {
  Parsed parsed = parse({"pool list", "maya pool list [-o table|json]",
                         "Lists every pool: its state (online, missing, faulted), capacity, "
                         "space used and disk.\nUnder the table: why a pool is not online, and "
                         "a pool that thin replicas overcommit.",
                         "maya pool list\nmaya pool list -o json | jq '.[].state'"},
                        po::options_description("Options"), {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  auto answer = call_daemon(globals, "GET", "/v1/pools");
  if (!answer) return 1;
  if (json_output(globals)) {
    print_json((*answer)["pools"]);
    return 0;
  }
  Table table({"NAME", "STATE", "CAPACITY", "USED", "DISKS"});
  for (const json& p : (*answer)["pools"])
    table.add({text(p["name"]), text(p["state"]),
               spaced_size(p.value("capacity_bytes", std::uint64_t{0})),
               spaced_size(p.value("used_bytes", std::uint64_t{0})), text(p["disk"])});
  table.print(std::cout);
  bool first = true;
  for (const json& p : (*answer)["pools"]) {
    const auto capacity = p.value("capacity_bytes", std::uint64_t{0});
    const auto committed = p.value("committed_bytes", std::uint64_t{0});
    std::string note;
    if (!p["error"].is_null())
      note = text(p["state"]) + ": " + text(p["error"]);
    else if (capacity > 0 && committed > capacity)
      note = spaced_size(committed) + " committed to replicas on " + spaced_size(capacity) +
             ": thin replicas overcommit it " + overcommit(committed, capacity);
    if (note.empty()) continue;
    std::cout << (first ? "\n" : "") << text(p["name"]) << ": " << note << "\n";
    first = false;
  }
  return 0;
}

int inspect(Globals& globals, const Args& args) {
  std::string name;
  po::options_description hidden;
  hidden.add_options()("name", po::value(&name));
  po::positional_options_description positional;
  positional.add("name", 1);
  Parsed parsed =
      parse({"pool inspect", "maya pool inspect NAME [-o table|json]",
             "Shows one pool. -o json prints name, kind, state, error, disk, backing_file, "
             "uuid,\nmountpoint, capacity_bytes, used_bytes and committed_bytes.",
             "maya pool inspect tpool -o json | jq .uuid"},
            po::options_description("Options"), positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (name.empty()) return usage_error("pool inspect", "it needs a NAME");
  auto p = call_daemon(globals, "GET", "/v1/pools/" + name);
  if (!p) return 1;
  if (json_output(globals)) {
    print_json(*p);
    return 0;
  }
  auto row = [](const std::string& key, const std::string& value) {
    std::cout << std::left << std::setw(12) << key << value << "\n";
  };
  row("name", text((*p)["name"]));
  row("kind", text((*p)["kind"]));
  row("state", text((*p)["state"]) + ((*p)["error"].is_null() ? "" : ": " + text((*p)["error"])));
  row("disk", text((*p)["disk"]) +
                  ((*p)["backing_file"].is_null() ? "" : " (" + text((*p)["backing_file"]) + ")"));
  row("uuid", text((*p)["uuid"]));
  row("mountpoint", text((*p)["mountpoint"]));
  row("capacity", bytes(*p, "capacity_bytes"));
  row("used", bytes(*p, "used_bytes"));
  row("committed",
      bytes(*p, "committed_bytes") + " (the sizes of its replicas, thin ones in full)");
  return 0;
}

int destroy(Globals& globals, const Args& args) {
  std::string name;
  po::options_description options("Options");
  options.add_options()("force", "delete what the pool holds, and destroy a faulted pool");
  po::options_description hidden;
  hidden.add_options()("name", po::value(&name));
  po::positional_options_description positional;
  positional.add("name", 1);
  Parsed parsed = parse(
      {"pool destroy", "maya pool destroy NAME [--force]",
       "Unmounts pool NAME, detaches the loop device maya made for it and forgets it; the disk\n"
       "keeps its file system. A pool that holds anything is refused unless --force, which\n"
       "deletes it and names what it deleted. The pool `default` cannot be destroyed.",
       "maya pool destroy tpool"},
      options, positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (name.empty()) return usage_error("pool destroy", "it needs a NAME");
  const bool force = parsed.vars.count("force") > 0;
  auto answer = call_daemon(globals, "DELETE", "/v1/pools/" + name + (force ? "?force=true" : ""));
  if (!answer) return 1;
  if (json_output(globals)) {
    print_json(*answer);
    return 0;
  }
  for (const json& e : (*answer)["deleted"]) std::cout << "deleted " << text(e) << "\n";
  std::cout << "pool " << name << " destroyed"
            << ((*answer)["detached"].is_null() ? ""
                                                : " (detached " + text((*answer)["detached"]) + ")")
            << "\n";
  return 0;
}

}  // namespace

int cmd_pool(Globals& globals, const Args& args) {
  if (auto help = help_redirect(args)) return cmd_pool(globals, *help);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << "Usage: maya pool COMMAND ...\n\n"
              << kSummary
              << "\n\n`maya pool COMMAND --help` shows a command's options and an example.\n"
                 "\nExample:\n  maya pool create tpool /dev/loop8\n  maya pool list\n";
    return args.empty() ? kExitUsage : 0;
  }
  const std::string& verb = args[0];
  Args rest(args.begin() + 1, args.end());
  if (verb == "create") return create(globals, rest);
  if (verb == "list" || verb == "ls") return list(globals, rest);
  if (verb == "inspect") return inspect(globals, rest);
  if (verb == "destroy") return destroy(globals, rest);
  return usage_error("pool", "unknown pool command \"" + verb + "\"");
}

}  // namespace maya::cli
