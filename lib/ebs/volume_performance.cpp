#include "lib/ebs/volume_performance.h"

#include <limits>
#include <string>

namespace maya::ebs {
namespace {

struct Range {
  std::int64_t min = 0, max = 0, default_value = 0;  // default 0: the parameter is required
};

// The documented range of `parameter` ("iops", "throughput") for `type`; none when the type
// does not take it.
std::optional<Range> range_of(std::string_view parameter, std::string_view type) {
  if (parameter == "iops") {
    if (type == "gp3") return Range{3000, 16000, 3000};
    if (type == "io1" || type == "io2") return Range{100, 64000, 0};
    return std::nullopt;
  }
  if (type == "gp3") return Range{125, 1000, 125};
  return std::nullopt;
}

ApiResult<std::int64_t> checked(const Query& q, std::string_view name, std::string_view parameter,
                                std::string_view type) {
  constexpr std::int64_t kInt32Max = std::numeric_limits<std::int32_t>::max();
  auto value = q.integer(name, 0, kInt32Max);  // the model's Integer; the type's range below
  if (!value) return api_fail(value.error());
  const std::optional<Range> range = range_of(parameter, type);
  if (!range) {
    if (!*value) return 0;
    return api_fail(errors::invalid_parameter_combination(
        "The parameter " + std::string(parameter) + " is not supported for " + std::string(type) +
        " volumes."));
  }
  if (!*value) {
    if (range->default_value == 0) return api_fail(errors::missing_parameter(parameter));
    return range->default_value;
  }
  const std::int64_t v = **value;
  const std::string unit = parameter == "iops" ? "" : " MiB/s";
  if (v < range->min || v > range->max)
    return api_fail(errors::invalid_parameter_value(
        name, std::to_string(v),
        "Volume " + std::string(parameter) + " of " + std::to_string(v) + unit + " is too " +
            (v < range->min ? "low; minimum is " + std::to_string(range->min)
                            : "high; maximum is " + std::to_string(range->max)) +
            unit + " for " + std::string(type) + " volumes."));
  return v;
}

}  // namespace

ApiResult<VolumePerformance> volume_performance(const Query& q, std::string_view volume_type) {
  VolumePerformance p;
  auto iops = checked(q, "Iops", "iops", volume_type);
  if (!iops) return api_fail(iops.error());
  p.iops = *iops;
  auto throughput = checked(q, "Throughput", "throughput", volume_type);
  if (!throughput) return api_fail(throughput.error());
  p.throughput = *throughput;
  return p;
}

}  // namespace maya::ebs
