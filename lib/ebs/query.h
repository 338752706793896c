// The EC2 Query protocol's requests, as botocore sends them: `POST /` with a form body
// (application/x-www-form-urlencoded: Action=CreateVolume&Version=2016-11-15&Size=1&…), lists
// flattened as Name.1, Name.2, …, structures as Name.1.Member. parse_query() decodes the body
// and the URL's query string (GET /?Action=… is answered too) into a Query; its accessors read
// the shapes EC2 actions use and answer bad values with EC2's error codes.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/ebs/api_error.h"

namespace maya::ebs {

// A body larger than this is refused (413) before it is parsed; the HTTP listener should
// refuse larger ones before reading them.
inline constexpr std::size_t kMaxQueryBytes = 1024 * 1024;
// More parameters than this (all of them, with every list item) are refused.
inline constexpr std::size_t kMaxQueryParameters = 10000;

struct Filter {  // Filter.N.Name, Filter.N.Value.M
  std::string name;
  std::vector<std::string> values;
};

struct Tag {  // Tag.N.Key, Tag.N.Value (a Value may be absent: DeleteTags by key)
  std::string key;
  std::optional<std::string> value;
};

struct TagSpecification {  // TagSpecification.N.ResourceType, TagSpecification.N.Tag.M.*
  std::string resource_type;
  std::vector<Tag> tags;
};

class Query {
 public:
  std::string action;   // "CreateVolume"
  std::string version;  // "2016-11-15"
  // Every other parameter, decoded, by name.
  std::map<std::string, std::string, std::less<>> params;

  bool has(std::string_view name) const { return params.find(name) != params.end(); }
  std::optional<std::string> get(std::string_view name) const;
  // The parameter, or MissingParameter naming it.
  ApiResult<std::string> require(std::string_view name) const;
  // An integer in [min, max], or nullopt when absent; InvalidParameterValue when not one.
  ApiResult<std::optional<std::int64_t>> integer(std::string_view name, std::int64_t min,
                                                 std::int64_t max) const;
  // "true" or "false" (any case), or nullopt when absent.
  ApiResult<std::optional<bool>> boolean(std::string_view name) const;

  // PREFIX.1, PREFIX.2, … in index order (gaps allowed, as EC2 allows them).
  ApiResult<std::vector<std::string>> list(std::string_view prefix) const;
  // Filter.N.Name + Filter.N.Value.M.
  ApiResult<std::vector<Filter>> filters(std::string_view prefix = "Filter") const;
  // PREFIX.N.Key + PREFIX.N.Value.
  ApiResult<std::vector<Tag>> tags(std::string_view prefix = "Tag") const;
  // TagSpecification.N.ResourceType + TagSpecification.N.Tag.M.Key/Value.
  ApiResult<std::vector<TagSpecification>> tag_specifications(
      std::string_view prefix = "TagSpecification") const;

  // UnknownParameter for the first parameter that matches none of `known`: a name matches
  // itself, "Prefix.*" matches every parameter that starts with "Prefix.".
  std::optional<ApiError> check_known(std::initializer_list<std::string_view> known) const;
};

// Decodes a form-encoded string into (name, value) pairs in order: '&'-separated (empty pieces
// skipped), '+' is a space, %XX escapes; a piece without '=' has an empty value.
ApiResult<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view text);

// The request's parameters: the query string of `target` ("/?Action=…", may be just "/") and
// the form body, together. Action and Version are required. Errors: a body over
// kMaxQueryBytes (413), bad escapes, names that are not printable ASCII, values that are not
// UTF-8 or hold control characters, a name given twice, too many parameters.
ApiResult<Query> parse_query(std::string_view target, std::string_view body);

}  // namespace maya::ebs
