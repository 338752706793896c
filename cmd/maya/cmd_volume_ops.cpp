// maya volume replica add|remove, maya volume rebuild [--wait [--timeout D]], maya volume snapshot
// create|list|delete|revert: replicas and snapshots of jiva volumes; maya volume resize: a volume
// grows online. All through the daemon.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "cmd/maya/commands.h"
#include "cmd/maya/table.h"
#include "lib/common/size.h"

namespace maya::cli {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kReplicaSummary =
    "Adds or removes a replica of a jiva volume.\n\n"
    "  maya volume replica add VOLUME [--pool P]  a new, empty replica, rebuilt from the others\n"
    "  maya volume replica add VOLUME URI         a replica another host shares (`maya replica\n"
    "                                             share` there): "
    "iscsi://USER:SECRET@HOST:PORT/IQN/0\n"
    "  maya volume replica remove VOLUME ID  drop replica ID (r1, r2, ...) and its files";
constexpr const char* kRebuildSummary =
    "Brings back every replica of VOLUME that is away (failed or unreadable). A replica that was\n"
    "away briefly copies only the regions written meanwhile; otherwise everything is copied.\n"
    "--wait shows the progress until the volume is healthy, for at most --timeout (default 1h);\n"
    "it stops at once, saying why, when no replica holds the data to rebuild from.";
constexpr const char* kSnapshotSummary =
    "Point-in-time snapshots of a jiva volume, and reverting to one.\n\n"
    "  maya volume snapshot create VOLUME SNAPSHOT\n"
    "  maya volume snapshot list VOLUME\n"
    "  maya volume snapshot delete VOLUME SNAPSHOT\n"
    "  maya volume snapshot revert VOLUME SNAPSHOT   (the volume must not be in use)\n\n"
    "A clone is a new volume: maya volume create NEW --from VOLUME@SNAPSHOT. On file systems\n"
    "with reflinks (XFS with reflink, btrfs) snapshots and clones share blocks and are instant.";

// Positional words after the options: exactly `count` of them. Sets `exit_code` when the
// command is done: --help printed (0), or a usage error printed (2).
std::vector<std::string> words(const CommandSpec& spec, const po::options_description& options,
                               const Args& args, Globals& globals, std::size_t count,
                               std::optional<int>& exit_code, po::variables_map* vars = nullptr,
                               std::size_t at_most = 0) {
  std::vector<std::string> found;
  po::options_description hidden;
  hidden.add_options()("word", po::value(&found));
  po::positional_options_description positional;
  positional.add("word", -1);
  Parsed parsed = parse(spec, options, positional, args, globals, hidden);
  if (parsed.exit_code) {
    exit_code = parsed.exit_code;
    return found;
  }
  if (vars != nullptr) *vars = parsed.vars;
  if (found.size() < count || found.size() > std::max(count, at_most))
    exit_code = usage_error(spec.name, "wrong number of arguments; usage: " + spec.usage);
  return found;
}

std::string bar(double fraction, int width = 30) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  int filled = static_cast<int>(std::lround(fraction * width));
  return "[" + std::string(static_cast<std::size_t>(filled), '#') +
         std::string(static_cast<std::size_t>(width - filled), '.') + "]";
}

// The longest --timeout taken: more is a typo, and the seconds must not overflow.
constexpr long long kMaxTimeoutSeconds = 30LL * 24 * 3600;

// Seconds from "90", "90s", "15m" or "2h" (at most 30 days); an error says what is wrong.
Result<long long> parse_seconds(const std::string& text) {
  const auto not_duration = [&] {
    return fail("--timeout \"" + text + "\" is not a duration (e.g. 90s, 15m, 2h)");
  };
  if (text.empty()) return not_duration();
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &used);
  } catch (const std::out_of_range&) {
    return fail("--timeout \"" + text + "\" is too long: at most 30 days (720h)");
  } catch (const std::exception&) {
    return not_duration();
  }
  const std::string unit = text.substr(used);
  if (n <= 0) return not_duration();
  long long per = 0;
  if (unit.empty() || unit == "s") per = 1;
  if (unit == "m") per = 60;
  if (unit == "h") per = 3600;
  if (per == 0) return not_duration();
  // Compared before multiplying: n * per overflows (undefined) for a huge n.
  if (n > kMaxTimeoutSeconds / per)
    return fail("--timeout \"" + text + "\" is too long: at most 30 days (720h)");
  return n * per;
}

// Polls the volume until no replica is rebuilding; shows what it waits for and the progress
// on stderr. Bounded: gives up after `timeout`, and at once when nothing can progress (no
// replica holds the data to copy from), saying why; non-zero then.
int wait_rebuilt(const Globals& globals, const std::string& volume, std::chrono::seconds timeout) {
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const auto started = std::chrono::steady_clock::now();
  auto last_line = started - 10s;
  std::size_t shown = 0;
  std::string waiting_for;
  for (;;) {
    auto v = call_daemon(globals, "GET", "/v1/volumes/" + volume);
    if (!v) return 1;
    bool pending = false, any_rw = false;
    std::string away, queued;
    for (const auto& r : (*v)["replicas"]) {
      const std::string mode = r.value("mode", ""), id = r.value("id", "?");
      if (mode == "RW") any_rw = true;
      if (mode == "WO") {
        pending = true;
        queued += (queued.empty() ? "" : ", ") + id;
      }
      if (mode == "ERR") away += (away.empty() ? "" : ", ") + id;
    }
    const json& rb = (*v)["rebuild"];
    auto clear_line = [&] {
      if (tty && shown > 0) std::cerr << "\n";
      shown = 0;
    };
    if (pending && !any_rw) {
      clear_line();
      return error("volume " + volume + ": replica(s) " + queued +
                   " cannot be rebuilt: no replica holds the data to copy from (health " +
                   v->value("health", "failed") + "; see `maya volume inspect " + volume + "`)");
    }
    if (pending && waiting_for != queued) {
      clear_line();
      std::cerr << "waiting for replica(s) " << queued << " of volume " << volume
                << " to be rebuilt (at most " << format_duration(timeout.count()) << ")\n";
      waiting_for = queued;
    }
    if (rb.is_object()) {
      const double total = rb.value("total_bytes", 0.0), done = rb.value("done_bytes", 0.0);
      std::ostringstream line;
      line << "rebuilding " << rb.value("replica", "?") << " (" << rb.value("kind", "?") << ") "
           << bar(total > 0 ? done / total : 0) << " " << std::setw(3)
           << static_cast<int>(total > 0 ? 100 * done / total : 0) << "% "
           << format_size_approx(static_cast<std::uint64_t>(done)) << " of "
           << format_size_approx(static_cast<std::uint64_t>(total)) << ", "
           << format_size_approx(static_cast<std::uint64_t>(rb.value("rate_bytes_per_s", 0.0)))
           << "/s, ETA " << format_duration(static_cast<long long>(rb.value("eta_seconds", 0.0)));
      if (tty) {
        std::string text = line.str();
        std::cerr << "\r" << text << std::string(shown > text.size() ? shown - text.size() : 0, ' ')
                  << std::flush;
        shown = text.size();
      } else if (std::chrono::steady_clock::now() - last_line >= 5s) {
        std::cerr << line.str() << "\n";
        last_line = std::chrono::steady_clock::now();
      }
    }
    if (!pending && !rb.is_object()) {
      clear_line();
      if (!away.empty())
        return error("volume " + volume + " is " + v->value("health", "degraded") +
                     ": replica(s) " + away + " could not be rebuilt (see `maya volume inspect " +
                     volume + "`)");
      if (!json_output(globals))
        std::cout << "volume " << volume << " is " << v->value("health", "healthy") << "\n";
      return 0;
    }
    if (std::chrono::steady_clock::now() - started >= timeout) {
      clear_line();
      return error("volume " + volume + ": gave up waiting after " +
                   format_duration(timeout.count()) + "; replica(s) " + queued +
                   " still rebuilding (it goes on; `maya volume inspect " + volume +
                   "` shows where it is)");
    }
    std::this_thread::sleep_for(200ms);
  }
}

int replica(Globals& globals, const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "Usage: maya volume replica add|remove ...\n\n"
              << kReplicaSummary << "\n\nExample:\n  maya volume replica add db\n";
    return args.empty() ? kExitUsage : 0;
  }
  const std::string verb = args[0];
  Args rest(args.begin() + 1, args.end());
  std::optional<int> exit_code;
  if (verb == "add") {
    std::string pool;
    po::options_description options("Options");
    options.add_options()("pool", po::value(&pool)->value_name("P"),
                          "the pool to put it on (default: the online pool with the most free "
                          "space that holds no replica of the volume)");
    auto w = words(
        {"volume replica add", "maya volume replica add VOLUME [--pool P | URI]", kReplicaSummary,
         "maya volume replica add db && maya volume rebuild db --wait\n"
         "maya volume replica add db iscsi://share-r1:SECRET@10.0.0.2:3517/"
         "iqn.2026-12.io.maya:share.tpool.r1/0"},
        options, rest, globals, 1, exit_code, nullptr, 2);
    if (exit_code) return *exit_code;
    if (w.size() == 2 && !pool.empty())
      return usage_error("volume replica add", "give a --pool or a URI, not both");
    json body = json::object();
    if (!pool.empty()) body["pool"] = pool;
    if (w.size() == 2) body["uri"] = w[1];
    auto added = call_daemon(globals, "POST", "/v1/volumes/" + w[0] + "/replicas", body);
    if (!added) return 1;
    return report(globals, *added,
                  "replica " + (*added)["added"].get<std::string>() + " added to volume " + w[0] +
                      "; it is being rebuilt (`maya volume rebuild " + w[0] +
                      " --wait` shows the progress)");
  }
  if (verb == "remove" || verb == "rm") {
    auto w = words({"volume replica remove", "maya volume replica remove VOLUME ID",
                    kReplicaSummary, "maya volume replica remove db r2"},
                   po::options_description("Options"), rest, globals, 2, exit_code);
    if (exit_code) return *exit_code;
    if (!call_daemon(globals, "DELETE", "/v1/volumes/" + w[0] + "/replicas/" + w[1])) return 1;
    return report(globals, {{"volume", w[0]}, {"removed", w[1]}},
                  "replica " + w[1] + " removed from volume " + w[0]);
  }
  return usage_error("volume replica", "unknown replica command \"" + verb + "\"");
}

int rebuild(Globals& globals, const Args& args) {
  std::optional<int> exit_code;
  po::options_description options("Options");
  std::string timeout_text = "1h";
  options.add_options()("wait", "show the progress until the volume is healthy")(
      "timeout", po::value(&timeout_text),
      "how long --wait waits at most: 90s, 15m, 2h (default 1h)");
  po::variables_map vars;
  auto w = words({"volume rebuild", "maya volume rebuild VOLUME [--wait [--timeout DURATION]]",
                  kRebuildSummary, "maya volume rebuild db --wait --timeout 30m"},
                 options, args, globals, 1, exit_code, &vars);
  if (exit_code) return *exit_code;
  const auto timeout = parse_seconds(timeout_text);
  if (!timeout) return usage_error("volume rebuild", timeout.error().message);
  const std::string& volume = w[0];
  auto started = call_daemon(globals, "POST", "/v1/volumes/" + volume + "/rebuild");
  if (!started) return 1;
  std::string ids;
  for (const auto& id : (*started)["rebuilding"])
    ids += (ids.empty() ? "" : ", ") + id.get<std::string>();
  if (vars.count("wait")) {
    if (!ids.empty()) std::cerr << "bringing back replica(s) " << ids << "\n";
    const int waited = wait_rebuilt(globals, volume, std::chrono::seconds(*timeout));
    if (json_output(globals)) {
      auto now = call_daemon(globals, "GET", "/v1/volumes/" + volume);
      print_json({{"volume", volume},
                  {"rebuilt", (*started)["rebuilding"]},
                  {"health", now ? now->value("health", json()) : json()}});
    }
    return waited;
  }
  if (json_output(globals)) {
    print_json({{"volume", volume}, {"rebuilding", (*started)["rebuilding"]}});
    return 0;
  }
  if (!ids.empty()) std::cout << "bringing back replica(s) " << ids << "\n";
  if (ids.empty()) std::cout << "no replica of volume " << volume << " is away\n";
  return 0;
}

int snapshot(Globals& globals, const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "Usage: maya volume snapshot create|list|delete|revert ...\n\n"
              << kSnapshotSummary
              << "\n\nExample:\n  maya volume snapshot create db before-upgrade\n"
                 "  maya volume create db-copy --from db@before-upgrade\n";
    return args.empty() ? kExitUsage : 0;
  }
  const std::string verb = args[0];
  Args rest(args.begin() + 1, args.end());
  std::optional<int> exit_code;
  const po::options_description none("Options");
  if (verb == "list" || verb == "ls") {
    auto w = words({"volume snapshot list", "maya volume snapshot list VOLUME [-o json]",
                    kSnapshotSummary, "maya volume snapshot list db"},
                   none, rest, globals, 1, exit_code);
    if (exit_code) return *exit_code;
    auto list = call_daemon(globals, "GET", "/v1/volumes/" + w[0] + "/snapshots");
    if (!list) return 1;
    if (json_output(globals)) {
      print_json((*list)["snapshots"]);
      return 0;
    }
    Table table({"NAME", "CREATED", "SIZE", "USED", "METHOD"});
    for (const auto& s : (*list)["snapshots"]) {
      table.add({s.value("name", ""), s.value("created", ""),
                 format_size_human(s.value("size_bytes", std::uint64_t{0})),
                 format_size_human(s.value("allocated_bytes", std::uint64_t{0})),
                 s.value("method", "")});
    }
    table.print(std::cout);
    return 0;
  }
  if (verb != "create" && verb != "delete" && verb != "rm" && verb != "revert")
    return usage_error("volume snapshot", "unknown snapshot command \"" + verb + "\"");
  const std::string usage = "maya volume snapshot " + verb + " VOLUME SNAPSHOT";
  auto w = words({"volume snapshot " + verb, usage, kSnapshotSummary,
                  "maya volume snapshot " + verb + " db before-upgrade"},
                 none, rest, globals, 2, exit_code);
  if (exit_code) return *exit_code;
  const std::string& volume = w[0];
  const std::string& snap = w[1];
  if (verb == "create") {
    auto made = call_daemon(globals, "POST", "/v1/volumes/" + volume + "/snapshots",
                            {{"name", snap}}, std::chrono::hours(2));
    if (!made) return 1;
    if (json_output(globals)) {
      print_json(*made);
    } else {
      std::cout << "snapshot " << snap << " of volume " << volume << " taken ("
                << made->value("method", "") << ")\n";
    }
    return 0;
  }
  if (verb == "revert") {
    if (!call_daemon(globals, "POST", "/v1/volumes/" + volume + "/snapshots/" + snap + "/revert",
                     nullptr, std::chrono::hours(2)))
      return 1;
    return report(globals, {{"volume", volume}, {"reverted_to", snap}},
                  "volume " + volume + " reverted to snapshot " + snap);
  }
  if (!call_daemon(globals, "DELETE", "/v1/volumes/" + volume + "/snapshots/" + snap)) return 1;
  return report(globals, {{"volume", volume}, {"deleted", snap}},
                "snapshot " + snap + " of volume " + volume + " deleted");
}

constexpr const char* kResizeSummary =
    "Grows volume NAME to SIZE (100GiB, 20G, 1.5TiB; a bare number is bytes), online: its\n"
    "replicas, its device while attached or mounted (iSCSI initiators get CAPACITY DATA HAS\n"
    "CHANGED), and the ext4 or xfs file system mounted for containers (resize2fs, xfs_growfs).\n"
    "A file system on a device made by `maya volume attach` is its user's to grow. Shrinking\n"
    "is refused; the current size changes nothing.";

int resize(Globals& globals, const Args& args) {
  std::optional<int> exit_code;
  auto w = words({"volume resize", "maya volume resize NAME SIZE [-o json]", kResizeSummary,
                  "maya volume resize db 20GiB"},
                 po::options_description("Options"), args, globals, 2, exit_code);
  if (exit_code) return *exit_code;
  auto size = parse_size(w[1]);
  if (!size) return usage_error("volume resize", size.error().message);
  if (!json_output(globals)) std::cerr << "growing volume " << w[0] << "...\n";
  auto grown = call_daemon(globals, "POST", "/v1/volumes/" + w[0] + "/resize",
                           {{"size_bytes", *size}}, std::chrono::hours(1));
  if (!grown) return 1;
  if (json_output(globals)) {
    print_json(*grown);
    return 0;
  }
  const auto before = grown->value("previous_bytes", std::uint64_t{0});
  const auto after = grown->value("size_bytes", std::uint64_t{0});
  const std::string fs = grown->value("filesystem", "");
  const std::string deferred = grown->value("filesystem_deferred", "");
  if (!deferred.empty()) std::cerr << "maya: warning: " << deferred << "\n";
  if (before == after) {
    std::cout << "volume " << w[0] << " is already " << format_size_human(after) << "\n";
  } else {
    std::cout << "volume " << w[0] << " grew from " << format_size_human(before) << " to "
              << format_size_human(after)
              << (fs.empty() ? "" : "; its file system (" + fs + ") grew with it") << "\n";
  }
  return 0;
}

}  // namespace

int cmd_volume_ops(Globals& globals, const std::string& verb, const Args& args) {
  if (verb == "replica") return replica(globals, args);
  if (verb == "rebuild") return rebuild(globals, args);
  if (verb == "resize") return resize(globals, args);
  return snapshot(globals, args);
}

}  // namespace maya::cli
