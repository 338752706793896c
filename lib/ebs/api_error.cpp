#include "lib/ebs/api_error.h"

#include "lib/ebs/xml_writer.h"

namespace maya::ebs {

std::string error_document(const ApiError& error, std::string_view request_id) {
  XmlWriter w;
  w.open("Response");
  w.open("Errors");
  w.open("Error");
  w.text("Code", error.code);
  w.text("Message", error.message);
  w.close();
  w.close();
  w.text("RequestID", request_id);
  return w.finish();
}

namespace errors {
namespace {

ApiError make(int status, std::string_view code, std::string message) {
  return ApiError{status, std::string(code), std::move(message)};
}

std::string s(std::string_view v) {
  return std::string(v);
}

}  // namespace

ApiError missing_parameter(std::string_view name) {
  return make(400, "MissingParameter", "The request must contain the parameter " + s(name) + ".");
}

ApiError invalid_parameter_value(std::string_view name, std::string_view value,
                                 std::string_view why) {
  return make(400, "InvalidParameterValue",
              "Value (" + s(value) + ") for parameter " + s(name) + " is invalid. " + s(why));
}

ApiError invalid_parameter(std::string_view message) {
  return make(400, "InvalidParameterValue", s(message));
}

ApiError invalid_parameter_combination(std::string_view message) {
  return make(400, "InvalidParameterCombination", s(message));
}

ApiError unknown_parameter(std::string_view name) {
  return make(400, "UnknownParameter", "The parameter " + s(name) + " is not recognized.");
}

ApiError invalid_action(std::string_view action) {
  return make(400, "InvalidAction",
              "The action " + s(action) + " is not valid for this web service.");
}

ApiError malformed_query_string(std::string_view why) {
  return make(400, "MalformedQueryString",
              "The request body is not a valid query string: " + s(why));
}

ApiError request_too_large(std::size_t size, std::size_t limit) {
  return make(413, "RequestEntityTooLarge",
              "The request body has " + std::to_string(size) + " bytes; the limit is " +
                  std::to_string(limit) + ".");
}

ApiError volume_not_found(std::string_view volume_id) {
  return make(400, "InvalidVolume.NotFound", "The volume '" + s(volume_id) + "' does not exist.");
}

ApiError snapshot_not_found(std::string_view snapshot_id) {
  return make(400, "InvalidSnapshot.NotFound",
              "The snapshot '" + s(snapshot_id) + "' does not exist.");
}

ApiError snapshot_in_use(std::string_view snapshot_id, std::string_view why) {
  return make(400, "InvalidSnapshot.InUse",
              "The snapshot " + s(snapshot_id) + " is in use: " + s(why));
}

ApiError volume_in_use(std::string_view volume_id, std::string_view why) {
  return make(400, "VolumeInUse", s(volume_id) + " is in use: " + s(why));
}

ApiError incorrect_state(std::string_view message) {
  return make(400, "IncorrectState", s(message));
}

ApiError attachment_not_found(std::string_view volume_id, std::string_view instance_id) {
  return make(
      400, "InvalidAttachment.NotFound",
      "The volume " + s(volume_id) + " is not attached to instance " + s(instance_id) + ".");
}

ApiError incorrect_instance_state(std::string_view instance_id, std::string_view why) {
  return make(400, "IncorrectInstanceState",
              "The instance '" + s(instance_id) +
                  "' is not in a state from which it can be "
                  "used: " +
                  s(why) + ".");
}

ApiError zone_mismatch(std::string_view volume_id, std::string_view volume_zone,
                       std::string_view instance_id, std::string_view instance_zone) {
  return make(400, "InvalidVolume.ZoneMismatch",
              "The volume '" + s(volume_id) + "' is in zone " + s(volume_zone) +
                  ", not in the same availability zone as instance '" + s(instance_id) + "' (" +
                  s(instance_zone) + ").");
}

ApiError instance_not_found(std::string_view instance_id) {
  return make(400, "InvalidInstanceID.NotFound",
              "The instance ID '" + s(instance_id) + "' does not exist.");
}

ApiError idempotent_parameter_mismatch(std::string_view client_token) {
  return make(
      400, "IdempotentParameterMismatch",
      "The client token '" + s(client_token) + "' was already used with different parameters.");
}

ApiError auth_failure(std::string_view message) {
  return make(401, "AuthFailure", s(message));
}

ApiError signature_does_not_match(std::string_view message) {
  return make(403, "SignatureDoesNotMatch", s(message));
}

ApiError incomplete_signature(std::string_view message) {
  return make(400, "IncompleteSignature", s(message));
}

ApiError request_expired(std::string_view message) {
  return make(400, "RequestExpired", s(message));
}

ApiError internal_error(std::string_view message) {
  return make(500, "InternalError", s(message));
}

}  // namespace errors
}  // namespace maya::ebs
