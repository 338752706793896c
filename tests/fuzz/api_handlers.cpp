// The Docker plugin and control API handlers called directly (no socket, no HTTP framing): each
// input is a short sequence of requests on a fresh volume store, so Create → Mount → Remove and
// snapshot sequences are reachable. A handler may refuse anything, but never crash, and every
// answer must be JSON.
// Input: records of [route u8][name length u8][name][body length u16][body].
#include <array>
#include <cstdlib>

#include "lib/common/log.h"
#include "tests/fuzz/reader.h"
#include "tests/fuzz/routers.h"

namespace {

struct Route {
  const char* method;
  const char* target;  // "{}" is replaced by a fuzzed name
};
constexpr std::array kRoutes = {
    Route{"POST", "/Plugin.Activate"},
    Route{"POST", "/VolumeDriver.Create"},
    Route{"POST", "/VolumeDriver.Remove"},
    Route{"POST", "/VolumeDriver.Mount"},
    Route{"POST", "/VolumeDriver.Unmount"},
    Route{"POST", "/VolumeDriver.Path"},
    Route{"POST", "/VolumeDriver.Get"},
    Route{"POST", "/VolumeDriver.List"},
    Route{"POST", "/VolumeDriver.Capabilities"},
    Route{"GET", "/v1/status"},
    Route{"POST", "/v1/reload"},
    Route{"POST", "/v1/shutdown?stop_targets={}"},
    Route{"GET", "/v1/volumes"},
    Route{"POST", "/v1/volumes"},
    Route{"GET", "/v1/volumes/{}"},
    Route{"DELETE", "/v1/volumes/{}"},
    Route{"POST", "/v1/volumes/{}/replicas"},
    Route{"DELETE", "/v1/volumes/{}/replicas/r1"},
    Route{"POST", "/v1/volumes/{}/rebuild"},
    Route{"GET", "/v1/volumes/{}/snapshots"},
    Route{"POST", "/v1/volumes/{}/snapshots"},
    Route{"DELETE", "/v1/volumes/{}/snapshots/s1"},
    Route{"POST", "/v1/volumes/{}/snapshots/s1/revert"},
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  maya::log::set_level(maya::log::Level::error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  maya::fuzz::Reader in(data, size);
  maya::fuzz::Routers routers;
  for (int i = 0; i < 8 && !in.empty(); ++i) {
    const Route& route = kRoutes[in.u8() % kRoutes.size()];
    maya::http::Request request{.method = route.method, .target = route.target};
    std::string name = in.str(in.u8());
    if (auto at = request.target.find("{}"); at != std::string::npos)
      request.target.replace(at, 2, name);
    request.body = in.str(in.u16());
    maya::http::Response response = routers(request);
    if (response.content_type == "application/json" &&
        nlohmann::json::parse(response.body, nullptr, false).is_discarded())
      std::abort();  // every JSON answer parses
  }
  return 0;
}
