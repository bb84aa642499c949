#include "gateway/request_token.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>
#include <optional>

namespace streamer {
namespace http = boost::beast::http;

namespace {

// Adds `copy` to what was seen so far; false when it differs from an earlier copy.
bool agree(std::optional<std::string>& token, std::string_view copy) {
  if (!token) {
    token.emplace(copy);
    return true;
  }
  return *token == copy;
}

}  // namespace

std::variant<std::string, JwtError> extract_token(const HttpRequest& req, std::string_view query) {
  const JwtError conflict{
      "conflicting_tokens",
      "the request carries different tokens (query and/or Authorization headers)"};
  std::optional<std::string> token;
  if (!query.empty()) {
    const std::string origin = "/?" + std::string(query);  // the url_view points into it
    if (auto url = boost::urls::parse_origin_form(origin)) {
      for (auto param : url->params()) {
        if (param.key == "Authorization" && param.has_value && !agree(token, param.value))
          return conflict;
      }
    }
  }
  const auto [first, last] = req.equal_range(http::field::authorization);
  for (auto field = first; field != last; ++field) {
    std::string_view v = field->value();
    // The scheme is case-insensitive (RFC 7235); spaces after it are skipped.
    constexpr std::string_view kBearer = "bearer";
    if (v.size() > kBearer.size() && boost::beast::iequals(v.substr(0, kBearer.size()), kBearer) &&
        v[kBearer.size()] == ' ') {
      v.remove_prefix(kBearer.size());
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (!agree(token, v)) return conflict;
    }
  }
  return token.value_or(std::string());
}

std::variant<VerifiedToken, JwtError> authenticate(const JwtVerifier& verifier,
                                                   const HttpRequest& req, std::string_view query,
                                                   std::chrono::system_clock::time_point now) {
  auto token = extract_token(req, query);
  if (auto* conflict = std::get_if<JwtError>(&token)) return *conflict;
  return verifier.verify(std::get<std::string>(token), now);  // "missing_token" when empty
}

}  // namespace streamer
