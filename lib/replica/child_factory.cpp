#include "lib/replica/child_factory.h"

#include <filesystem>
#include <string>

#include "lib/block/file_backend.h"
#include "lib/replica/iscsi_child.h"

namespace maya::replica {
namespace {

using Opener = Result<Child> (*)(std::string_view id, std::string_view uri,
                                 const ChildOptions& options);

std::string not_a_file_uri(std::string_view id, std::string_view uri) {
  return "replica " + std::string(id) + ": \"" + std::string(uri) +
         "\" is not a file:///absolute/path URI";
}

Result<Child> open_file_child(std::string_view id, std::string_view uri,
                              const ChildOptions& options) {
  constexpr std::string_view kScheme = "file://";
  if (uri.size() <= kScheme.size() || uri[kScheme.size()] != '/')
    return fail(not_a_file_uri(id, uri));
  const std::filesystem::path dir(uri.substr(kScheme.size()));
  block::FileBackendOptions file;
  file.size = options.size_bytes;
  file.block_size = options.block_size;
  file.preallocate = !options.thin;
  MAYA_TRY(data, block::FileBackend::open(dir / kFileChildData, file));
  MAYA_TRY(journal, FileJournal::open(dir));
  return Child{std::move(*data), std::move(*journal)};
}

struct Scheme {
  std::string_view prefix;
  Opener open;
};

// Every kind of child this host can open, by the start of its URI.
constexpr Scheme kSchemes[] = {
    {"file://", open_file_child},
    {"iscsi://", open_iscsi_child},
};

}  // namespace

Result<void> release_child(std::string_view id, std::string_view uri, const ChildOptions& options) {
  if (!uri.starts_with("iscsi://") || options.owner_key == 0) return {};
  return release_iscsi_child(id, uri, options);
}

Result<Child> open_child(std::string_view id, std::string_view uri, const ChildOptions& options) {
  for (const auto& scheme : kSchemes) {
    if (uri.starts_with(scheme.prefix)) return scheme.open(id, uri, options);
  }
  const auto end = uri.find("://");
  if (end == std::string_view::npos || end == 0) return fail(not_a_file_uri(id, uri));
  return fail(
      "replica " + std::string(id) + ": \"" + std::string(uri) + "\" is of scheme \"" +
      std::string(uri.substr(0, end)) +
      "\", which this host cannot open (it serves file:///absolute/path and iscsi:// replicas)");
}

}  // namespace maya::replica
