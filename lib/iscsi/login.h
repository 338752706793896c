// The login state machine (RFC 7143 §6.3, §11.12-13): security negotiation (AuthMethod None or
// CHAP) → operational negotiation → full feature phase, with the T/CSG/NSG transit rules, text
// continuation in both directions, and the login status codes. Pure: it turns one Login Request
// into one Login Response; the connection fills in sequence numbers and the TSIH.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lib/iscsi/chap.h"
#include "lib/iscsi/negotiation.h"
#include "lib/iscsi/pdu.h"
#include "lib/iscsi/text.h"

namespace maya::iscsi {

// Status-Class / Status-Detail of a Login Response.
namespace login_status {
inline constexpr std::uint16_t kSuccess = 0x0000;
inline constexpr std::uint16_t kInitiatorError = 0x0200;
inline constexpr std::uint16_t kAuthenticationFailure = 0x0201;
inline constexpr std::uint16_t kAuthorizationFailure = 0x0202;
inline constexpr std::uint16_t kNotFound = 0x0203;
inline constexpr std::uint16_t kUnsupportedVersion = 0x0205;
inline constexpr std::uint16_t kMissingParameter = 0x0207;
inline constexpr std::uint16_t kSessionTypeNotSupported = 0x0209;
inline constexpr std::uint16_t kSessionDoesNotExist = 0x020a;
inline constexpr std::uint16_t kInvalidDuringLogin = 0x020b;
inline constexpr std::uint16_t kTargetError = 0x0300;
inline constexpr std::uint16_t kServiceUnavailable = 0x0301;
inline constexpr std::uint16_t kOutOfResources = 0x0302;
}  // namespace login_status

struct LoginConfig {
  std::string target_name;   // our IQN
  std::string target_alias;  // optional
  std::uint16_t tpgt = 1;
  ChapCredentials chap;         // empty user: no authentication
  bool discovery_auth = false;  // also demand CHAP from discovery sessions
  TargetOffer offer;
};

struct LoginStep {
  LoginResponsePdu response;       // all but sequence numbers and TSIH
  std::vector<std::uint8_t> data;  // the response's text
  bool fail = false;               // send, then close the connection
  bool complete = false;           // full feature phase reached: assign the TSIH
};

// A Login Response that refuses `req` with `status` (the connection closes after sending it).
LoginStep failed_login(const LoginReq& req, std::uint16_t status);

class LoginMachine {
 public:
  explicit LoginMachine(const LoginConfig& config);

  LoginStep handle(const LoginReq& req, std::span<const std::uint8_t> data);

  const SessionParams& params() const { return negotiator_.params(); }
  const std::array<std::uint8_t, 6>& isid() const { return isid_; }
  std::uint16_t cid() const { return cid_; }
  // The TSIH of the first request (non-zero: continue that session).
  std::uint16_t requested_tsih() const { return requested_tsih_; }
  // The CmdSN / ExpStatSN of the first request (the session's initial CmdSN).
  std::uint32_t initial_cmdsn() const { return initial_cmdsn_; }
  std::uint32_t initial_exp_statsn() const { return initial_exp_statsn_; }
  bool started() const { return started_; }
  // Tests pin the CHAP challenge.
  ChapAuthenticator& chap() { return chap_; }

 private:
  LoginStep fail(const LoginReq& req, std::uint16_t status);
  std::optional<std::uint16_t> first_request(const LoginReq& req, const KeyValues& kvs);
  std::optional<std::uint16_t> answer_keys(const LoginReq& req, const KeyValues& kvs,
                                           KeyValues& out, bool& security_ready);
  LoginStep respond(const LoginReq& req, const KeyValues& out, bool may_transit);
  bool auth_required() const;

  const LoginConfig& config_;
  Negotiator negotiator_;
  ChapAuthenticator chap_;
  TextAssembler incoming_;
  TextSplitter outgoing_;
  Stage stage_ = Stage::kSecurity;
  enum class Auth : std::uint8_t { kNotChosen, kNone, kChap } auth_ = Auth::kNotChosen;
  bool started_ = false;
  bool sent_first_ = false;
  bool failed_ = false;
  std::array<std::uint8_t, 6> isid_{};
  std::uint16_t cid_ = 0;
  std::uint16_t requested_tsih_ = 0;
  std::uint32_t itt_ = 0;
  std::uint32_t initial_cmdsn_ = 0, initial_exp_statsn_ = 0;
  LoginReq pending_transit_{};  // the request whose transit waits for our continued text
};

}  // namespace maya::iscsi
