// maya target serve: one standalone iSCSI target on a file (tests, benchmarks, users who just
// want a target). `maya target run --volume NAME` (spawned by the daemon) comes with the jiva
// storage driver.
#include <iostream>

#include "cmd/maya/commands.h"
#include "lib/common/names.h"
#include "lib/common/size.h"
#include "lib/target/serve.h"

namespace maya::cli {
namespace {

constexpr const char* kSummary =
    "Serves one iSCSI target with one LUN (0) backed by a file.\n\n"
    "  maya target serve --backing FILE --iqn IQN --listen ADDR:PORT [--size SIZE]\n"
    "                    [--chap-user U --chap-secret S [--mutual-user U --mutual-secret S]]\n\n"
    "--size creates FILE (sparse) or grows it to SIZE; without it the file's size is used.\n"
    "PORT 0 picks a free port; the first line printed says which. Stops on SIGINT or SIGTERM.";

int serve(Globals& globals, const Args& args) {
  target::ServeOptions opts;
  std::string size;
  po::options_description options("Options");
  options.add_options()
      ("backing", po::value(&opts.backing)->value_name("FILE")->required(), "file that holds the LUN's blocks")
      ("iqn", po::value(&opts.iqn)->value_name("IQN")->required(), "target name, e.g. iqn.2026-11.io.maya:disk1")
      ("listen", po::value(&opts.listen)->value_name("ADDR:PORT")->required(), "portal address, e.g. 127.0.0.1:3260")
      ("size", po::value(&size)->value_name("SIZE"), "create or grow the file to SIZE (e.g. 10GiB)")
      ("chap-user", po::value(&opts.chap_user)->value_name("USER"), "require CHAP with this user")
      ("chap-secret", po::value(&opts.chap_secret)->value_name("SECRET"), "the CHAP secret (12-16 characters)")
      ("mutual-user", po::value(&opts.mutual_user)->value_name("USER"), "mutual CHAP: the target's user")
      ("mutual-secret", po::value(&opts.mutual_secret)->value_name("SECRET"), "mutual CHAP: the target's secret");
  Parsed parsed = parse({"target serve", "maya target serve --backing FILE --iqn IQN --listen ADDR:PORT [options]",
                         kSummary},
                        options, {}, args, globals);
  if (parsed.exit_code) return *parsed.exit_code;
  if (auto valid = validate_iscsi_name(opts.iqn); !valid) return error(valid.error().message);
  if (!size.empty()) {
    auto bytes = parse_size(size);
    if (!bytes) return error("--size: " + bytes.error().message);
    opts.size = *bytes;
  }
  if (opts.chap_user.empty() != opts.chap_secret.empty())
    return error("--chap-user and --chap-secret go together");
  if (opts.mutual_user.empty() != opts.mutual_secret.empty())
    return error("--mutual-user and --mutual-secret go together");
  if (!opts.mutual_user.empty() && opts.chap_user.empty())
    return error("mutual CHAP needs --chap-user and --chap-secret too");
  return target::serve_main(opts);
}

}  // namespace

int cmd_target(Globals& globals, const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "Usage: maya target serve [options]\n\n" << kSummary << "\n";
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "serve") return serve(globals, Args(args.begin() + 1, args.end()));
  return error("unknown target command \"" + args[0] + "\" (see `maya target --help`)");
}

}  // namespace maya::cli
