#include "lib/ebs/credentials_file.h"

#include <sstream>

#include "lib/common/files.h"
#include "lib/ebs/ids.h"

namespace maya::ebs {
namespace {

std::string trim(std::string_view s) {
  const char* ws = " \t\r";
  auto first = s.find_first_not_of(ws);
  if (first == std::string_view::npos) return "";
  return std::string(s.substr(first, s.find_last_not_of(ws) - first + 1));
}

}  // namespace

Result<Credentials> parse_credentials(std::string_view text, std::string_view profile,
                                      const std::string& source) {
  std::istringstream lines{std::string(text)};
  std::string line;
  bool in_profile = false, seen_profile = false;
  Credentials credentials;
  while (std::getline(lines, line)) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      std::string name = trim(std::string_view(t).substr(1, t.size() - 2));
      in_profile = name == profile;
      seen_profile = seen_profile || in_profile;
      continue;
    }
    if (!in_profile) continue;
    auto eq = t.find('=');
    if (eq == std::string::npos) continue;
    std::string key = trim(std::string_view(t).substr(0, eq));
    std::string value = trim(std::string_view(t).substr(eq + 1));
    if (key == "aws_access_key_id") credentials.access_key_id = value;
    if (key == "aws_secret_access_key") credentials.secret_access_key = value;
  }
  if (!seen_profile) return fail(source + " has no profile [" + std::string(profile) + "]");
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty())
    return fail(source + ": profile [" + std::string(profile) +
                "] needs aws_access_key_id and aws_secret_access_key");
  return credentials;
}

Result<Credentials> read_credentials(const std::filesystem::path& file, std::string_view profile) {
  MAYA_TRY(text, read_file(file));
  return parse_credentials(*text, profile, file.string());
}

Result<bool> write_new_credentials(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) return false;
  MAYA_TRY_VOID(make_dirs(file.parent_path(), 0755));
  const AccessKeyPair key = new_access_key_pair();
  MAYA_TRY_VOID(write_file_atomic(file,
                                  "[" + std::string(kCredentialsProfile) +
                                      "]\naws_access_key_id = " + key.access_key_id +
                                      "\naws_secret_access_key = " + key.secret_access_key + "\n",
                                  0600));
  return true;
}

}  // namespace maya::ebs
