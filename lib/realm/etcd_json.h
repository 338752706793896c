// etcd v3's JSON gateway encoding, apart from the transport: keys and values are base64, int64
// fields come as JSON strings, and proto3 leaves out every field at its default (0, false, "",
// an empty list), so an absent field is a zero, not an error. Every reader checks types and
// returns an error for anything else: a malformed answer never throws.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "lib/common/result.h"
#include "lib/realm/realm_store.h"

namespace maya::realm::etcd {

// The end of the range of keys that start with `prefix`: the prefix with its last byte that is
// not 0xff incremented (and what follows dropped). "\0" when there is none (the empty prefix, or
// only 0xff bytes): etcd's "every key from here on".
std::string prefix_end(std::string_view prefix);

// A key for messages: printable ASCII as is, other bytes as \xNN.
std::string printable(std::string_view bytes);

// An int64 field: a JSON string of digits or a number; absent: 0.
Result<std::int64_t> int_field(const nlohmann::json& object, const char* name);
// A bool field; absent: false.
Result<bool> bool_field(const nlohmann::json& object, const char* name);
// A base64 bytes field; absent: "".
Result<std::string> bytes_field(const nlohmann::json& object, const char* name);
// The object `name` within `object`; absent: an empty object.
Result<nlohmann::json> object_field(const nlohmann::json& object, const char* name);

// A mvccpb.KeyValue.
Result<KeyValue> key_value(const nlohmann::json& kv);
// header.revision of an answer.
Result<std::int64_t> header_revision(const nlohmann::json& answer);

// etcd's (or the gateway's) refusal in an answer: {"error": "...", "code": N} for unary calls,
// {"error": {"grpc_code": N, "message": "..."}} inside a stream. Nothing when there is none.
struct Refusal {
  std::string message;
  int code = 0;  // gRPC status code: 5 not found, 14 unavailable, 16 unauthenticated...
};
std::optional<Refusal> refusal(const nlohmann::json& answer);

// The refusal says the auth token is no longer good (expired, or the auth store changed):
// authenticate again and retry.
bool token_rejected(const Refusal& refusal);
bool token_rejected(std::string_view message);

}  // namespace maya::realm::etcd
