#include "core/tenant_name.hpp"

#include <stdexcept>

namespace streamer {
namespace {

bool tenant_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Decodes the UTF-8 sequence at text[i]; returns its code point and advances i, or
// returns -1 for an invalid (overlong, surrogate, out of range or truncated) sequence.
long next_code_point(std::string_view text, std::size_t& i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  long cp = 0;
  long min = 0;
  if (lead < 0x80) {
    ++i;
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (i + length > text.size()) return -1;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  i += length;
  return cp;
}

}  // namespace

bool is_valid_tenant_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxTenantIdBytes || id.front() == '.') return false;
  for (char c : id) {
    if (!tenant_char(c)) return false;
  }
  return true;
}

bool is_valid_user_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxUserIdBytes) return false;
  for (std::size_t i = 0; i < id.size();) {
    const long cp = next_code_point(id, i);
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return false;  // also -1: invalid UTF-8
  }
  return true;
}

std::string tenant_storage_name(std::string_view tenant_id) {
  if (!is_valid_tenant_id(tenant_id)) {
    throw std::invalid_argument("an invalid tenant id cannot name storage");
  }
  return std::string(tenant_id);
}

}  // namespace streamer
