#include "gateway/client_address.hpp"

#include <gtest/gtest.h>

namespace streamer {
namespace {

TEST(ClientAddress, ForwardedForCountsOnlyFromTrustedProxies) {
  auto trusted = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1");
  EXPECT_EQ(client_address("127.0.0.1", "203.0.113.7", trusted), "203.0.113.7");
  EXPECT_EQ(client_address("192.0.2.1", "203.0.113.7", trusted),
            "192.0.2.1");  // not a proxy of ours
  EXPECT_EQ(client_address("127.0.0.1", "", trusted), "127.0.0.1");
  EXPECT_EQ(client_address("127.0.0.1", "203.0.113.7", TrustedProxies{}), "127.0.0.1");
}

TEST(ClientAddress, TheRightmostUntrustedEntryWinsSoAClientCannotSpoofItsAddress) {
  auto trusted = TrustedProxies::parse("10.0.0.0/8");
  // The client wrote "1.2.3.4" itself; the proxy 10.1.1.1 appended what it saw.
  EXPECT_EQ(client_address("10.0.0.2", "1.2.3.4, 198.51.100.9, 10.1.1.1", trusted), "198.51.100.9");
  EXPECT_EQ(client_address("10.0.0.2", "10.1.1.1, 10.2.2.2", trusted),
            "10.1.1.1");  // all trusted: the outermost
  EXPECT_EQ(client_address("10.0.0.2", "198.51.100.9, garbage", trusted), "10.0.0.2");
}

TEST(ClientAddress, NetworksAndIpv6) {
  auto trusted = TrustedProxies::parse("fd00::/8,192.168.1.0/24");
  EXPECT_TRUE(trusted.contains(boost::asio::ip::make_address("fd12::1")));
  EXPECT_FALSE(trusted.contains(boost::asio::ip::make_address("fe80::1")));
  EXPECT_TRUE(trusted.contains(boost::asio::ip::make_address("192.168.1.200")));
  EXPECT_FALSE(trusted.contains(boost::asio::ip::make_address("192.168.2.1")));
  EXPECT_EQ(client_address("::ffff:192.168.1.3", "2001:db8::5", trusted), "2001:db8::5");
}

TEST(TrustedProxies, BadEntriesAreRefused) {
  for (const char* bad : {"10.0.0.0/33", "nonsense", "10.0.0.0/", "::/129", "1.2.3.4/x"})
    EXPECT_THROW(TrustedProxies::parse(bad), std::invalid_argument) << bad;
  EXPECT_TRUE(TrustedProxies::parse("").empty());
}

}  // namespace
}  // namespace streamer
