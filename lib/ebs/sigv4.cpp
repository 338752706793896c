// SigV4 verification for the EC2 API: the checks in the order EC2 makes them, each with its
// error code.
#include "lib/ebs/sigv4.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "lib/ebs/encoding.h"

namespace maya::ebs {
namespace {

using namespace std::chrono;

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool iequals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    auto l = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return l(x) == l(y);
  });
}

// The values of the headers named `name` (any case).
std::vector<std::string_view> header_values(const SignedRequest& r, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& [n, v] : r.headers) {
    if (iequals(n, name)) out.push_back(v);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (true) {
    std::size_t at = s.find(sep);
    out.emplace_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s = s.substr(at + 1);
  }
}

bool is_lower_hex64(std::string_view s) {
  return s.size() == 64 && std::ranges::all_of(s, [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string seconds_text(seconds s) {
  return std::to_string(s.count()) + " s";
}

}  // namespace

namespace sigv4 {

ApiResult<Authorization> parse_authorization(std::string_view header) {
  header = trim(header);
  std::size_t space = header.find(' ');
  std::string_view algorithm = header.substr(0, space);
  if (algorithm != kAlgorithm) {
    return api_fail(errors::incomplete_signature(
        "Unsupported Authorization algorithm '" + std::string(algorithm.substr(0, 40)) +
        "'; maya accepts AWS4-HMAC-SHA256 (Signature Version 4)."));
  }
  if (space == std::string_view::npos) {
    return api_fail(errors::incomplete_signature(
        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'."));
  }
  std::optional<std::string> credential, signed_headers, signature;
  for (const auto& raw : split(header.substr(space + 1), ',')) {
    std::string_view part = trim(raw);
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return api_fail(errors::incomplete_signature("Authorization header has a component '" +
                                                   std::string(part.substr(0, 40)) +
                                                   "' that is not NAME=VALUE."));
    }
    std::string_view name = part.substr(0, eq), value = part.substr(eq + 1);
    std::optional<std::string>* slot = name == "Credential"      ? &credential
                                       : name == "SignedHeaders" ? &signed_headers
                                       : name == "Signature"     ? &signature
                                                                 : nullptr;
    if (slot == nullptr) {
      return api_fail(
          errors::incomplete_signature("Authorization header has an unknown component '" +
                                       std::string(name.substr(0, 40)) + "'."));
    }
    if (*slot) {
      return api_fail(errors::incomplete_signature("Authorization header names '" +
                                                   std::string(name) + "' twice."));
    }
    *slot = std::string(value);
  }
  for (auto [slot, name] :
       {std::pair{&credential, "Credential"}, std::pair{&signed_headers, "SignedHeaders"},
        std::pair{&signature, "Signature"}}) {
    if (!*slot || (*slot)->empty()) {
      return api_fail(errors::incomplete_signature(std::string("Authorization header requires '") +
                                                   name + "' parameter."));
    }
  }
  auto scope = split(*credential, '/');
  if (scope.size() != 5 || std::ranges::any_of(scope, &std::string::empty)) {
    return api_fail(errors::incomplete_signature(
        "Credential must be ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request, not '" +
        credential->substr(0, 120) + "'."));
  }
  Authorization a{scope[0],  scope[1], scope[2], scope[3], scope[4], split(*signed_headers, ';'),
                  *signature};
  if (std::ranges::any_of(a.signed_headers, &std::string::empty)) {
    return api_fail(errors::incomplete_signature("SignedHeaders has an empty name."));
  }
  return a;
}

}  // namespace sigv4

std::optional<ApiError> verify(const SignedRequest& request, const Credentials& credentials,
                               std::string_view region, system_clock::time_point now,
                               seconds max_skew) {
  auto authorizations = header_values(request, "authorization");
  if (authorizations.empty()) {
    std::string_view target = request.target;
    std::string_view query = target.substr(std::min(target.find('?'), target.size()));
    if (query.find("X-Amz-Signature=") != std::string_view::npos ||
        query.find("X-Amz-Algorithm=") != std::string_view::npos) {
      return errors::auth_failure(
          "Presigned (query-string) signatures are not accepted; sign with the Authorization "
          "header.");
    }
    return errors::auth_failure(
        "The request is not signed: it needs an Authorization header (AWS Signature Version 4).");
  }
  if (authorizations.size() > 1) {
    return errors::incomplete_signature("The request has more than one Authorization header.");
  }
  auto auth = sigv4::parse_authorization(authorizations.front());
  if (!auth) return auth.error();

  // The time of signing: X-Amz-Date, else Date.
  std::string date_header = "x-amz-date";
  auto dates = header_values(request, date_header);
  std::optional<system_clock::time_point> signed_at;
  if (!dates.empty()) {
    if (dates.size() == 1) signed_at = sigv4::parse_amz_date(trim(dates.front()));
    if (!signed_at) {
      return errors::incomplete_signature("X-Amz-Date must be one date like 20261206T070000Z.");
    }
  } else {
    date_header = "date";
    dates = header_values(request, date_header);
    if (dates.empty()) {
      return errors::incomplete_signature(
          "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
          "header.");
    }
    if (dates.size() == 1) signed_at = sigv4::parse_http_date(trim(dates.front()));
    if (!signed_at) return errors::incomplete_signature("The Date header is not an HTTP date.");
  }
  std::string amz_date = sigv4::amz_date(*signed_at);

  if (auth->access_key_id != credentials.access_key_id) {
    return errors::auth_failure(
        "AWS was not able to validate the provided access credentials: "
        "the access key ID " +
        auth->access_key_id.substr(0, 40) + " is not known here.");
  }
  if (auth->terminal != "aws4_request") {
    return errors::incomplete_signature("Credential must end in /aws4_request, not /" +
                                        auth->terminal.substr(0, 40) + ".");
  }
  if (auth->service != kSigV4Service) {
    return errors::signature_does_not_match(
        "Credential should be scoped to correct service: 'ec2', not '" +
        auth->service.substr(0, 40) + "'.");
  }
  if (auth->date != amz_date.substr(0, 8)) {
    return errors::signature_does_not_match(
        "Date in Credential scope (" + auth->date.substr(0, 40) + ") does not match the date " +
        amz_date.substr(0, 8) + " of " + date_header + ".");
  }
  if (auth->region != region) {
    return errors::signature_does_not_match(
        "Credential should be scoped to a valid region: this "
        "endpoint serves region '" +
        std::string(region) + "', not '" + auth->region.substr(0, 40) + "'.");
  }
  auto skew = now > *signed_at ? now - *signed_at : *signed_at - now;
  if (skew > max_skew) {
    return errors::request_expired(
        "Request has expired: it was signed at " + amz_date + ", the server's time is " +
        sigv4::amz_date(now) + ", and they may differ by at most " + seconds_text(max_skew) + ".");
  }
  const auto& names = auth->signed_headers;
  if (std::ranges::find(names, "host") == names.end()) {
    return errors::signature_does_not_match(
        "'Host' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (std::ranges::find(names, date_header) == names.end()) {
    return errors::signature_does_not_match("'" + date_header +
                                            "' must be a 'SignedHeader' in the AWS Authorization.");
  }

  // The payload: its SHA-256, which X-Amz-Content-Sha256 may state (then it must be right).
  std::string payload_hash = sigv4::sha256_hex(request.body);
  auto stated = header_values(request, "x-amz-content-sha256");
  if (!stated.empty()) {
    std::string_view s = trim(stated.front());
    if (s == "UNSIGNED-PAYLOAD" || s.starts_with("STREAMING-")) {
      return errors::incomplete_signature(
          "maya needs the payload signed; X-Amz-Content-Sha256 must be its SHA-256.");
    }
    if (stated.size() > 1 || s != payload_hash) {
      return errors::signature_does_not_match(
          "X-Amz-Content-Sha256 does not match the SHA-256 of the request body.");
    }
  }

  auto canonical = sigv4::canonical_request(request.method, request.target, request.headers, names,
                                            payload_hash);
  if (!canonical) return canonical.error();
  std::string scope = auth->date + "/" + auth->region + "/" + auth->service + "/aws4_request";
  std::string to_sign = sigv4::string_to_sign(amz_date, scope, *canonical);
  std::string key =
      sigv4::signing_key(credentials.secret_access_key, auth->date, auth->region, auth->service);
  std::string expected = sigv4::hmac_sha256_hex(key, to_sign);
  if (!is_lower_hex64(auth->signature) ||
      CRYPTO_memcmp(expected.data(), auth->signature.data(), expected.size()) != 0) {
    return errors::signature_does_not_match(
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method.");
  }
  return std::nullopt;
}

void sign(SignedRequest& request, const Credentials& credentials, std::string_view region,
          std::string_view service, system_clock::time_point when) {
  std::erase_if(request.headers, [](const auto& h) {
    return iequals(h.first, "authorization") || iequals(h.first, "x-amz-date");
  });
  std::string date = sigv4::amz_date(when);
  request.headers.emplace_back("X-Amz-Date", date);
  std::vector<std::string> names;
  for (const auto& [n, v] : request.headers) {
    std::string l(n);
    std::ranges::transform(l, l.begin(), [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    names.push_back(std::move(l));
  }
  std::ranges::sort(names);
  auto [first, last] = std::ranges::unique(names);
  names.erase(first, last);
  auto canonical = sigv4::canonical_request(request.method, request.target, request.headers, names,
                                            sigv4::sha256_hex(request.body));
  std::string scope =
      date.substr(0, 8) + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  std::string key =
      sigv4::signing_key(credentials.secret_access_key, date.substr(0, 8), region, service);
  std::string signature =
      sigv4::hmac_sha256_hex(key, sigv4::string_to_sign(date, scope, canonical.value_or("")));
  std::string signed_names;
  for (const auto& n : names) signed_names += (signed_names.empty() ? "" : ";") + n;
  request.headers.emplace_back(
      "Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                           scope + ", SignedHeaders=" + signed_names + ", Signature=" + signature);
}

}  // namespace maya::ebs
