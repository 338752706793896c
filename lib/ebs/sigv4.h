// AWS Signature Version 4, as EC2 checks it: the Authorization header
//   AWS4-HMAC-SHA256 Credential=AKID/20261206/maya-1/ec2/aws4_request,
//   SignedHeaders=content-type;host;x-amz-date, Signature=<64 hex>
// is verified against the canonical request (method, URI, sorted query, the signed headers,
// the body's SHA-256), the string to sign (X-Amz-Date, the scope) and the key derived from the
// secret, compared in constant time. The date must be within max_skew of now, the scope's date
// that of X-Amz-Date, its region the configured one and its service "ec2". Presigned
// (query-string) signatures are not accepted.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/ebs/api_error.h"

namespace maya::ebs {

inline constexpr std::string_view kSigV4Service = "ec2";

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

struct SignedRequest {
  std::string method;  // "POST"
  std::string target;  // the request line's target: "/", "/?Action=…"
  std::vector<std::pair<std::string, std::string>> headers;  // as received, names in any case
  std::string_view body;
};

// nullopt when the request is signed by `credentials` for `region` and service ec2, at a time
// within `max_skew` of `now`; else the EC2 error: AuthFailure (no signature, unknown access
// key), IncompleteSignature (a malformed Authorization or date), SignatureDoesNotMatch (the
// signature, the scope's region/service/date, host not signed), RequestExpired.
std::optional<ApiError> verify(const SignedRequest& request, const Credentials& credentials,
                               std::string_view region, std::chrono::system_clock::time_point now,
                               std::chrono::seconds max_skew);

// Signs `request` as botocore does: sets X-Amz-Date to `when` and adds the Authorization header
// over every header it holds (a Host header must be among them). For C++ test clients.
void sign(SignedRequest& request, const Credentials& credentials, std::string_view region,
          std::string_view service, std::chrono::system_clock::time_point when);

// The building blocks, for tests against AWS's published examples.
namespace sigv4 {

struct Authorization {
  std::string access_key_id;
  std::string date;  // YYYYMMDD
  std::string region;
  std::string service;
  std::string terminal;                     // "aws4_request"
  std::vector<std::string> signed_headers;  // as listed: lowercase, sorted
  std::string signature;
};
ApiResult<Authorization> parse_authorization(std::string_view header);

// "20261206T070000Z" (X-Amz-Date) or an RFC 1123 / RFC 822 Date header.
std::optional<std::chrono::system_clock::time_point> parse_amz_date(std::string_view text);
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text);
std::string amz_date(std::chrono::system_clock::time_point t);  // "20261206T070000Z"

std::string canonical_uri(std::string_view path);     // dot segments removed, encoded again
std::string canonical_query(std::string_view query);  // decoded, strictly encoded, sorted
std::string trim_header_value(std::string_view value);
// METHOD\nURI\nQUERY\nheaders (name:value\n, for each signed name)\n\nSIGNED;NAMES\nPAYLOAD
// SignatureDoesNotMatch when a signed header is missing from `headers`.
ApiResult<std::string> canonical_request(
    std::string_view method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::vector<std::string>& signed_headers, std::string_view payload_hash);
std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request);
std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service);  // raw 32 bytes
std::string sha256_hex(std::string_view data);
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

}  // namespace sigv4
}  // namespace maya::ebs
