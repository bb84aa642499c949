// Fuzzes the PROXY protocol header parser (gateway/proxy_protocol parse_proxy_header):
// the first bytes a connection sends when --proxy-protocol is on.
//
// The input is those bytes. Invariants:
//  - a complete header is no longer than the input, a v1 one at most 107 bytes, and it
//    parses the same from exactly its own bytes (what follows it cannot change it);
//  - every proper prefix of a complete or incomplete header is incomplete (the parser
//    never decides before the bytes allow it), checked for the first 300 prefixes;
//  - incomplete means more bytes could still complete it: under 107 bytes for v1, and
//    under the fixed part plus the declared length for v2;
//  - "absent" only when the input starts with neither signature, malformed comes with
//    a reason, and a named client address is never an IPv4-mapped IPv6 address.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "gateway/proxy_protocol.hpp"

using namespace streamer;
using Status = ProxyHeader::Status;

namespace {

constexpr std::string_view kV1{"PROXY "};
constexpr std::string_view kV2{"\r\n\r\n\0\r\nQUIT\n", 12};

bool starts_like(std::string_view data, std::string_view sig) {
  const auto n = std::min(data.size(), sig.size());
  return data.substr(0, n) == sig.substr(0, n);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  const ProxyHeader h = parse_proxy_header(data);
  const bool v1 = starts_like(data, kV1) && !data.empty();
  const bool v2 = starts_like(data, kV2) && !data.empty();
  switch (h.status) {
    case Status::kAbsent:
      FUZZ_CHECK(!data.empty() && !v1 && !v2, "absent only without a signature");
      break;
    case Status::kMalformed:
      FUZZ_CHECK(!h.error.empty(), "a malformed header has a reason");
      FUZZ_CHECK(v1 || v2, "malformed only after a signature");
      break;
    case Status::kIncomplete:
      FUZZ_CHECK(data.empty() || v1 || v2, "incomplete only while a signature may follow");
      if (v1) FUZZ_CHECK(data.size() < kProxyV1MaxLength, "v1 incomplete beyond 107 bytes");
      if (v2 && data.size() >= kProxyV2FixedLength) {
        const std::size_t declared =
            (std::size_t(std::uint8_t(data[14])) << 8) | std::uint8_t(data[15]);
        FUZZ_CHECK(data.size() < kProxyV2FixedLength + declared, "v2 incomplete with all bytes");
      }
      break;
    case Status::kComplete: {
      FUZZ_CHECK(h.length > 0 && h.length <= data.size(), "length within the input");
      if (v1) FUZZ_CHECK(h.length <= kProxyV1MaxLength, "v1 longer than 107 bytes");
      const ProxyHeader alone = parse_proxy_header(data.substr(0, h.length));
      FUZZ_CHECK(
          alone.status == Status::kComplete && alone.length == h.length && alone.source == h.source,
          "the header parses the same without what follows");
      if (h.source && h.source->is_v6())
        FUZZ_CHECK(!h.source->to_v6().is_v4_mapped(), "v4-mapped addresses are unmapped");
      break;
    }
  }
  if (h.status == Status::kComplete || h.status == Status::kIncomplete) {
    const std::size_t end = h.status == Status::kComplete ? h.length : data.size();
    for (std::size_t n = 0; n < end && n < 300; ++n)
      FUZZ_CHECK(parse_proxy_header(data.substr(0, n)).status == Status::kIncomplete,
                 "a proper prefix is incomplete");
  }
  return 0;
}
