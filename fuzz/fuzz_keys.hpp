// Fixed verification keys of the JWT fuzz targets: an HS256 secret and a JWKS with
// one RSA-2048, one P-256 and one P-384 public key. The private halves signed the
// RS256/ES256/ES384 seed tokens in fuzz/corpus/jwt and are not kept anywhere.
#pragma once

#include <string_view>

namespace streamer::fuzz {

inline constexpr std::string_view kHmacSecret = "fuzz-hs256-secret-0123456789abcdef";
inline constexpr std::string_view kIssuer = "https://issuer.example";
inline constexpr std::string_view kAudience = "streamer";
// 2023-11-14T22:13:20Z, the verification time of every fuzzed token.
inline constexpr long long kNowSeconds = 1'700'000'000;

inline constexpr std::string_view kJwks =
    R"json({"keys": [{"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": "oR5DXATSz1oY4z0rs-qCAjI0sXxdCiFtDPLb_EpPJzE0DkcEOzffpn-QyawRu1WRRhAcvIxMAYABDRT7NGSDoXocRCiSmtGs_OsJXZ56JrtK00LCv0PuSBg7CMTywB10DOrZY_GEehTUwSEikYJ8zorf2wpHcyK5iOVmgsjPLWxPSr9qlPbxsokAjE21O2NYtDfSRrQtOC0twALPGj5TzkjsB-fR9hHryOuwzWp0LOlEeXG_d6HfIVzbdRwy5OIjm3cUCPcT9A2lmKdTGerOh4VdCw-wu0aVXX6ttaaixh8JxLQaW9-1_yLAEznzSQ78aoNQ6zT_8ZWZ0Y6YNZ1RWw", "e": "AQAB"}, {"kty": "EC", "kid": "ec-P-256", "use": "sig", "crv": "P-256", "x": "GX5gZ44WKv9LbK9OBePN3MTnRgc06TPk3hWUZ8y2CD0", "y": "1IXozIG4N3bA5b36cgwsnPofRUcSljLmtU2XW_jeHtE"}, {"kty": "EC", "kid": "ec-P-384", "use": "sig", "crv": "P-384", "x": "WWflH8WMN911EuwX_kOz0JbZEzyt78IoyNdau6VVNz4vDs8_-2eNVMzKwYie0Ki7", "y": "auRE00mx-O4CxamsR5LVt5e5z8lZpNwGO6t8VmOLgrUt0m6B-RW2crLr-hzNf646"}]})json";

}  // namespace streamer::fuzz
