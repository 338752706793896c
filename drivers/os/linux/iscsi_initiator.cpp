#include "drivers/os/linux/iscsi_initiator.h"

#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include "lib/common/log.h"
#include "lib/process/exec.h"

namespace maya::drivers::linux_os {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto kCommandTimeout = 30s;

// "10.0.0.5:3260,1" -> "10.0.0.5:3260" ("[fe80::1]:3260,1" keeps its brackets).
std::string strip_tpgt(std::string_view address) {
  auto comma = address.rfind(',');
  return std::string(comma == std::string_view::npos ? address : address.substr(0, comma));
}

std::vector<std::string> node(const std::string& iqn, const std::string& portal) {
  return {"iscsiadm", "-m", "node", "-T", iqn, "-p", portal};
}

std::vector<std::string> update(const std::string& iqn, const std::string& portal,
                                const std::string& name, const std::string& value) {
  auto argv = node(iqn, portal);
  argv.insert(argv.end(), {"-o", "update", "-n", name, "-v", value});
  return argv;
}

Result<ExecResult> iscsiadm(std::vector<std::string> argv) {
  MAYA_TRY(result, run_command(argv, kCommandTimeout));
  return result;
}

}  // namespace

std::vector<IscsiSession> parse_sessions(std::string_view output) {
  std::vector<IscsiSession> sessions;
  std::istringstream in{std::string(output)};
  std::string line;
  while (std::getline(in, line)) {
    // tcp: [1] 10.0.0.5:3260,1 iqn.2026-11.io.maya:db (non-flash)
    std::istringstream fields(line);
    std::string transport, id, address, iqn;
    if (!(fields >> transport >> id >> address >> iqn)) continue;
    if (transport.empty() || transport.back() != ':' || id.size() < 3 || id.front() != '[' ||
        id.back() != ']')
      continue;
    IscsiSession s;
    try {
      s.id = std::stoi(id.substr(1, id.size() - 2));
    } catch (const std::exception&) {
      continue;
    }
    s.portal = strip_tpgt(address);
    s.iqn = iqn;
    sessions.push_back(std::move(s));
  }
  return sessions;
}

std::vector<IscsiSession> parse_discovery(std::string_view output) {
  std::vector<IscsiSession> found;
  std::istringstream in{std::string(output)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string address, iqn;
    if (!(fields >> address >> iqn) || address.find(',') == std::string::npos) continue;
    if (!iqn.starts_with("iqn.") && !iqn.starts_with("eui.") && !iqn.starts_with("naa.")) continue;
    found.push_back({0, strip_tpgt(address), iqn});
  }
  return found;
}

std::vector<std::vector<std::string>> login_commands(const IscsiLogin& l) {
  std::vector<std::vector<std::string>> cmds;
  cmds.push_back({"iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", l.portal});
  if (!l.chap_user.empty()) {
    cmds.push_back(update(l.iqn, l.portal, "node.session.auth.authmethod", "CHAP"));
    cmds.push_back(update(l.iqn, l.portal, "node.session.auth.username", l.chap_user));
    cmds.push_back(update(l.iqn, l.portal, "node.session.auth.password", l.chap_secret));
  }
  auto login = node(l.iqn, l.portal);
  login.push_back("--login");
  cmds.push_back(login);
  return cmds;
}

std::vector<std::string> logout_command(const std::string& iqn, const std::string& portal) {
  auto argv = node(iqn, portal);
  argv.push_back("--logout");
  return argv;
}

std::vector<std::string> delete_node_command(const std::string& iqn, const std::string& portal) {
  auto argv = node(iqn, portal);
  argv.insert(argv.end(), {"-o", "delete"});
  return argv;
}

fs::path by_path_device(const std::string& portal, const std::string& iqn, int lun) {
  return fs::path("/dev/disk/by-path") /
         ("ip-" + portal + "-iscsi-" + iqn + "-lun-" + std::to_string(lun));
}

std::string describe_iscsiadm_status(int status) {
  switch (status) {
    case 0:
      return "success";
    case 3:
      return "the iSCSI daemon (iscsid) failed an internal request";
    case 8:
      return "timed out";
    case 12:
      return "the kernel has no iSCSI transport (load iscsi_tcp)";
    case 15:
      return "a session to that target already exists";
    case 19:
      return "the login failed";
    case 20:
      return "cannot connect to iscsid (is it running?)";
    case 21:
      return "no such record or session";
    case 24:
      return "CHAP authentication failed";
    case 29:
      return "the target could not be reached";
    default:
      return "exit status " + std::to_string(status);
  }
}

std::optional<std::string> IscsiInitiator::unavailable() {
  std::error_code ec;
  if (!fs::exists("/sys/module/iscsi_tcp", ec))
    return "the kernel has no iSCSI initiator here (module iscsi_tcp is not loaded)";
  if (::access("/usr/sbin/iscsiadm", X_OK) != 0 && ::access("/sbin/iscsiadm", X_OK) != 0)
    return "iscsiadm (open-iscsi) is not installed";
  return std::nullopt;
}

Result<fs::path> IscsiInitiator::login(const IscsiLogin& l) {
  if (auto why = unavailable()) return fail(*why);
  for (auto& argv : login_commands(l)) {
    const std::string what = describe_command(argv);
    const bool is_login = argv.back() == "--login";
    MAYA_TRY(run, iscsiadm(argv));
    if (run->exit_code == 15 && is_login) break;  // already logged in: fine
    if (!run->succeeded()) {
      return fail("iscsiadm " + (is_login ? std::string("login to ") : std::string("setup of ")) +
                  l.iqn + " at " + l.portal +
                  " failed: " + describe_iscsiadm_status(run->exit_code));
    }
  }
  const fs::path link = by_path_device(l.portal, l.iqn);
  const auto deadline = std::chrono::steady_clock::now() + device_wait_;
  for (;;) {
    std::error_code ec;
    if (fs::exists(link, ec)) return fs::canonical(link, ec);
    if (std::chrono::steady_clock::now() >= deadline) {
      (void)logout(l.iqn, l.portal);
      return fail("logged in to " + l.iqn + " but " + link.string() + " did not appear within " +
                  std::to_string(device_wait_.count()) + " s (is udev running?)");
    }
    std::this_thread::sleep_for(100ms);
  }
}

Result<void> IscsiInitiator::logout(const std::string& iqn, const std::string& portal) {
  MAYA_TRY(out, iscsiadm(logout_command(iqn, portal)));
  if (!out->succeeded() && out->exit_code != 21)
    return fail("iscsiadm logout of " + iqn +
                " failed: " + describe_iscsiadm_status(out->exit_code));
  MAYA_TRY(deleted, iscsiadm(delete_node_command(iqn, portal)));
  if (!deleted->succeeded() && deleted->exit_code != 21)
    log::warn("iscsiadm could not forget the node record of " + iqn + ": " +
              describe_iscsiadm_status(deleted->exit_code));
  return {};
}

Result<std::vector<IscsiSession>> IscsiInitiator::sessions() {
  MAYA_TRY(out, iscsiadm({"iscsiadm", "-m", "session"}));
  if (out->exit_code == 21) return std::vector<IscsiSession>{};  // "No active sessions."
  if (!out->succeeded())
    return fail("iscsiadm -m session failed: " + describe_iscsiadm_status(out->exit_code));
  return parse_sessions(out->output);
}

std::optional<fs::path> IscsiInitiator::device(const std::string& iqn, const std::string& portal) {
  std::error_code ec;
  const fs::path link = by_path_device(portal, iqn);
  if (!fs::exists(link, ec)) return std::nullopt;
  auto real = fs::canonical(link, ec);
  if (ec) return std::nullopt;
  return real;
}

}  // namespace maya::drivers::linux_os
