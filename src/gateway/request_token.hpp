// The token of an HTTP request (a WebSocket upgrade, PUT /files, GET /artifacts): it
// may come in `Authorization` query parameters and `Authorization: Bearer` headers,
// and every copy a request carries must be the same token.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <variant>

#include "auth/jwt_verifier.hpp"

namespace streamer {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// The token of `req`: the (percent-decoded) value of each `Authorization` parameter
// of `query` (the raw query string) and of each `Authorization: Bearer` header (scheme
// case-insensitive; other schemes carry no token). Returns it when all copies present
// are equal, an empty string when there is none, and a JwtError with reason
// "conflicting_tokens" when two copies differ, so a request is never served as the
// identity of one copy while it also presents another.
std::variant<std::string, JwtError> extract_token(const HttpRequest& req, std::string_view query);

// extract_token() and then `verifier.verify()` at `now`: the caller's verified token,
// or why the request is refused ("missing_token" when it carries no token,
// "conflicting_tokens", or the verifier's reason). Never puts the token in the error.
std::variant<VerifiedToken, JwtError> authenticate(const JwtVerifier& verifier,
                                                   const HttpRequest& req, std::string_view query,
                                                   std::chrono::system_clock::time_point now);

}  // namespace streamer
