// What a tenant id and a user id may be, and the one mapping from a tenant id to the
// name under which the tenant's data is stored on disk.
//
// Both ids come from the verified token (claims `tenant_id` and `sub`); a token whose
// ids break these rules is refused at the door, so every Identity a handler sees
// satisfies them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace streamer {

inline constexpr std::size_t kMaxTenantIdBytes = 64;
inline constexpr std::size_t kMaxUserIdBytes = 256;

// A tenant id is 1 to kMaxTenantIdBytes characters from [A-Za-z0-9._-] that do not
// start with '.'. So it is never "." or "..", never hidden, and is one path component
// and one URL path segment that needs no escaping.
bool is_valid_tenant_id(std::string_view id) noexcept;

// A user id is 1 to kMaxUserIdBytes bytes of valid UTF-8 without control characters
// (U+0000-U+001F, U+007F-U+009F).
bool is_valid_user_id(std::string_view id) noexcept;

// The directory name of a tenant's storage (its file sandbox, its artifact directory):
// the tenant id itself. Because only valid ids have a name, and valid ids are distinct
// path components, two tenants never share storage. Throws std::invalid_argument for
// an id that is not valid: such an id must never name storage.
std::string tenant_storage_name(std::string_view tenant_id);

}  // namespace streamer
