#include "gateway/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <string>

namespace streamer {
namespace {

using Status = ProxyHeader::Status;

std::string v2(unsigned char ver_cmd, unsigned char fam, std::string body) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += char(ver_cmd);
  h += char(fam);
  h += char((body.size() >> 8) & 0xff);
  h += char(body.size() & 0xff);
  return h + body;
}

std::string v2_tcp4(std::string tail = {}) {
  std::string addrs{
      "\xcb\x00\x71\x07"   // 203.0.113.7
      "\x0a\x00\x00\x01"   // 10.0.0.1
      "\x30\x39\x01\xbb",  // 12345, 443
      12};
  return v2(0x21, 0x11, addrs + tail);
}

TEST(ProxyProtocol, V1Tcp4NamesTheClientAndItsLength) {
  const std::string header = "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n";
  auto h = parse_proxy_header(header + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(h.status, Status::kComplete) << h.error;
  EXPECT_EQ(h.length, header.size());
  ASSERT_TRUE(h.source);
  EXPECT_EQ(h.source->to_string(), "203.0.113.7");
}

TEST(ProxyProtocol, V1Tcp6AndUnknown) {
  auto h = parse_proxy_header("PROXY TCP6 2001:db8::5 2001:db8::1 1 2\r\n");
  ASSERT_EQ(h.status, Status::kComplete) << h.error;
  EXPECT_EQ(h.source->to_string(), "2001:db8::5");
  auto u = parse_proxy_header("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nxyz");
  ASSERT_EQ(u.status, Status::kComplete);
  EXPECT_FALSE(u.source);
  EXPECT_EQ(u.length, 35u);
}

TEST(ProxyProtocol, EveryPrefixOfAValidHeaderIsIncomplete) {
  for (const std::string& header :
       {std::string("PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n"), v2_tcp4("\x03\x00\x01z")}) {
    for (std::size_t n = 0; n < header.size(); ++n)
      EXPECT_EQ(parse_proxy_header(header.substr(0, n)).status, Status::kIncomplete) << n;
    EXPECT_EQ(parse_proxy_header(header).status, Status::kComplete);
  }
}

TEST(ProxyProtocol, PlainHttpAndTlsAreAbsentFromTheFirstByte) {
  EXPECT_EQ(parse_proxy_header("G").status, Status::kAbsent);
  EXPECT_EQ(parse_proxy_header("GET / HTTP/1.1\r\n").status, Status::kAbsent);
  EXPECT_EQ(parse_proxy_header("\x16\x03\x01").status, Status::kAbsent);
  EXPECT_EQ(parse_proxy_header("PROXX").status, Status::kAbsent);
  EXPECT_EQ(parse_proxy_header(std::string("\r\n\r\n\0\r\nQUIX", 12)).status, Status::kAbsent);
}

TEST(ProxyProtocol, MalformedV1HeadersAreRefused) {
  for (const char* bad : {
           "PROXY TCP4 203.0.113.7 10.0.0.1 56324\r\n",        // a field missing
           "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443 9\r\n",  // one too many
           "PROXY TCP4 2001:db8::5 10.0.0.1 1 2\r\n",          // v6 under TCP4
           "PROXY TCP6 203.0.113.7 2001:db8::1 1 2\r\n",       // v4 under TCP6
           "PROXY TCP4 203.0.113.7 10.0.0.1 65536 443\r\n",    // port out of range
           "PROXY TCP4 203.0.113.7 10.0.0.1 -1 443\r\n",       // signed port
           "PROXY TCP4 203.0.113.7 10.0.0.1 080 443\r\n",      // leading zero
           "PROXY UDP4 203.0.113.7 10.0.0.1 1 2\r\n",          // not TCP
           "PROXY TCP4 203.0.113.7 10.0.0.1 1 2\n",            // LF without CR
           "PROXY TCP4 203.0.113.7\r10.0.0.1 1 2\r\n",         // stray CR
           "PROXY TCP4  203.0.113.7 10.0.0.1 1 2\r\n",         // double space
           "PROXY UNKNOWN a\rb\r\n",                           // a stray CR in the ignored part
           "PROXY TCP4 203.0.113.7\r1\r",  // incomplete, but a CR already went unanswered
       }) {
    auto h = parse_proxy_header(bad);
    EXPECT_EQ(h.status, Status::kMalformed) << bad;
    EXPECT_FALSE(h.error.empty()) << bad;
  }
  // No CRLF within the spec's 107 bytes.
  EXPECT_EQ(parse_proxy_header("PROXY UNKNOWN " + std::string(200, 'a')).status,
            Status::kMalformed);
  EXPECT_EQ(parse_proxy_header("PROXY UNKNOWN " + std::string(80, 'a')).status,
            Status::kIncomplete);
}

TEST(ProxyProtocol, V2Tcp4AndTcp6NameTheClientAndSkipTlvs) {
  const std::string tlv(
      "\x03\x00\x04"
      "abcd",
      7);
  auto h = parse_proxy_header(v2_tcp4(tlv) + "GET");
  ASSERT_EQ(h.status, Status::kComplete) << h.error;
  EXPECT_EQ(h.length, 16u + 12 + tlv.size());
  EXPECT_EQ(h.source->to_string(), "203.0.113.7");

  std::string six(36, '\0');
  six[0] = char(0x20);
  six[1] = char(0x01);
  six[2] = char(0x0d);
  six[3] = char(0xb8);
  six[15] = 5;  // 2001:db8::5
  auto h6 = parse_proxy_header(v2(0x21, 0x21, six));
  ASSERT_EQ(h6.status, Status::kComplete) << h6.error;
  EXPECT_EQ(h6.source->to_string(), "2001:db8::5");
}

TEST(ProxyProtocol, V2LocalAndNonIpFamiliesNameNoClient) {
  auto local = parse_proxy_header(v2(0x20, 0x00, ""));
  ASSERT_EQ(local.status, Status::kComplete);
  EXPECT_EQ(local.length, 16u);
  EXPECT_FALSE(local.source);
  auto local_with_addrs = parse_proxy_header(v2(0x20, 0x11, std::string(12, '\x01')));
  ASSERT_EQ(local_with_addrs.status, Status::kComplete);
  EXPECT_FALSE(local_with_addrs.source);
  auto udp = parse_proxy_header(v2(0x21, 0x12, std::string(12, '\x01')));
  ASSERT_EQ(udp.status, Status::kComplete);
  EXPECT_FALSE(udp.source);
}

TEST(ProxyProtocol, MalformedV2HeadersAreRefused) {
  EXPECT_EQ(parse_proxy_header(v2(0x11, 0x11, std::string(12, '\0'))).status,
            Status::kMalformed);  // version 1 in a v2 signature
  EXPECT_EQ(parse_proxy_header(v2(0x22, 0x11, std::string(12, '\0'))).status,
            Status::kMalformed);  // command 2
  EXPECT_EQ(parse_proxy_header(v2(0x21, 0x41, std::string(12, '\0'))).status,
            Status::kMalformed);  // family 4
  EXPECT_EQ(parse_proxy_header(v2(0x21, 0x11, std::string(11, '\0'))).status,
            Status::kMalformed);  // IPv4 needs 12 bytes
  EXPECT_EQ(parse_proxy_header(v2(0x21, 0x21, std::string(35, '\0'))).status,
            Status::kMalformed);  // IPv6 needs 36
  // The version byte is judged as soon as it arrives.
  EXPECT_EQ(parse_proxy_header(v2(0x31, 0x11, "").substr(0, 13)).status, Status::kMalformed);
}

}  // namespace
}  // namespace streamer
