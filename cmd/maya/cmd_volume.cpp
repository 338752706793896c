// maya volume create|list|inspect|delete, and the short form `maya volume NAME [--spec FILE]`.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <vector>

#include "cmd/maya/commands.h"
#include "cmd/maya/table.h"
#include "lib/common/size.h"
#include "lib/daemon/control_client.h"

namespace maya::cli {
namespace {

using nlohmann::json;

constexpr const char* kSummary =
    "Manages volumes through the maya daemon.\n\n"
    "  maya volume create NAME [--size S] [--driver D] [--fstype F] [--replicas N] [--spec FILE]\n"
    "  maya volume NAME [--spec FILE]       create NAME with the default spec (short form)\n"
    "  maya volume list                     all volumes (-o json)\n"
    "  maya volume inspect NAME [--show-secrets]\n"
    "                                       one volume (-o json: the documented object)\n"
    "  maya volume stats NAME [--interval D]  IOPS, throughput, latency percentiles (jiva)\n"
    "  maya volume delete NAME [--force]    delete; --force unmounts a volume in use first,\n"
    "                                       and deletes a broken one (state broken); its\n"
    "                                       snapshots stay (maya snapshot list) unless\n"
    "                                       --with-snapshots\n"
    "  maya volume attach NAME              the volume as a block device on this host (not\n"
    "                                       mounted); prints the device\n"
    "  maya volume detach NAME              release a device made by attach\n"
    "  maya volume create NEW --from VOLUME@SNAPSHOT   a clone of a snapshot\n"
    "  maya volume replica add|remove ...   replicas of a jiva volume\n"
    "  maya volume rebuild NAME [--wait]    bring back replicas that are away\n"
    "  maya volume resize NAME SIZE         grow a volume online (and its mounted file system)\n"
    "  maya volume snapshot create|list|delete|revert ...";

std::string text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// A byte count of the volume JSON for people ("9.3GiB", "10GB (9.3GiB)"); "-" when absent.
std::string human(const json& v, const char* key) {
  if (!v.contains(key) || !v[key].is_number()) return "-";
  return format_size_human(v[key].get<std::uint64_t>());
}

// Whether the volume JSON has a value for `key` (keys that do not apply are null).
bool has(const json& v, const char* key) {
  return v.contains(key) && !v[key].is_null();
}

// REPLICAS of `volume list`: replicas in mode RW of those wanted ("2/3"); "-" for local volumes.
std::string replica_count(const json& v) {
  if (!has(v, "health")) return "-";
  std::size_t rw = 0;
  for (const auto& r : v["replicas"])
    if (r.value("mode", "") == "RW") ++rw;
  return std::to_string(rw) + "/" + text(v["replicas_wanted"]);
}

void print_volume(const json& v) {
  auto row = [](const std::string& key, const std::string& value) {
    std::cout << std::left << std::setw(13) << key << value << "\n";
  };
  row("name", text(v["name"]));
  if (has(v, "ebs_id")) row("ebs id", text(v["ebs_id"]));
  row("driver", text(v["driver"]));
  // "10GB (9.3GiB, 10000000000 bytes, 0B used)", "1GiB (1073741824 bytes, 0B used)"
  std::string size = human(v, "size_bytes");
  const std::string detail =
      text(v["size_bytes"]) + " bytes, " + human(v, "allocated_bytes") + " used)";
  if (size.ends_with(')'))
    size.back() = ',', size += " " + detail;
  else
    size += " (" + detail;
  row("size", size);
  row("state", text(v["state"]) + (v["error"].is_null() ? "" : ": " + text(v["error"])));
  row("mountpoint", text(v["mountpoint"]));
  std::string how = v["attach"].is_null() ? "" : text(v["attach"]);
  if (v.contains("fuse") && v["fuse"].is_object() && !v["fuse"]["transport"].is_null())
    how += " over " + text(v["fuse"]["transport"]);
  row("device", text(v["device"]) + (how.empty() ? "" : " (" + how + ")"));
  if (!v["attach_mode"].is_null()) row("attach", text(v["attach_mode"]));
  row("mounts", text(v["mount_count"]));
  row("fstype", text(v["fstype"]) + (v["mount_options"].get<std::string>().empty()
                                         ? ""
                                         : " (" + text(v["mount_options"]) + ")"));
  if (has(v, "health")) {
    row("health", text(v["health"]));
    if (has(v, "read_only"))
      row("read-only", text(v["read_only"]) + " (reads go on; writes resume once space is freed)");
    if (has(v, "store_used_percent")) row("store", text(v["store_used_percent"]) + "% used");
    if (has(v, "space_warning")) row("warning", text(v["space_warning"]));
    for (const auto& r : v["replicas"]) {
      // A remote replica is on HOST:PORT (the portal of its URI), else on a pool here.
      const std::string uri = r.value("uri", "");
      std::string where = "pool " + (r["pool"].is_string() ? text(r["pool"]) : "default");
      if (uri.starts_with("iscsi://")) {
        std::string portal = uri.substr(8, uri.find('/', 8) - 8);
        where = "host " +
                portal.substr(portal.rfind('@') == std::string::npos ? 0 : portal.rfind('@') + 1);
      }
      row("  replica " + text(r["id"]), text(r["mode"]) + " on " + where + " (generation " +
                                            text(r["generation"]) + ", revision " +
                                            text(r["revision"]) + ")" +
                                            (r["error"].is_null() ? "" : ": " + text(r["error"])));
    }
    if (v.contains("last_rebuild") && v["last_rebuild"].is_object()) {
      const auto& rb = v["last_rebuild"];
      row("last rebuild", text(rb["replica"]) + " (" + text(rb["kind"]) + "), " +
                              format_size_approx(rb["done_bytes"].get<std::uint64_t>()) +
                              " copied");
    }
    if (v["rebuild"].is_object()) {
      const auto& rb = v["rebuild"];
      row("rebuild", text(rb["replica"]) + " (" + text(rb["kind"]) + "), " +
                         format_size_approx(rb["done_bytes"].get<std::uint64_t>()) + " of " +
                         format_size_approx(rb["total_bytes"].get<std::uint64_t>()));
    }
    // What the daemon did on its own (a replica failed, replaced): the last three.
    if (v.contains("events") && v["events"].is_array()) {
      const auto& events = v["events"];
      const std::size_t first = events.size() > 3 ? events.size() - 3 : 0;
      for (std::size_t i = first; i < events.size(); ++i)
        row(i == first ? "events" : "", text(events[i]["time"]) + " " + text(events[i]["note"]));
    }
    std::string snaps;
    for (const auto& s : v["snapshots"]) snaps += (snaps.empty() ? "" : ", ") + text(s["name"]);
    row("snapshots", snaps.empty() ? "-" : snaps);
  } else {
    row("replicas", text(v["replicas_wanted"]));
  }
  if (!v["iqn"].is_null()) {
    row("iqn", text(v["iqn"]));
    row("portal", text(v["portal"]) + (v["chap"] == true ? " (CHAP)" : ""));
    std::string target = text(v["target_state"]);
    if (!v["target_pid"].is_null()) target += " (pid " + text(v["target_pid"]) + ")";
    if (v["target_restarts"].is_number() && v["target_restarts"] > 0)
      target += ", restarted " + text(v["target_restarts"]) + " time(s)";
    row("target", target);
    if (has(v, "target_event")) row("last event", text(v["target_event"]));
    if (has(v, "target_log")) row("target log", text(v["target_log"]));
    if (has(v, "chap_credentials")) {
      row("chap user", text(v["chap_credentials"]["user"]));
      row("chap secret", text(v["chap_credentials"]["secret"]));
    }
  }
  row("created", text(v["created"]));
}

int create(Globals& globals, const Args& args, const std::string& usage, bool short_form) {
  std::string name, size, driver, fstype, spec_file, mountopts, replicas, uid, gid, from, pools,
      hosts;
  std::vector<std::string> remote;
  po::options_description options("Options");
  options.add_options()("size", po::value(&size)->value_name("SIZE"),
                        "capacity, e.g. 10GiB (default from the config)")(
      "driver", po::value(&driver)->value_name("NAME"), "storage driver, e.g. local")(
      "fstype", po::value(&fstype)->value_name("TYPE"), "file system: ext4 or xfs")(
      "replicas", po::value(&replicas)->value_name("N"), "copies of every block")(
      "pools", po::value(&pools)->value_name("A,B,C"),
      "the pools of its replicas, one each (default: the pools with the most free space)")(
      "hosts", po::value(&hosts)->value_name("A,B,C"),
      "a realm volume's hosts (names or ids), in order of preference, a replica on each of\n"
      "the first that qualify (default: distinct zones first, then the most free space)")(
      "allow-same-pool", "let two replicas share a pool (no longer safe from one disk's loss)")(
      "replica", po::value(&remote)->value_name("URI"),
      "a replica another host shares (`maya replica share` there), repeatable; counted in\n"
      "--replicas (default: these plus one here)")(
      "mountopts", po::value(&mountopts)->value_name("OPTS"), "mount options, e.g. noatime")(
      "uid", po::value(&uid)->value_name("UID"), "owner of the file system root")(
      "gid", po::value(&gid)->value_name("GID"), "group of the file system root")(
      "spec", po::value(&spec_file)->value_name("FILE"), "a TOML spec file (keys as above)")(
      "from", po::value(&from)->value_name("VOLUME@SNAPSHOT"), "a clone of that snapshot");
  po::options_description hidden;
  hidden.add_options()("name", po::value(&name));
  po::positional_options_description positional;
  positional.add("name", 1);
  const CommandSpec spec{
      "volume create", usage,
      "Creates volume NAME: thin (space is used as data is written), formatted at its first "
      "mount.\nOptions not given come from [volume.defaults] in the config; a clone (--from) "
      "takes its\nsnapshot's spec. Warns when the store's thin volumes could outgrow its free "
      "space.",
      "maya volume create db --size 10GiB --replicas 3 --fstype xfs --uid 999\n"
      "maya volume create db --size 10GiB --pools fast1,fast2,fast3\n"
      "maya volume create db --size 10GiB --replica iscsi://share-r1:SECRET@10.0.0.2:3517/"
      "iqn.2026-12.io.maya:share.tpool.r1/0\n"
      "maya volume create db2 --from db@before-upgrade"};
  Parsed parsed = parse(spec, options, positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (name.empty()) return usage_error("volume create", "it needs a NAME");

  json opts = json::object();
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) opts[key] = value;
  };
  put("size", size);
  put("driver", driver);
  put("fstype", fstype);
  put("replicas", replicas);
  put("mountopts", mountopts);
  put("uid", uid);
  put("gid", gid);
  put("from", from);
  put("pools", pools);
  put("hosts", hosts);
  if (parsed.vars.count("allow-same-pool")) opts["allow_same_pool"] = "true";
  if (!remote.empty()) {
    std::string joined;
    for (const auto& uri : remote) joined += (joined.empty() ? "" : " ") + uri;
    opts["remote_replicas"] = joined;
  }
  if (!spec_file.empty())
    opts["spec"] = std::filesystem::absolute(spec_file).lexically_normal().string();
  if (short_form && opts.size() > (spec_file.empty() ? 0u : 1u))
    return usage_error("volume create",
                       "the short form takes only --spec; use `maya volume create` for other "
                       "options");

  auto created = call_daemon(globals, "POST", "/v1/volumes", {{"name", name}, {"opts", opts}});
  if (!created) return 1;
  if (created->contains("warnings"))
    for (const auto& w : (*created)["warnings"]) std::cerr << "warning: " << text(w) << "\n";
  if (json_output(globals)) {
    print_json(*created);
  } else {
    std::cout << "volume " << name << " created (" << text((*created)["driver"]) << ", "
              << human(*created, "size_bytes") << ", " << text((*created)["fstype"]) << ")\n";
  }
  return 0;
}

int list(Globals& globals, const Args& args) {
  Parsed parsed = parse({"volume list", "maya volume list [-o table|json]",
                         "Lists every volume with its driver, size, state, replica health and "
                         "mounts.\nUnder the table: why a volume is in error, and what to do.",
                         "maya volume list -o json"},
                        po::options_description("Options"), {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  auto answer = call_daemon(globals, "GET", "/v1/volumes");
  if (!answer) return 1;
  if (json_output(globals)) {
    print_json((*answer)["volumes"]);
    return 0;
  }
  Table table({"NAME", "DRIVER", "SIZE", "STATE", "HEALTH", "REPLICAS", "MOUNTS", "MOUNTPOINT"});
  for (const json& v : (*answer)["volumes"]) {
    table.add({text(v["name"]), text(v["driver"]), human(v, "size_bytes"), text(v["state"]),
               text(v["health"]), replica_count(v), text(v["mount_count"]), text(v["mountpoint"])});
  }
  table.print(std::cout);
  // Why a volume is broken or in error, and what to do, under the table.
  bool first = true;
  for (const json& v : (*answer)["volumes"]) {
    if (v["error"].is_null()) continue;
    std::cout << (first ? "\n" : "") << text(v["name"]) << ": " << text(v["state"]) << ": "
              << text(v["error"]) << "\n";
    first = false;
  }
  return 0;
}

int inspect(Globals& globals, const Args& args) {
  std::string name;
  po::options_description options("Options");
  options.add_options()("show-secrets", "also print the volume's CHAP user and secret");
  po::options_description hidden;
  hidden.add_options()("name", po::value(&name));
  po::positional_options_description positional;
  positional.add("name", 1);
  Parsed parsed = parse(
      {"volume inspect", "maya volume inspect NAME [--show-secrets] [-o table|json]",
       "Shows one volume: spec, state, device, mounts, target, replicas, rebuild, snapshots.\n"
       "-o json prints the object whose keys the README documents.",
       "maya volume inspect db\nmaya volume inspect db -o json | jq .health"},
      options, positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (name.empty()) return usage_error("volume inspect", "it needs a NAME");
  const bool secrets = parsed.vars.count("show-secrets") > 0;
  auto answer =
      call_daemon(globals, "GET", "/v1/volumes/" + name + (secrets ? "?secrets=true" : ""));
  if (!answer) return 1;
  if (json_output(globals)) {
    print_json(*answer);
  } else {
    print_volume(*answer);
  }
  return 0;
}

// Deletes each NAME in turn, as `docker volume rm` does: every result printed, exit 1 when any
// failed, after all were tried.
int remove(Globals& globals, const Args& args) {
  std::vector<std::string> names;
  po::options_description options("Options");
  options.add_options()("force",
                        "unmount the volume first if containers still use it; delete it even "
                        "if it is broken (its data with it)")(
      "with-snapshots",
      "delete its snapshots too (by default they outlive it: maya snapshot list)");
  po::options_description hidden;
  hidden.add_options()("name", po::value(&names));
  po::positional_options_description positional;
  positional.add("name", -1);
  Parsed parsed = parse(
      {"volume delete", "maya volume delete NAME... [--force] [--with-snapshots]",
       "Deletes each volume NAME in turn, and its data; exit status 1 when any was not deleted.\n"
       "A volume in use is refused unless --force, which unmounts it first, or refuses before "
       "it\nchanges anything, naming the containers or processes that hold it. Its snapshots "
       "stay\n(`maya snapshot list`) unless --with-snapshots.",
       "maya volume delete db db2\nmaya volume delete db --force --with-snapshots"},
      options, positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (names.empty()) return usage_error("volume delete", "it needs a NAME");
  std::string query;
  if (parsed.vars.count("force")) query += "force=true";
  if (parsed.vars.count("with-snapshots"))
    query += std::string(query.empty() ? "" : "&") + "snapshots=true";
  int status = 0;
  json deleted = json::array(), failed = json::array();
  for (const std::string& name : names) {
    std::string target = "/v1/volumes/" + name + (query.empty() ? "" : "?" + query);
    if (!call_daemon(globals, "DELETE", target)) {
      status = kExitFailed;  // call_daemon printed why; the others are still tried
      failed.push_back(name);
      continue;
    }
    deleted.push_back(name);
    if (!json_output(globals)) std::cout << "volume " << name << " deleted\n";
  }
  if (json_output(globals)) print_json({{"deleted", deleted}, {"failed", failed}});
  return status;
}

// The number of single-character insertions, deletions and substitutions that turn a into b.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The short form `maya volume NAME` creates NAME, so it must never take a command for a name:
// a command's name, or a word within two edits of one (a typo), gets an error that says which
// command was meant and how to create a volume of that name after all. The two-letter aliases
// (ls, rm) count only as themselves: every two-letter name is within two edits of them.
std::optional<std::string> command_meant(const std::string& word) {
  static const std::vector<std::string> kCommands = {"create",  "list",    "inspect",  "delete",
                                                     "replica", "rebuild", "snapshot", "help",
                                                     "attach",  "detach",  "resize",   "stats"};
  if (word == "ls" || word == "rm") return word;
  std::optional<std::string> best;
  std::size_t best_distance = 3;
  for (const auto& command : kCommands) {
    std::size_t d = edit_distance(word, command);
    if (d < best_distance) best = command, best_distance = d;
  }
  return best;
}

// `maya volume attach NAME` / `detach NAME`: the volume as a block device on this host.
int attach_or_detach(Globals& globals, const Args& args, bool attach) {
  const std::string verb = attach ? "attach" : "detach";
  std::string name;
  po::options_description options("Options");
  po::options_description hidden;
  hidden.add_options()("name", po::value(&name));
  po::positional_options_description positional;
  positional.add("name", 1);
  Parsed parsed =
      parse({"volume " + verb, "maya volume " + verb + " NAME [-o table|json]",
             attach ? "Attaches volume NAME to this host as a block device, neither formatted "
                      "nor mounted,\nand prints the device. Containers cannot mount it while it "
                      "is attached;\n`maya volume detach NAME` releases it."
                    : "Detaches volume NAME, attached by `maya volume attach`, from this host.\n"
                      "Refused while a process uses the device.",
             attach ? "maya volume attach db   # prints the device, e.g. /dev/loop3"
                    : "maya volume detach db"},
            options, positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (name.empty()) return usage_error("volume " + verb, "it needs a NAME");
  auto answer = call_daemon(globals, "POST", "/v1/volumes/" + name + "/" + verb);
  if (!answer) return 1;
  if (json_output(globals)) {
    print_json(*answer);
  } else if (attach) {
    std::cout << (*answer)["device"].get<std::string>() << "\n";
  } else {
    std::cout << "volume " << name << " detached\n";
  }
  return 0;
}

}  // namespace

int cmd_volume(Globals& globals, const Args& args) {
  if (auto help = help_redirect(args))
    return cmd_volume(globals, *help);  // `maya volume help create`
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << "Usage: maya volume COMMAND ...\n\n"
              << kSummary
              << "\n\n`maya volume COMMAND --help` shows a command's options and an example.\n"
                 "\nExample:\n  maya volume create db --size 10GiB --replicas 3\n"
                 "  docker run -v db:/var/lib/postgresql/data postgres\n";
    return args.empty() ? kExitUsage : 0;
  }
  const std::string& verb = args[0];
  Args rest(args.begin() + 1, args.end());
  if (verb == "create") return create(globals, rest, "maya volume create NAME [options]", false);
  if (verb == "list" || verb == "ls") return list(globals, rest);
  if (verb == "inspect") return inspect(globals, rest);
  if (verb == "stats") return volume_stats(globals, rest);
  if (verb == "delete" || verb == "rm") return remove(globals, rest);
  if (verb == "attach" || verb == "detach")
    return attach_or_detach(globals, rest, verb == "attach");
  if (verb == "replica" || verb == "rebuild" || verb == "snapshot" || verb == "resize")
    return cmd_volume_ops(globals, verb, rest);
  if (!verb.empty() && verb[0] != '-') {
    if (auto meant = command_meant(verb)) {
      std::cerr << "maya: unknown volume command \"" << verb << "\""
                << (*meant == verb ? "" : " (did you mean \"" + *meant + "\"?)")
                << "; to create a volume of that name: maya volume create " << verb << "\n";
      return kExitUsage;
    }
    return create(globals, args, "maya volume NAME [--spec FILE]", true);
  }
  return usage_error("volume", "unknown volume command \"" + verb + "\"");
}

}  // namespace maya::cli
