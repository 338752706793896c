// maya target serve: one standalone iSCSI target on a file (tests, benchmarks, users who just
// want a target). maya target run --volume NAME: the target of one jiva volume, as the daemon
// spawns it.
#include <cstdint>
#include <iostream>
#include <tuple>

#include "cmd/maya/commands.h"
#include "lib/common/names.h"
#include "lib/common/size.h"
#include "lib/iscsi_target/serve.h"
#include "lib/jiva/fuse_ring_keeper.h"
#include "lib/jiva/volume_target.h"

namespace maya::cli {
namespace {

// --max-connections and --max-connections-per-address: -1 when not given.
struct CapFlags {
  std::int64_t total = -1, per_address = -1;

  void add_to(po::options_description& options) {
    options.add_options()("max-connections", po::value(&total)->value_name("N"),
                          "logged-in connections served at once (default 64)")(
        "max-connections-per-address", po::value(&per_address)->value_name("N"),
        "of those, from one source address (default 16)");
  }
  // Checks the flags given and applies them; an error message, or empty.
  std::string apply(std::uint32_t& max_connections, std::uint32_t& max_per_address) const {
    for (auto [value, name, field] :
         {std::tuple{total, "--max-connections", &max_connections},
          std::tuple{per_address, "--max-connections-per-address", &max_per_address}}) {
      if (value == -1) continue;
      if (value < 1 || value > 65535) return std::string(name) + " must be 1 to 65535";
      *field = static_cast<std::uint32_t>(value);
    }
    return {};
  }
};

constexpr const char* kSummary =
    "Serves one iSCSI target with one LUN (0) backed by a file.\n\n"
    "  maya target serve --backing FILE --iqn IQN --listen ADDR:PORT [--size SIZE]\n"
    "                    [--chap-user U --chap-secret S [--mutual-user U --mutual-secret S]]\n"
    "                    [--max-connections N] [--max-connections-per-address N]\n\n"
    "--size creates FILE (sparse) or grows it to SIZE; without it the file's size is used.\n"
    "PORT 0 picks a free port; the first line printed says which. Stops on SIGINT or SIGTERM.";

int serve(Globals& globals, const Args& args) {
  iscsi_target::ServeOptions opts;
  std::string size;
  po::options_description options("Options");
  options.add_options()("backing", po::value(&opts.backing)->value_name("FILE")->required(),
                        "file that holds the LUN's blocks")(
      "iqn", po::value(&opts.iqn)->value_name("IQN")->required(),
      "target name, e.g. iqn.2026-11.io.maya:disk1")(
      "listen", po::value(&opts.listen)->value_name("ADDR:PORT")->required(),
      "portal address, e.g. 127.0.0.1:3260")("size", po::value(&size)->value_name("SIZE"),
                                             "create or grow the file to SIZE (e.g. 10GiB)")(
      "chap-user", po::value(&opts.chap_user)->value_name("USER"), "require CHAP with this user")(
      "chap-secret", po::value(&opts.chap_secret)->value_name("SECRET"),
      "the CHAP secret (12-16 characters)")("mutual-user",
                                            po::value(&opts.mutual_user)->value_name("USER"),
                                            "mutual CHAP: the target's user")(
      "mutual-secret", po::value(&opts.mutual_secret)->value_name("SECRET"),
      "mutual CHAP: the target's secret");
  CapFlags caps;
  caps.add_to(options);
  Parsed parsed =
      parse({"target serve",
             "maya target serve --backing FILE --iqn IQN --listen ADDR:PORT [options]", kSummary,
             "maya target serve --backing /srv/disk1.img --size 10GiB \\\n"
             "  --iqn iqn.2026-11.io.maya:disk1 --listen 127.0.0.1:3260"},
            options, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  if (auto valid = validate_iscsi_name(opts.iqn); !valid)
    return usage_error("target serve", valid.error().message);
  if (!size.empty()) {
    auto bytes = parse_size(size);
    if (!bytes) return usage_error("target serve", "--size: " + bytes.error().message);
    opts.size = *bytes;
  }
  if (opts.chap_user.empty() != opts.chap_secret.empty())
    return usage_error("target serve", "--chap-user and --chap-secret go together");
  if (opts.mutual_user.empty() != opts.mutual_secret.empty())
    return usage_error("target serve", "--mutual-user and --mutual-secret go together");
  if (!opts.mutual_user.empty() && opts.chap_user.empty())
    return usage_error("target serve", "mutual CHAP needs --chap-user and --chap-secret too");
  if (auto bad = caps.apply(opts.max_connections, opts.max_connections_per_address); !bad.empty())
    return usage_error("target serve", bad);
  return iscsi_target::serve_main(opts);
}

constexpr const char* kRunSummary =
    "Serves the iSCSI target of one jiva volume: its replicas, on the port and with the CHAP\n"
    "credentials its manifest holds. The daemon starts and supervises one per volume; run it by\n"
    "hand only to debug a volume whose target will not start. Stops on SIGINT or SIGTERM.\n\n"
    "  maya target run --volume NAME [--config PATH]\n"
    "  maya target run --volume NAME --store DIR --run DIR [--address IP]   (what the daemon "
    "runs)\n"
    "                  [--max-connections N] [--max-connections-per-address N]";

int run(Globals& globals, const Args& args) {
  jiva::VolumeTargetOptions opts;
  std::string store, run_dir, address, fuse_transport;
  po::options_description options("Options");
  options.add_options()("volume", po::value(&opts.volume)->value_name("NAME")->required(),
                        "the jiva volume")("store", po::value(&store)->value_name("DIR"),
                                           "the store (default: from the config)")(
      "run", po::value(&run_dir)->value_name("DIR"),
      "the run directory (default: from the config)")("address",
                                                      po::value(&address)->value_name("IP"),
                                                      "portal address (default: [iscsi] address)");
  po::options_description hidden;
  hidden.add_options()("fuse-fd", po::value(&opts.fuse_fd)->value_name("FD"),
                       "internal: resume serving this inherited /dev/fuse descriptor")(
      "fuse-transport", po::value(&fuse_transport)->value_name("dev_fuse|io_uring"),
      "internal: how a new FUSE attachment takes requests (default: [volume.defaults] "
      "fuse_transport)");
  CapFlags caps;
  caps.add_to(options);
  Parsed parsed = parse({"target run", "maya target run --volume NAME [options]", kRunSummary,
                         "maya target run --volume db   # debug: see why its target fails"},
                        options, {}, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (store.empty() != run_dir.empty())
    return usage_error("target run", "--store and --run go together");
  if (!fuse_transport.empty() && fuse_transport != "dev_fuse" && fuse_transport != "io_uring")
    return usage_error("target run",
                       "--fuse-transport \"" + fuse_transport + "\" is not dev_fuse or io_uring");
  if (store.empty()) {
    auto cfg = load_config(globals);
    if (!cfg) return 1;
    opts.store_dir = cfg->store_dir;
    opts.run_dir = cfg->run_dir;
    opts.address = cfg->iscsi_address;
    opts.max_connections = cfg->iscsi_max_connections;
    opts.max_connections_per_address = cfg->iscsi_max_connections_per_address;
    opts.space_warn_percent = cfg->volume_defaults.space_warn_percent;
    opts.io_timeout = cfg->replication_io_timeout;
    opts.owner = cfg->host_id;
    opts.fuse_io_uring = cfg->volume_defaults.fuse_transport == "io_uring";
  } else {
    opts.store_dir = store;
    opts.run_dir = run_dir;
    // The daemon names its config: the paths come from the flags, the warning level from it.
    if (!globals.config.empty()) {
      if (auto cfg = config::load(config::resolve_path(globals.config)); cfg) {
        opts.space_warn_percent = cfg->volume_defaults.space_warn_percent;
        opts.io_timeout = cfg->replication_io_timeout;
        opts.owner = cfg->host_id;
        opts.fuse_io_uring = cfg->volume_defaults.fuse_transport == "io_uring";
      }
    }
  }
  if (!address.empty()) opts.address = address;
  if (!fuse_transport.empty()) opts.fuse_io_uring = fuse_transport == "io_uring";
  if (auto bad = caps.apply(opts.max_connections, opts.max_connections_per_address); !bad.empty())
    return usage_error("target run", bad);
  return jiva::run_volume_target(opts);
}

constexpr const char* kKeepSummary =
    "Holds the io_urings of one FUSE connection that a jiva target serves over io_uring, so that\n"
    "a crash of the target loses no request (lib/jiva/fuse_ring_keeper.h). The target starts it\n"
    "with the connection's /dev/fuse descriptor as fd 3; it leaves when the connection ends.\n"
    "Not run by hand.";

int keep_fuse_ring(Globals& globals, const Args& args) {
  std::string ring_file;
  po::options_description options("Options");
  options.add_options()("ring-file", po::value(&ring_file)->value_name("FILE")->required(),
                        "the connection's ring file (the buffers, and where they are mapped)");
  Parsed parsed = parse(
      {"target keep-fuse-ring", "maya target keep-fuse-ring --ring-file FILE", kKeepSummary, ""},
      options, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  return jiva::run_fuse_ring_keeper(ring_file, 3);
}

}  // namespace

int cmd_target(Globals& globals, const Args& args) {
  if (auto help = help_redirect(args)) return cmd_target(globals, *help);  // `maya target help run`
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << "Usage: maya target serve|run|keep-fuse-ring [options]\n\n"
              << kSummary << "\n\n"
              << kRunSummary << "\n\n"
              << kKeepSummary << "\n";
    return args.empty() ? kExitUsage : 0;
  }
  if (args[0] == "serve") return serve(globals, Args(args.begin() + 1, args.end()));
  if (args[0] == "run") return run(globals, Args(args.begin() + 1, args.end()));
  if (args[0] == "keep-fuse-ring")
    return keep_fuse_ring(globals, Args(args.begin() + 1, args.end()));
  return usage_error("target", "unknown target command \"" + args[0] + "\"");
}

}  // namespace maya::cli
