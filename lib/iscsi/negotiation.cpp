#include "lib/iscsi/negotiation.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace maya::iscsi {
namespace {

constexpr std::uint32_t kMaxSegment = 16777215;

// clang-format off
constexpr std::array kKeys = {
  KeyDef{"HeaderDigest", "None", KeyKind::kList, 0, 0, KeyUse::kLoginOnly, true},
  KeyDef{"DataDigest", "None", KeyKind::kList, 0, 0, KeyUse::kLoginOnly, true},
  KeyDef{"MaxConnections", "1", KeyKind::kNumericMin, 1, 65535, KeyUse::kLoginOnly, false},
  KeyDef{"InitialR2T", "Yes", KeyKind::kBooleanOr, 0, 0, KeyUse::kLoginOnly, false},
  KeyDef{"ImmediateData", "Yes", KeyKind::kBooleanAnd, 0, 0, KeyUse::kLoginOnly, false},
  KeyDef{"MaxRecvDataSegmentLength", "8192", KeyKind::kDeclarative, 512, kMaxSegment,
         KeyUse::kAnyTime, true},
  KeyDef{"MaxBurstLength", "262144", KeyKind::kNumericMin, 512, kMaxSegment,
         KeyUse::kLoginOnly, false},
  KeyDef{"FirstBurstLength", "65536", KeyKind::kNumericMin, 512, kMaxSegment,
         KeyUse::kLoginOnly, false},
  KeyDef{"DefaultTime2Wait", "2", KeyKind::kNumericMax, 0, 3600, KeyUse::kLoginOnly, true},
  KeyDef{"DefaultTime2Retain", "20", KeyKind::kNumericMin, 0, 3600, KeyUse::kLoginOnly, true},
  KeyDef{"MaxOutstandingR2T", "1", KeyKind::kNumericMin, 1, 65535, KeyUse::kLoginOnly, false},
  KeyDef{"DataPDUInOrder", "Yes", KeyKind::kBooleanOr, 0, 0, KeyUse::kLoginOnly, false},
  KeyDef{"DataSequenceInOrder", "Yes", KeyKind::kBooleanOr, 0, 0, KeyUse::kLoginOnly, false},
  KeyDef{"ErrorRecoveryLevel", "0", KeyKind::kNumericMin, 0, 2, KeyUse::kLoginOnly, true},
  KeyDef{"IFMarker", "No", KeyKind::kBooleanAnd, 0, 0, KeyUse::kLoginOnly, true},
  KeyDef{"OFMarker", "No", KeyKind::kBooleanAnd, 0, 0, KeyUse::kLoginOnly, true},
  KeyDef{"IFMarkInt", "2048~2048", KeyKind::kList, 0, 0, KeyUse::kLoginOnly, true},
  KeyDef{"OFMarkInt", "2048~2048", KeyKind::kList, 0, 0, KeyUse::kLoginOnly, true},
  KeyDef{"iSCSIProtocolLevel", "0", KeyKind::kNumericMin, 0, 31, KeyUse::kLoginOnly, true},
  KeyDef{"TaskReporting", "RFC3720", KeyKind::kList, 0, 0, KeyUse::kLoginOnly, true},
  KeyDef{"SessionType", "Normal", KeyKind::kDeclarative, 0, 0, KeyUse::kLoginOnly, true},
  KeyDef{"InitiatorName", "", KeyKind::kDeclarative, 0, 0, KeyUse::kLoginOnly, true},
  KeyDef{"InitiatorAlias", "", KeyKind::kDeclarative, 0, 0, KeyUse::kAnyTime, true},
  KeyDef{"TargetName", "", KeyKind::kDeclarative, 0, 0, KeyUse::kLoginOnly, true},
  KeyDef{"TargetAlias", "", KeyKind::kDeclarative, 0, 0, KeyUse::kTargetDeclares, true},
  KeyDef{"TargetAddress", "", KeyKind::kDeclarative, 0, 0, KeyUse::kTargetDeclares, true},
  KeyDef{"TargetPortalGroupTag", "", KeyKind::kDeclarative, 0, 65535, KeyUse::kTargetDeclares,
         true},
  KeyDef{"AuthMethod", "None", KeyKind::kList, 0, 0, KeyUse::kSecurity, true},
  KeyDef{"SendTargets", "", KeyKind::kDeclarative, 0, 0, KeyUse::kAnyTime, true},
};
// clang-format on

std::optional<bool> parse_bool(std::string_view v) {
  if (v == "Yes") return true;
  if (v == "No") return false;
  return std::nullopt;
}

std::string_view yes_no(bool b) {
  return b ? "Yes" : "No";
}

}  // namespace

std::span<const KeyDef> key_table() {
  return kKeys;
}

const KeyDef* find_key_def(std::string_view name) {
  for (const auto& def : kKeys) {
    if (def.name == name) return &def;
  }
  return nullptr;
}

std::optional<std::uint64_t> parse_number(std::string_view v) {
  int base = 10;
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
    base = 16;
    v.remove_prefix(2);
  }
  if (v.empty() || v.size() > 16) return std::nullopt;
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n, base);
  if (ec != std::errc() || p != v.data() + v.size() || n > 0xffffffffull) return std::nullopt;
  return n;
}

Negotiator::Negotiator(TargetOffer offer) : offer_(offer) {
  params_.max_recv_data_segment_length = 8192;
}

std::optional<std::string> Negotiator::answer(std::string_view key, std::string_view value,
                                              Stage stage) {
  const KeyDef* def = find_key_def(key);
  if (def == nullptr) return std::string("NotUnderstood");
  if (def->use == KeyUse::kTargetDeclares) return std::string("Irrelevant");
  if (stage == Stage::kFullFeature && def->use != KeyUse::kAnyTime) return std::string("Reject");
  if (params_.discovery && !def->discovery) return std::string("Irrelevant");
  return answer_known(*def, value);
}

std::optional<std::string> Negotiator::answer_known(const KeyDef& def, std::string_view value) {
  switch (def.kind) {
    case KeyKind::kDeclarative: {
      if (def.name == "MaxRecvDataSegmentLength") {
        auto n = parse_number(value);
        if (!n || *n < def.min || *n > def.max) return std::string("Reject");
        params_.max_send_data_segment_length = static_cast<std::uint32_t>(*n);
        return std::nullopt;
      }
      if (def.name == "InitiatorName") params_.initiator_name = std::string(value);
      if (def.name == "InitiatorAlias") params_.initiator_alias = std::string(value);
      if (def.name == "TargetName") params_.target_name = std::string(value);
      if (def.name == "SessionType") {
        if (value != "Normal" && value != "Discovery") return std::string("Reject");
        params_.discovery = value == "Discovery";
      }
      return std::nullopt;
    }
    case KeyKind::kNumericMin:
    case KeyKind::kNumericMax: {
      auto n = parse_number(value);
      if (!n || *n < def.min || *n > def.max) return std::string("Reject");
      std::uint64_t ours = *n;
      if (def.name == "MaxConnections") ours = 1;
      if (def.name == "MaxBurstLength") ours = offer_.max_burst_length;
      if (def.name == "FirstBurstLength") ours = offer_.first_burst_length;
      if (def.name == "DefaultTime2Wait") ours = offer_.default_time2wait;
      if (def.name == "DefaultTime2Retain") ours = offer_.default_time2retain;
      if (def.name == "MaxOutstandingR2T") ours = offer_.max_outstanding_r2t;
      if (def.name == "ErrorRecoveryLevel") ours = 0;
      if (def.name == "iSCSIProtocolLevel") ours = 0;
      std::uint64_t result =
          def.kind == KeyKind::kNumericMin ? std::min(*n, ours) : std::max(*n, ours);
      apply(def.name, result, {});
      return std::to_string(result);
    }
    case KeyKind::kBooleanAnd:
    case KeyKind::kBooleanOr: {
      auto b = parse_bool(value);
      if (!b) return std::string("Reject");
      bool ours = false;
      if (def.name == "InitialR2T") ours = offer_.initial_r2t;
      if (def.name == "ImmediateData") ours = offer_.immediate_data;
      if (def.name == "DataPDUInOrder" || def.name == "DataSequenceInOrder") ours = true;
      bool result = def.kind == KeyKind::kBooleanAnd ? (*b && ours) : (*b || ours);
      apply(def.name, result ? 1 : 0, {});
      return std::string(yes_no(result));
    }
    case KeyKind::kList: {
      if (def.name == "IFMarkInt" || def.name == "OFMarkInt") return std::string("Irrelevant");
      std::string_view rest = value;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (def.name == "HeaderDigest" || def.name == "DataDigest") {
          if (item == "None" || (item == "CRC32C" && offer_.digests)) {
            apply(def.name, item == "CRC32C" ? 1 : 0, item);
            return std::string(item);
          }
        } else if (def.name == "TaskReporting") {
          if (item == "RFC3720") return std::string(item);
        }
      }
      return std::string("Reject");
    }
  }
  return std::string("Reject");
}

void Negotiator::apply(std::string_view key, std::uint64_t n, std::string_view) {
  const auto v = static_cast<std::uint32_t>(n);
  if (key == "HeaderDigest") params_.header_digest = v != 0;
  if (key == "DataDigest") params_.data_digest = v != 0;
  if (key == "MaxConnections") params_.max_connections = v;
  if (key == "InitialR2T") params_.initial_r2t = v != 0;
  if (key == "ImmediateData") params_.immediate_data = v != 0;
  if (key == "MaxBurstLength") params_.max_burst_length = v;
  if (key == "FirstBurstLength") params_.first_burst_length = v;
  if (key == "DefaultTime2Wait") params_.default_time2wait = v;
  if (key == "DefaultTime2Retain") params_.default_time2retain = v;
  if (key == "MaxOutstandingR2T") params_.max_outstanding_r2t = v;
  if (key == "DataPDUInOrder") params_.data_pdu_in_order = v != 0;
  if (key == "DataSequenceInOrder") params_.data_sequence_in_order = v != 0;
  if (key == "ErrorRecoveryLevel") params_.error_recovery_level = v;
}

void Negotiator::append_declarations(KeyValues& out) {
  if (!declared_mrdsl_) {
    out.emplace_back("MaxRecvDataSegmentLength",
                     std::to_string(offer_.max_recv_data_segment_length));
    declared_mrdsl_ = true;
  }
}

void Negotiator::finish() {
  if (declared_mrdsl_) params_.max_recv_data_segment_length = offer_.max_recv_data_segment_length;
  if (params_.first_burst_length > params_.max_burst_length) {
    params_.first_burst_length = params_.max_burst_length;
  }
}

}  // namespace maya::iscsi
