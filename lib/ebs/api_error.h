// The errors of the EC2-compatible API: an HTTP status, an EC2 error code (what botocore turns
// into `ClientError.response["Error"]["Code"]`; it matters more than the status) and one
// sentence. One constructor per code, so handlers never spell codes or statuses themselves;
// error_document() is the XML body EC2 answers with.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace maya::ebs {

struct ApiError {
  int http_status = 400;
  std::string code;
  std::string message;
};

template <class T>
using ApiResult = std::expected<T, ApiError>;

inline std::unexpected<ApiError> api_fail(ApiError error) {
  return std::unexpected(std::move(error));
}

// <?xml …?><Response><Errors><Error><Code>…</Code><Message>…</Message></Error></Errors>
// <RequestID>…</RequestID></Response>, as EC2 answers (botocore's EC2QueryParser reads it).
std::string error_document(const ApiError& error, std::string_view request_id);

namespace errors {

// Request syntax and parameters (400).
ApiError missing_parameter(std::string_view name);
ApiError invalid_parameter_value(std::string_view name, std::string_view value,
                                 std::string_view why);
ApiError invalid_parameter(std::string_view message);  // InvalidParameterValue, free text
ApiError invalid_parameter_combination(std::string_view message);
ApiError unknown_parameter(std::string_view name);
ApiError invalid_action(std::string_view action);
ApiError malformed_query_string(std::string_view why);
ApiError request_too_large(std::size_t size, std::size_t limit);  // 413

// Resources and their states (400).
ApiError volume_not_found(std::string_view volume_id);
ApiError snapshot_not_found(std::string_view snapshot_id);
ApiError snapshot_in_use(std::string_view snapshot_id, std::string_view why);
ApiError volume_in_use(std::string_view volume_id, std::string_view why);
ApiError incorrect_state(std::string_view message);
ApiError attachment_not_found(std::string_view volume_id, std::string_view instance_id);
ApiError instance_not_found(std::string_view instance_id);
ApiError idempotent_parameter_mismatch(std::string_view client_token);
// In a realm: an instance (host) that is known but down; a volume and an instance in different
// availability zones.
ApiError incorrect_instance_state(std::string_view instance_id, std::string_view why);
ApiError zone_mismatch(std::string_view volume_id, std::string_view volume_zone,
                       std::string_view instance_id, std::string_view instance_zone);

// Authentication (SigV4): AuthFailure 401, SignatureDoesNotMatch 403, IncompleteSignature and
// RequestExpired 400, as EC2 answers them.
ApiError auth_failure(std::string_view message);
ApiError signature_does_not_match(std::string_view message);
ApiError incomplete_signature(std::string_view message);
ApiError request_expired(std::string_view message);

// A failure of maya itself (500): the message says what failed.
ApiError internal_error(std::string_view message);

}  // namespace errors
}  // namespace maya::ebs
