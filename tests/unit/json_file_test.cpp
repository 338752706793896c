// lib/common/json_file: the one loader of maya's JSON state files. Every failure names the
// file: missing, too large, not JSON, not an object, and a field the decoder rejects.
#include "lib/common/json_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "lib/common/files.h"

namespace maya {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class JsonFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/maya-json-file-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path write(const std::string& text) {
    const fs::path file = dir_ / "state.json";
    EXPECT_TRUE(write_file_atomic(file, text));
    return file;
  }

  fs::path dir_;
};

Result<std::string> name_of(const json& j) {
  return j.at("name").get<std::string>();
}

TEST_F(JsonFileTest, AnObjectIsDecoded) {
  const fs::path file = write(R"({"name": "db"})");
  auto name = load_json_file({.path = file}, name_of);
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(*name, "db");
}

TEST_F(JsonFileTest, AMissingFileIsReadFilesError) {
  auto r = read_json_file({.path = dir_ / "none.json"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "cannot read " + (dir_ / "none.json").string() + ": No such file or directory");
}

TEST_F(JsonFileTest, NotJsonOrNotAnObjectIsDamageNamingTheFile) {
  // A number past double's range is nlohmann's out_of_range, not a parse_error (found by fuzzing).
  for (const char* text : {"", "{", "[]", "7", "{\"a\": }", "{\"generation\": 1e3001}"}) {
    const fs::path file = write(text);
    auto r = read_json_file({.path = file, .kind = "record"});
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().message.rfind("record " + file.string() + " is damaged: ", 0), 0u)
        << r.error().message;
    auto said = read_json_file({.path = file, .not_an_object = "is not a JSON object"});
    ASSERT_FALSE(said) << text;
    EXPECT_EQ(said.error().message, file.string() + " is not a JSON object");
  }
}

TEST_F(JsonFileTest, AFieldTheDecoderRejectsIsDamage) {
  const fs::path file = write(R"({"name": 7})");
  auto r = load_json_file({.path = file}, name_of);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind(file.string() + " is damaged: [json.exception.type_error", 0),
            0u)
      << r.error().message;
  auto missing = load_json_file({.path = write("{}")}, name_of);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("is damaged: "), std::string::npos);
  EXPECT_NE(missing.error().message.find("'name' not found"), std::string::npos)
      << missing.error().message;
}

TEST_F(JsonFileTest, AFileOverTheBoundIsRefusedUnread) {
  const std::string text = R"({"name": ")" + std::string(100, 'x') + "\"}";
  const fs::path file = write(text);
  auto r = read_json_file({.path = file, .max_bytes = 64});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, file.string() + " is " + std::to_string(text.size()) +
                                   " bytes, more than the 64 a JSON state file may hold");
  EXPECT_TRUE(read_json_file({.path = file}));
}

}  // namespace
}  // namespace maya
