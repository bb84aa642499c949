#include "app/listen_address.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <stdexcept>

namespace streamer::app {
namespace {

std::string refusal(std::string_view listen) {
  try {
    parse_listen_address(listen);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(ListenAddress, NumericAddressesPassThrough) {
  auto v4 = parse_listen_address("127.0.0.1:8080");
  EXPECT_EQ(v4.address, "127.0.0.1");
  EXPECT_EQ(v4.port, 8080);
  auto any = parse_listen_address("0.0.0.0:0");
  EXPECT_EQ(any.address, "0.0.0.0");
  EXPECT_EQ(any.port, 0);
  auto v6 = parse_listen_address("[::1]:9000");
  EXPECT_EQ(v6.address, "::1");
  EXPECT_EQ(v6.port, 9000);
}

TEST(ListenAddress, LocalhostResolvesToTheIpv4Loopback) {
  auto a = parse_listen_address("localhost:8080");
  EXPECT_EQ(a.address, "127.0.0.1");
  EXPECT_EQ(a.port, 8080);
}

TEST(ListenAddress, BadValuesAreRefusedWithTheReason) {
  EXPECT_NE(refusal("localhost").find("no port"), std::string::npos);
  EXPECT_NE(refusal("127.0.0.1:http").find("number from 0 to 65535"), std::string::npos);
  EXPECT_NE(refusal("127.0.0.1:65536").find("number from 0 to 65535"), std::string::npos);
  EXPECT_NE(refusal("127.0.0.1:").find("number from 0 to 65535"), std::string::npos);
  EXPECT_NE(refusal(":8080").find("no host"), std::string::npos);
  EXPECT_NE(refusal("::1:8080").find("brackets"), std::string::npos);
  EXPECT_NE(refusal("[::1:8080").find("unclosed"), std::string::npos);
  const auto unknown = refusal("no-such-host.invalid:8080");
  EXPECT_NE(unknown.find("cannot resolve host 'no-such-host.invalid'"), std::string::npos)
      << unknown;
  EXPECT_NE(unknown.find("--listen 'no-such-host.invalid:8080'"), std::string::npos) << unknown;
}

TEST(ListenAddress, FailureMessagesSayWhatToDo) {
  auto in_use =
      listen_failure_message("127.0.0.1:8080", std::error_code(EADDRINUSE, std::system_category()));
  EXPECT_EQ(in_use.rfind("cannot listen on 127.0.0.1:8080: the port is already in use", 0), 0u)
      << in_use;
  EXPECT_NE(in_use.find("--listen"), std::string::npos);
  auto denied =
      listen_failure_message("0.0.0.0:80", std::error_code(EACCES, std::system_category()));
  EXPECT_NE(denied.find("above 1023"), std::string::npos);
}

}  // namespace
}  // namespace streamer::app
