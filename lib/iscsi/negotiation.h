// Login/Text key negotiation (RFC 7143 §6, §13) as a table: each key's default, kind (numeric
// minimum/maximum, boolean AND/OR, list, declarative), range and where it may appear. The
// Negotiator answers an initiator's keys from the target's offer and keeps the outcome in
// SessionParams. Security keys (AuthMethod, CHAP_*) belong to login.cpp/chap.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "lib/iscsi/text.h"

namespace maya::iscsi {

enum class KeyKind : std::uint8_t {
  kNumericMin,   // result = min(offer, ours)
  kNumericMax,   // result = max(offer, ours)
  kBooleanAnd,   // result = offer AND ours
  kBooleanOr,    // result = offer OR ours
  kList,         // first value of the offer that we support
  kDeclarative,  // the sender states its value; no answer
};

enum class KeyUse : std::uint8_t {
  kSecurity,        // security stage only
  kLoginOnly,       // login (security or operational stage), not in full feature phase
  kAnyTime,         // login and Text in full feature phase
  kTargetDeclares,  // only the target sends it
};

struct KeyDef {
  std::string_view name;
  std::string_view default_value;
  KeyKind kind;
  std::uint32_t min = 0, max = 0;  // numeric keys
  KeyUse use;
  bool discovery = true;  // relevant in a discovery session
};

// The table itself (for tests and documentation); nullptr for an unknown key.
const KeyDef* find_key_def(std::string_view name);
std::span<const KeyDef> key_table();

// What this target offers (DESIGN.md: negotiate for speed).
struct TargetOffer {
  std::uint32_t max_recv_data_segment_length = 262144;  // our receive limit, declared
  std::uint32_t max_burst_length = 16776192;            // 16 MiB - 1 KiB, multiple of 4 KiB
  std::uint32_t first_burst_length = 262144;
  std::uint32_t max_outstanding_r2t = 1;
  std::uint32_t default_time2wait = 2;
  std::uint32_t default_time2retain = 20;
  bool initial_r2t = false;
  bool immediate_data = true;
  bool digests = true;  // accept CRC32C header/data digests
};

// The operational parameters in force for a session/connection.
struct SessionParams {
  bool discovery = false;
  bool header_digest = false, data_digest = false;
  std::uint32_t max_connections = 1;
  bool initial_r2t = true, immediate_data = true;
  std::uint32_t max_send_data_segment_length = 8192;  // the initiator's receive limit
  std::uint32_t max_recv_data_segment_length = 8192;  // ours, once declared
  std::uint32_t max_burst_length = 262144, first_burst_length = 65536;
  std::uint32_t default_time2wait = 2, default_time2retain = 20;
  std::uint32_t max_outstanding_r2t = 1;
  bool data_pdu_in_order = true, data_sequence_in_order = true;
  std::uint32_t error_recovery_level = 0;
  std::string initiator_name, initiator_alias, target_name;
};

enum class Stage : std::uint8_t { kSecurity = 0, kOperational = 1, kFullFeature = 3 };

// Parses a numeric value: decimal or 0x-hex; nullopt if malformed or above 2^32-1.
std::optional<std::uint64_t> parse_number(std::string_view value);

class Negotiator {
 public:
  explicit Negotiator(TargetOffer offer = {});

  // Answers one key the initiator sent. Returns the value to send back, or nullopt when no
  // answer is due (declarations). Unknown keys answer "NotUnderstood", bad values "Reject",
  // keys that don't apply "Irrelevant". Security keys must not reach here.
  std::optional<std::string> answer(std::string_view key, std::string_view value, Stage stage);

  // The keys the target declares on its own before leaving operational negotiation (those the
  // initiator did not offer but we must state, e.g. our MaxRecvDataSegmentLength).
  void append_declarations(KeyValues& out);
  // Applies final consistency rules (FirstBurstLength ≤ MaxBurstLength).
  void finish();

  SessionParams& params() { return params_; }
  const SessionParams& params() const { return params_; }
  const TargetOffer& offer() const { return offer_; }

 private:
  std::optional<std::string> answer_known(const KeyDef& def, std::string_view value);
  void apply(std::string_view key, std::uint64_t number, std::string_view text);

  TargetOffer offer_;
  SessionParams params_;
  bool declared_mrdsl_ = false;
};

}  // namespace maya::iscsi
