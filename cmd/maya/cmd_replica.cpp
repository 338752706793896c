// maya replica create|list|destroy: bare replicas, files in a pool that will hold a replica's
// data (for volumes here, or shared with other hosts: share|unshare, and serve, the process
// that serves one share).
#include <iostream>

#include "cmd/maya/commands.h"
#include "cmd/maya/table.h"
#include "drivers/pools/replica_shares.h"
#include "lib/common/size.h"
#include "lib/iscsi_target/share_serve.h"

namespace maya::cli {
namespace {

using nlohmann::json;

constexpr const char* kSummary =
    "Manages bare replicas: a replica is a file in a pool (sparse when thin, fully allocated\n"
    "when thick) that holds one copy of a volume's data.\n\n"
    "  maya replica create POOL NAME --size S [--thin]   S in MiB (--size=10), or 10GiB, 1.5T\n"
    "  maya replica list [--pool P]                      every replica (-o json)\n"
    "  maya replica destroy POOL NAME                    delete it and its data\n"
    "  maya replica share POOL NAME [--port P]           serve it to other hosts over iSCSI\n"
    "  maya replica unshare POOL NAME                    stop serving it";

// A replica's size as the CLI takes it: a bare number is MiB (--size=10 is 10 MiB), else a
// size with its unit ("10GiB", "512M").
Result<std::uint64_t> replica_size(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 9) return fail("--size " + text + " MiB is too large");
    return std::stoull(text) << 20;
  }
  return parse_size(text);
}

int create(Globals& globals, const Args& args) {
  std::string pool, name, size;
  po::options_description options("Options");
  options.add_options()("size", po::value(&size),
                        "its size: a bare number is MiB (--size=10), or with a unit (10GiB)")(
      "thin", "sparse: blocks are taken as they are written (default: all allocated now)");
  po::options_description hidden;
  hidden.add_options()("pool", po::value(&pool))("name", po::value(&name));
  po::positional_options_description positional;
  positional.add("pool", 1).add("name", 1);
  Parsed parsed = parse(
      {"replica create", "maya replica create POOL NAME --size S [--thin]",
       "Makes replica NAME in pool POOL: a thick one takes all of its space now (refused when\n"
       "the pool lacks it), a --thin one as it is written. Sizes are multiples of 4 KiB.",
       "maya replica create tpool replica1 --size=10\n"
       "maya replica create tpool replica2 --size=1000 --thin"},
      options, positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (pool.empty() || name.empty())
    return usage_error("replica create", "it needs a POOL and a NAME");
  if (size.empty())
    return usage_error("replica create", "it needs --size (in MiB, or with a unit)");
  auto bytes = replica_size(size);
  if (!bytes) return usage_error("replica create", bytes.error().message);
  const bool thin = parsed.vars.count("thin") > 0;
  json body{{"name", name}, {"size_bytes", *bytes}, {"thin", thin}};
  auto created = call_daemon(globals, "POST", "/v1/pools/" + pool + "/replicas", body,
                             std::chrono::seconds(600));
  if (!created) return 1;
  return report(globals, *created,
                "replica " + name + " created in pool " + pool + " (" + format_size_human(*bytes) +
                    (thin ? ", thin" : ", thick") + ")");
}

int list(Globals& globals, const Args& args) {
  std::string pool;
  po::options_description options("Options");
  options.add_options()("pool", po::value(&pool), "only the replicas of this pool");
  Parsed parsed = parse({"replica list", "maya replica list [--pool P] [-o table|json]",
                         "Lists the replicas of every online pool (POOL NAME THIN SIZE); -o json\n"
                         "adds allocated_bytes, created and path.",
                         "maya replica list\nmaya replica list --pool tpool -o json"},
                        options, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  auto answer = call_daemon(globals, "GET", "/v1/replicas" + (pool.empty() ? "" : "?pool=" + pool));
  if (!answer) return 1;
  if (json_output(globals)) {
    print_json((*answer)["replicas"]);
    return 0;
  }
  Table table({"POOL", "NAME", "THIN", "SIZE", "SHARE"});
  for (const json& r : (*answer)["replicas"]) {
    std::string share = "-";
    if (r.contains("share") && r["share"].is_object()) {
      share = r["share"].value("uri", "-");
      if (!r["share"].value("running", false)) share += " (not running)";
    }
    table.add({r.value("pool", "-"), r.value("name", "-"),
               r.value("thin", false) ? "true" : "false",
               spaced_size(r.value("size_bytes", std::uint64_t{0})), share});
  }
  table.print(std::cout);
  return 0;
}

int destroy(Globals& globals, const Args& args) {
  std::string pool, name;
  po::options_description hidden;
  hidden.add_options()("pool", po::value(&pool))("name", po::value(&name));
  po::positional_options_description positional;
  positional.add("pool", 1).add("name", 1);
  Parsed parsed = parse(
      {"replica destroy", "maya replica destroy POOL NAME",
       "Deletes replica NAME of pool POOL and its data.", "maya replica destroy tpool replica1"},
      po::options_description("Options"), positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (pool.empty() || name.empty())
    return usage_error("replica destroy", "it needs a POOL and a NAME");
  auto answer = call_daemon(globals, "DELETE", "/v1/pools/" + pool + "/replicas/" + name);
  if (!answer) return 1;
  return report(globals, *answer, "replica " + name + " of pool " + pool + " destroyed");
}

int share(Globals& globals, const Args& args) {
  std::string pool, name;
  unsigned port = 0;
  po::options_description options("Options");
  options.add_options()("port", po::value(&port)->value_name("P"),
                        "the port to serve it on (default: a free one of [iscsi] share_ports)");
  po::options_description hidden;
  hidden.add_options()("pool", po::value(&pool))("name", po::value(&name));
  po::positional_options_description positional;
  positional.add("pool", 1).add("name", 1);
  Parsed parsed = parse(
      {"replica share", "maya replica share POOL NAME [--port P]",
       "Serves bare replica NAME of pool POOL to other hosts: an iSCSI LUN on [iscsi] address,\n"
       "behind CHAP credentials of its own. Prints the URI that a volume on another host takes\n"
       "(`maya volume create db --replica URI`); it holds the secret, so keep it as you would a\n"
       "password. The share is served until `maya replica unshare`, across `maya unload`/`load`.",
       "maya replica share tpool replica1"},
      options, positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (pool.empty() || name.empty())
    return usage_error("replica share", "it needs a POOL and a NAME");
  if (parsed.vars.count("port") && (port == 0 || port > 65535))
    return usage_error("replica share", "--port must be 1 to 65535");
  json body = json::object();
  if (port != 0) body["port"] = port;
  auto answer = call_daemon(globals, "POST", "/v1/pools/" + pool + "/replicas/" + name + "/share",
                            body, std::chrono::seconds(30));
  if (!answer) return 1;
  if (json_output(globals)) {
    print_json(*answer);
    return 0;
  }
  std::cout << answer->value("uri_with_secret", "") << "\n";
  return 0;
}

int unshare(Globals& globals, const Args& args) {
  std::string pool, name;
  po::options_description hidden;
  hidden.add_options()("pool", po::value(&pool))("name", po::value(&name));
  po::positional_options_description positional;
  positional.add("pool", 1).add("name", 1);
  Parsed parsed = parse({"replica unshare", "maya replica unshare POOL NAME",
                         "Stops serving replica NAME of pool POOL to other hosts. The replica and "
                         "its data stay;\nvolumes that use it over the network lose that copy.",
                         "maya replica unshare tpool replica1"},
                        po::options_description("Options"), positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (pool.empty() || name.empty())
    return usage_error("replica unshare", "it needs a POOL and a NAME");
  auto answer =
      call_daemon(globals, "DELETE", "/v1/pools/" + pool + "/replicas/" + name + "/share");
  if (!answer) return 1;
  return report(globals, *answer, "replica " + name + " of pool " + pool + " is no longer shared");
}

// The process the daemon starts for each share; not for people, though --help says what it is.
int serve(Globals& globals, const Args& args) {
  std::string dir;
  po::options_description options("Options");
  options.add_options()("dir", po::value(&dir)->value_name("DIR"),
                        "the replica's directory (data.img, share.json)");
  Parsed parsed = parse({"replica serve", "maya replica serve --dir DIR",
                         "Serves one shared replica until SIGTERM: what the daemon runs for each\n"
                         "share (`maya replica share`), reading DIR/share.json.",
                         "maya replica serve --dir /var/lib/maya/pools/tpool/replicas/replica1"},
                        options, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  if (dir.empty()) return usage_error("replica serve", "it needs --dir");
  auto record = drivers::pools::read_share(dir);
  if (!record || !*record) {
    std::cerr << "maya replica serve: "
              << (record ? dir + " is not shared (no share.json)" : record.error().message) << "\n";
    return 1;
  }
  auto config = load_config(globals);
  if (!config) return 1;
  iscsi_target::ShareServeOptions o;
  o.dir = dir;
  o.iqn = (*record)->iqn;
  const std::string& address = config->iscsi_address;
  o.listen = (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
             std::to_string((*record)->port);
  o.chap_user = (*record)->user;
  o.chap_secret = (*record)->secret;
  return iscsi_target::share_serve_main(o);
}

}  // namespace

int cmd_replica(Globals& globals, const Args& args) {
  if (auto help = help_redirect(args)) return cmd_replica(globals, *help);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << "Usage: maya replica COMMAND ...\n\n"
              << kSummary
              << "\n\n`maya replica COMMAND --help` shows a command's options and an example.\n"
                 "\nExample:\n  maya replica create tpool replica1 --size=10\n"
                 "  maya replica list\n";
    return args.empty() ? kExitUsage : 0;
  }
  const std::string& verb = args[0];
  Args rest(args.begin() + 1, args.end());
  if (verb == "create") return create(globals, rest);
  if (verb == "list" || verb == "ls") return list(globals, rest);
  if (verb == "destroy") return destroy(globals, rest);
  if (verb == "share") return share(globals, rest);
  if (verb == "unshare") return unshare(globals, rest);
  if (verb == "serve") return serve(globals, rest);
  return usage_error("replica", "unknown replica command \"" + verb + "\"");
}

}  // namespace maya::cli
