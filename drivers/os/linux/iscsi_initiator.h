// The kernel iSCSI initiator through open-iscsi's iscsiadm (argv exec, never a shell):
// SendTargets discovery, CHAP on the node record, login, wait for
// /dev/disk/by-path/ip-ADDR:PORT-iscsi-IQN-lun-0, logout, node deletion, session listing.
// The command lines and the parsing of iscsiadm's output are pure functions, unit-tested
// against outputs recorded from the real tool (tests/drivers/iscsi_initiator_test.cpp).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drivers/os_driver.h"

namespace maya::drivers::linux_os {

// `iscsiadm -m session`: "tcp: [1] 10.0.0.5:3260,1 iqn.2026-11.io.maya:db (non-flash)" lines.
std::vector<IscsiSession> parse_sessions(std::string_view output);
// `iscsiadm -m discovery -t st`: "10.0.0.5:3260,1 iqn.2026-11.io.maya:db" lines.
std::vector<IscsiSession> parse_discovery(std::string_view output);

// The commands of a login, in order: discovery, CHAP settings on the node record, login.
std::vector<std::vector<std::string>> login_commands(const IscsiLogin& login);
std::vector<std::string> logout_command(const std::string& iqn, const std::string& portal);
std::vector<std::string> delete_node_command(const std::string& iqn, const std::string& portal);

// /dev/disk/by-path/ip-127.0.0.1:3261-iscsi-iqn.2026-11.io.maya:db-lun-0 (IPv6 in brackets).
std::filesystem::path by_path_device(const std::string& portal, const std::string& iqn,
                                     int lun = 0);

// iscsiadm's exit status in words (its man page's ISCSI_ERR_* list), for error messages.
std::string describe_iscsiadm_status(int status);

class IscsiInitiator : public IscsiAttacher {
 public:
  explicit IscsiInitiator(std::chrono::seconds device_wait = std::chrono::seconds(20))
      : device_wait_(device_wait) {}
  std::optional<std::string> unavailable() override;
  Result<std::filesystem::path> login(const IscsiLogin& login) override;
  Result<void> logout(const std::string& iqn, const std::string& portal) override;
  Result<std::vector<IscsiSession>> sessions() override;
  std::optional<std::filesystem::path> device(const std::string& iqn,
                                              const std::string& portal) override;

 private:
  std::chrono::seconds device_wait_;
};

}  // namespace maya::drivers::linux_os
