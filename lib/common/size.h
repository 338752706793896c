// Capacities as people write them: "100GiB", "10G", "512MiB", "1.5TiB", "4096", "20GB", "10Gi".
// K/M/G/T, Ki/Mi/Gi/Ti/Pi (Kubernetes) and KiB…TiB are powers of 1024; KB…TB are powers of 1000; a
// bare number is bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/common/result.h"

namespace maya {

Result<std::uint64_t> parse_size(std::string_view text);

// The shortest exact binary form ("100GiB", "1536MiB", "4097B").
std::string format_size(std::uint64_t bytes);
// "1.5GiB", "312.0MiB", "17B": one decimal, for progress and rates.
std::string format_size_approx(std::uint64_t bytes);
// For people: "100GiB" when a binary unit is exact and short, "10GB (9.3GiB)" for a size given in
// decimal units, else "9.3GiB"; never "9765625KiB".
std::string format_size_human(std::uint64_t bytes);

}  // namespace maya
