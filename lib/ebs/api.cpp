#include "lib/ebs/api.h"

#include "drivers/volume_service.h"

namespace maya::ebs {

Api::Api(ApiSettings settings, drivers::VolumeService* volumes)
    : settings_(std::move(settings)), volumes_(volumes), metadata_(settings_.identity) {}

Api::~Api() = default;

http::Response Api::operator()(const http::Request& request) {
  if (Metadata::handles(request.target)) return metadata_.handle(request);
  return server_error(404, "no such path: " + request.target.substr(0, request.target.find('?')));
}

http::Response server_error(int status, const std::string& message) {
  return http::Response{status, message, "text/plain"};
}

}  // namespace maya::ebs
