// The control API the CLI speaks: HTTP/JSON on <run>/maya.sock (mode 0600).
//   GET  /v1/status    -> daemon status
//   POST /v1/reload    -> re-read the config file; 400 {"error": "PATH:LINE:COL: ..."} keeps the
//   old one
//   POST /v1/shutdown[?stop_targets=true] -> clean stop; volume targets keep running unless
//   asked to stop too
//   POST /v1/restart {"exe": PATH} -> the daemon execs PATH (same pid), which inherits the
//   listening sockets (LISTEN_FDS); status "instance" changes once the new image serves
// Errors are {"error": "one sentence"} with a 4xx/5xx status.
#pragma once

#include <functional>

#include <nlohmann/json.hpp>

#include "lib/common/result.h"
#include "lib/http/json.h"
#include "lib/http/message.h"
#include "lib/http/router.h"

namespace maya::daemon {

struct ControlHooks {
  std::function<nlohmann::json()> status;
  std::function<Result<nlohmann::json>()> reload;
  std::function<Result<void>(bool stop_targets)> shutdown;
  // Execs `exe` in this process, handing it the listening sockets.
  std::function<Result<nlohmann::json>(const std::string& exe)> restart;
};

using http::json_error;
using http::json_response;

// Routes of the control API, bound to the daemon through `hooks`.
http::Router make_control_router(ControlHooks hooks);

}  // namespace maya::daemon
