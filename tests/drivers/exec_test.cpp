// run_command: exit status, output capture, argv passed verbatim, timeouts, missing programs.
#include "lib/process/exec.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

namespace maya {
namespace {

using namespace std::chrono_literals;

TEST(RunCommand, ReportsTheExitStatus) {
  auto ok = run_command({"true"}, 10s);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->exit_code, 0);
  EXPECT_TRUE(ok->succeeded());
  auto bad = run_command({"false"}, 10s);
  ASSERT_TRUE(bad) << bad.error().message;
  EXPECT_EQ(bad->exit_code, 1);
  EXPECT_EQ(bad->term_signal, 0);
  EXPECT_FALSE(bad->succeeded());
}

TEST(RunCommand, CapturesStdoutAndStderrTogether) {
  auto result = run_command({"ls", "-d", "/", "/maya-no-such-path"}, 10s);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_NE(result->exit_code, 0);
  EXPECT_NE(result->output.find("/\n"), std::string::npos) << result->output;  // stdout
  EXPECT_NE(result->output.find("maya-no-such-path"), std::string::npos) << result->output;
}

TEST(RunCommand, PassesArgumentsVerbatimWithoutAShell) {
  auto result = run_command({"printf", "%s|", "a b", "$HOME", "*", "; true", "`id`"}, 10s);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->output, "a b|$HOME|*|; true|`id`|");
}

TEST(RunCommand, KillsAProgramThatOutlivesTheTimeout) {
  auto start = std::chrono::steady_clock::now();
  auto result = run_command({"sleep", "30"}, 1s);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("sleep 30 did not finish within 1 s"), std::string::npos)
      << result.error().message;
  EXPECT_LT(elapsed, 10s);
}

TEST(RunCommand, RunsTheChildInItsOwnProcessGroup) {
  // kill 0 signals the caller's process group: ours would die if the child shared it.
  auto result = run_command({"kill", "-KILL", "0"}, 10s);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->term_signal, 9);
  EXPECT_EQ(result->exit_code, -1);
  auto checked = run_command_checked({"kill", "-KILL", "0"}, 10s);
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message.find("killed by SIGKILL"), std::string::npos)
      << checked.error().message;
}

TEST(RunCommand, AMissingProgramIsAClearError) {
  auto result = run_command({"maya-no-such-tool", "--help"}, 10s);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("maya-no-such-tool is not installed"), std::string::npos)
      << result.error().message;
  auto by_path = run_command({"/nonexistent/maya-tool"}, 10s);
  ASSERT_FALSE(by_path);
  EXPECT_NE(by_path.error().message.find("/nonexistent/maya-tool"), std::string::npos);
  EXPECT_NE(by_path.error().message.find("No such file"), std::string::npos)
      << by_path.error().message;
}

TEST(RunCommand, ANonExecutableFileIsAClearError) {
  auto result = run_command({"/etc/hostname"}, 10s);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("cannot run /etc/hostname"), std::string::npos)
      << result.error().message;
}

TEST(RunCommand, AnEmptyArgvIsRefused) {
  EXPECT_FALSE(run_command({}, 10s));
  EXPECT_FALSE(run_command({""}, 10s));
}

TEST(RunCommand, LargeOutputIsBoundedAndDoesNotBlock) {
  auto result = run_command({"head", "-c", "5000000", "/dev/zero"}, 30s);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_GE(result->output.size(), 1u << 20);
  EXPECT_LT(result->output.size(), (1u << 20) + 100);
  EXPECT_NE(result->output.find("[output truncated]"), std::string::npos);
}

TEST(RunCommand, TheProgramInheritsNoOtherDescriptors) {
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(null, 0);
  int leaked = ::dup2(null, 100);  // dup2 leaves O_CLOEXEC off: a careless caller's descriptor
  ::close(null);
  ASSERT_EQ(leaked, 100);
  auto result = run_command({"ls", "/proc/self/fd"}, 10s);
  ::close(leaked);
  ASSERT_TRUE(result) << result.error().message;
  // ls sees 0, 1, 2 and the descriptor it opened to list the directory.
  EXPECT_EQ(result->output.find("100\n"), std::string::npos) << result->output;
}

TEST(RunCommand, StdinIsEmpty) {
  auto result = run_command({"cat"}, 10s);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->output, "");
}

TEST(RunCommandChecked, AFailureNamesTheCommandItsStatusAndItsOutput) {
  auto result = run_command_checked({"ls", "/maya-no-such-path"}, 10s);
  ASSERT_FALSE(result);
  const std::string& message = result.error().message;
  EXPECT_NE(message.find("ls /maya-no-such-path failed with exit status 2"), std::string::npos)
      << message;
  EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
}

TEST(RunCommandChecked, ASuccessReturnsTheOutput) {
  auto result = run_command_checked({"printf", "hello"}, 10s);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->output, "hello");
}

}  // namespace
}  // namespace maya
