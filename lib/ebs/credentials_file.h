// The API's key pair, read from an AWS CLI shared-credentials file (`[api] credentials`, written
// by `maya init`): INI sections, `aws_access_key_id = …` and `aws_secret_access_key = …` under
// the profile's [NAME] (the same file the AWS CLI reads with --profile maya).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "lib/common/result.h"
#include "lib/ebs/sigv4.h"

namespace maya::ebs {

inline constexpr std::string_view kCredentialsProfile = "maya";

// Parses the text; `source` names the file in errors.
Result<Credentials> parse_credentials(std::string_view text, std::string_view profile,
                                      const std::string& source);
Result<Credentials> read_credentials(const std::filesystem::path& file,
                                     std::string_view profile = kCredentialsProfile);

// `maya init`: a fresh key pair (new_access_key_pair) under [maya], mode 0600, written
// atomically; an existing file is kept (init --force never replaces the pair clients hold).
// True when it wrote one.
Result<bool> write_new_credentials(const std::filesystem::path& file);

}  // namespace maya::ebs
