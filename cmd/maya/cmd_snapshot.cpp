// maya snapshot list|delete: every snapshot on this host, including those of deleted volumes
// (snapshots outlive their volume, as on EBS), through the daemon.
#include <iostream>

#include "cmd/maya/commands.h"
#include "cmd/maya/table.h"
#include "lib/common/size.h"

namespace maya::cli {
namespace {

using nlohmann::json;

constexpr const char* kSummary =
    "Snapshots outlive their volume: after `maya volume delete` (or `docker volume rm`) they stay\n"
    "here until deleted themselves, and `--from VOLUME@SNAPSHOT` restores them into a new volume.\n"
    "  maya snapshot list                    every snapshot, with its source volume\n"
    "  maya snapshot delete VOLUME@SNAPSHOT  delete one (its volume may be deleted)\n"
    "Snapshots of an existing volume: maya volume snapshot create|list|delete|revert.";

int list(Globals& globals, const Args& args) {
  po::options_description none("Options");
  Parsed parsed = parse(
      {"snapshot list", "maya snapshot list [-o json]", kSummary, "maya snapshot list -o json"},
      none, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  auto all = call_daemon(globals, "GET", "/v1/snapshots");
  if (!all) return 1;
  if (json_output(globals)) {
    print_json((*all)["snapshots"]);
    return 0;
  }
  Table table({"VOLUME", "SNAPSHOT", "CREATED", "SIZE", "USED", "VOLUME STATE"});
  for (const auto& s : (*all)["snapshots"]) {
    table.add({s.value("volume", ""), s.value("name", ""), s.value("created", ""),
               format_size_human(s.value("size_bytes", std::uint64_t{0})),
               format_size_human(s.value("allocated_bytes", std::uint64_t{0})),
               s.value("volume_deleted", false) ? "deleted" : "exists"});
  }
  table.print(std::cout);
  return 0;
}

int remove(Globals& globals, const Args& args) {
  std::string ref;
  po::options_description options("Options");
  po::options_description hidden;
  hidden.add_options()("ref", po::value(&ref));
  po::positional_options_description positional;
  positional.add("ref", 1);
  Parsed parsed = parse({"snapshot delete", "maya snapshot delete VOLUME@SNAPSHOT", kSummary,
                         "maya snapshot delete db@before-upgrade"},
                        options, positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  auto at = ref.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == ref.size())
    return usage_error("snapshot delete", "it needs VOLUME@SNAPSHOT, not \"" + ref + "\"");
  const std::string volume = ref.substr(0, at), snap = ref.substr(at + 1);
  if (!call_daemon(globals, "DELETE", "/v1/snapshots/" + volume + "/" + snap)) return 1;
  if (json_output(globals))
    print_json({{"deleted", ref}});
  else
    std::cout << "snapshot " << ref << " deleted\n";
  return 0;
}

}  // namespace

int cmd_snapshot(Globals& globals, const Args& args) {
  if (auto help = help_redirect(args))
    return cmd_snapshot(globals, *help);  // `maya snapshot help list`
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << "Usage: maya snapshot list|delete ...\n\n"
              << kSummary << "\n\nExample:\n  maya snapshot list\n";
    return args.empty() ? kExitUsage : 0;
  }
  Args rest(args.begin() + 1, args.end());
  if (args[0] == "list" || args[0] == "ls") return list(globals, rest);
  if (args[0] == "delete" || args[0] == "rm") return remove(globals, rest);
  return usage_error("snapshot", "unknown snapshot command \"" + args[0] + "\"");
}

}  // namespace maya::cli
