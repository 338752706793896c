#include "lib/iscsi/login.h"

#include <string_view>

namespace maya::iscsi {
namespace {

// The login phase's receive limit for text is the default MaxRecvDataSegmentLength.
constexpr std::size_t kLoginTextPiece = 8192;

bool is_security_key(std::string_view key) {
  return key == "AuthMethod" || key.starts_with("CHAP_");
}

bool list_contains(std::string_view list, std::string_view item) {
  while (!list.empty()) {
    auto comma = list.find(',');
    if (list.substr(0, comma) == item) return true;
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  return false;
}

}  // namespace

LoginMachine::LoginMachine(const LoginConfig& config)
    : config_(config), negotiator_(config.offer), chap_(config_.chap) {}

bool LoginMachine::auth_required() const {
  return config_.chap.enabled() && (!negotiator_.params().discovery || config_.discovery_auth);
}

LoginStep failed_login(const LoginReq& req, std::uint16_t status) {
  LoginStep step;
  step.fail = true;
  step.response.csg = req.csg;
  step.response.isid = req.isid;
  step.response.itt = req.itt;
  step.response.status_class = static_cast<std::uint8_t>(status >> 8);
  step.response.status_detail = static_cast<std::uint8_t>(status);
  return step;
}

LoginStep LoginMachine::fail(const LoginReq& req, std::uint16_t status) {
  failed_ = true;
  return failed_login(req, status);
}

std::optional<std::uint16_t> LoginMachine::first_request(const LoginReq& req,
                                                         const KeyValues& kvs) {
  started_ = true;
  isid_ = req.isid;
  cid_ = req.cid;
  requested_tsih_ = req.tsih;
  itt_ = req.itt;
  initial_cmdsn_ = req.cmdsn;
  initial_exp_statsn_ = req.exp_statsn;
  if (req.version_min > 0x00) return login_status::kUnsupportedVersion;
  // A non-zero TSIH continues an existing session on a new connection (MaxConnections is 1,
  // so it replaces the old one); the connection checks that the session exists.
  const std::string* initiator = find_key(kvs, "InitiatorName");
  if (initiator == nullptr || initiator->empty()) return login_status::kMissingParameter;
  const std::string* type = find_key(kvs, "SessionType");
  if (type != nullptr && *type != "Normal" && *type != "Discovery") {
    return login_status::kSessionTypeNotSupported;
  }
  const bool discovery = type != nullptr && *type == "Discovery";
  negotiator_.params().discovery = discovery;
  if (!discovery) {
    const std::string* target = find_key(kvs, "TargetName");
    if (target == nullptr || target->empty()) return login_status::kMissingParameter;
    if (*target != config_.target_name) return login_status::kNotFound;
  }
  if (req.csg != 0 && auth_required()) return login_status::kAuthenticationFailure;
  stage_ = static_cast<Stage>(req.csg);
  if (req.csg != 0) auth_ = Auth::kNone;
  return std::nullopt;
}

std::optional<std::uint16_t> LoginMachine::answer_keys(const LoginReq& req, const KeyValues& kvs,
                                                       KeyValues& out, bool& security_ready) {
  KeyValues chap_in;
  for (const auto& [key, value] : kvs) {
    if (is_security_key(key)) {
      if (stage_ != Stage::kSecurity) return login_status::kInitiatorError;
      if (key == "AuthMethod") {
        if (config_.chap.enabled() && list_contains(value, "CHAP")) {
          auth_ = Auth::kChap;
          out.emplace_back(key, "CHAP");
        } else if (!auth_required() && list_contains(value, "None")) {
          auth_ = Auth::kNone;
          out.emplace_back(key, "None");
        } else {
          out.emplace_back(key, "Reject");
          return login_status::kAuthenticationFailure;
        }
      } else {
        chap_in.emplace_back(key, value);
      }
      continue;
    }
    if (auto answer = negotiator_.answer(key, value, stage_)) out.emplace_back(key, *answer);
  }

  security_ready = true;
  if (stage_ != Stage::kSecurity) return std::nullopt;
  if (auth_ == Auth::kChap) {
    switch (chap_.step(chap_in, out)) {
      case ChapStatus::kContinue:
        security_ready = false;
        break;
      case ChapStatus::kDone:
        break;
      case ChapStatus::kAuthFailed:
        return login_status::kAuthenticationFailure;
      case ChapStatus::kInitiatorError:
        return login_status::kInitiatorError;
    }
  } else if (!chap_in.empty()) {
    return login_status::kInitiatorError;  // CHAP keys without AuthMethod=CHAP
  } else if (auth_ == Auth::kNotChosen) {
    // No AuthMethod offered: only acceptable when we don't require authentication.
    if (auth_required()) {
      security_ready = false;
      if (req.transit) return login_status::kAuthenticationFailure;
    } else {
      auth_ = Auth::kNone;
    }
  }
  return std::nullopt;
}

LoginStep LoginMachine::handle(const LoginReq& req, std::span<const std::uint8_t> data) {
  if (failed_) return fail(req, login_status::kInitiatorError);
  // Stage rules: CSG 2 is reserved; a transit must move forward to 1 or 3.
  if (req.csg == 2 || req.csg == 3 || (started_ && req.csg != static_cast<std::uint8_t>(stage_)) ||
      (req.transit && (req.nsg == 2 || req.nsg <= req.csg))) {
    return fail(req, login_status::kInitiatorError);
  }
  if (req.transit && req.cont) return fail(req, login_status::kInitiatorError);

  // The initiator is fetching the rest of a long response of ours.
  if (outgoing_.pending()) return respond(pending_transit_, {}, true);

  if (!incoming_.add(data)) return fail(req, login_status::kInitiatorError);
  if (req.cont) {
    // More text follows: acknowledge with an empty response in the same stage.
    LoginStep step;
    step.response.csg = req.csg;
    step.response.isid = req.isid;
    step.response.itt = req.itt;
    return step;
  }
  auto kvs = parse_text(incoming_.bytes());
  incoming_.clear();
  if (!kvs) return fail(req, login_status::kInitiatorError);

  if (!started_) {
    if (auto status = first_request(req, *kvs)) return fail(req, *status);
  }
  KeyValues out;
  if (!sent_first_) {
    if (!config_.target_alias.empty()) out.emplace_back("TargetAlias", config_.target_alias);
    out.emplace_back("TargetPortalGroupTag", std::to_string(config_.tpgt));
  }
  bool security_ready = true;
  if (auto status = answer_keys(req, *kvs, out, security_ready)) return fail(req, *status);
  const bool transit = req.transit && security_ready;
  if (stage_ == Stage::kOperational || (transit && req.nsg == 3)) {
    negotiator_.append_declarations(out);
  }
  return respond(req, out, transit);
}

LoginStep LoginMachine::respond(const LoginReq& req, const KeyValues& out, bool may_transit) {
  LoginStep step;
  step.response.csg = req.csg;
  step.response.isid = req.isid;
  step.response.itt = req.itt;
  if (!outgoing_.pending()) {
    std::vector<std::uint8_t> text;
    append_text(text, out);
    outgoing_.set(std::move(text));
  }
  bool more = false;
  auto piece = outgoing_.next(kLoginTextPiece, more);
  step.data.assign(piece.begin(), piece.end());
  step.response.data_length = static_cast<std::uint32_t>(step.data.size());
  if (!outgoing_.pending()) outgoing_.clear();
  sent_first_ = true;
  if (more) {
    step.response.cont = true;
    pending_transit_ = req;
    return step;
  }
  if (may_transit && req.transit) {
    step.response.transit = true;
    step.response.nsg = req.nsg;
    stage_ = static_cast<Stage>(req.nsg);
    if (stage_ == Stage::kFullFeature) {
      negotiator_.finish();
      step.complete = true;
    }
  }
  return step;
}

}  // namespace maya::iscsi
