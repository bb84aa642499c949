#include "call_command.hpp"

#include <unistd.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>

#include "core/json_text.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace streamer::app {

// ---- message handling (no I/O) --------------------------------------------------

CallMessageHandler::CallMessageHandler(std::string request_id, bool json_lines, bool tty,
                                       std::ostream& out, std::ostream& err)
    : request_id_(std::move(request_id)),
      json_lines_(json_lines),
      tty_(tty),
      out_(out),
      err_(err) {}

void CallMessageHandler::finish_progress_line() {
  if (bar_open_) err_ << "\n" << std::flush;
  bar_open_ = false;
}

void CallMessageHandler::show_progress(double percent, std::string_view message) {
  if (json_lines_) return;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = int(std::clamp(percent, 0.0, 100.0) * kWidth / 100.0);
    err_ << "\r\033[K[" << std::string(size_t(filled), '#')
         << std::string(size_t(kWidth - filled), '.') << "] " << std::fixed << std::setprecision(1)
         << std::setw(5) << percent << "%  " << message << std::flush;
    bar_open_ = true;
  } else if (percent != last_percent_) {
    err_ << "progress " << std::fixed << std::setprecision(1) << percent << "% " << message << "\n";
  }
  last_percent_ = percent;
}

std::optional<int> CallMessageHandler::on_message(std::string_view text) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (json_lines_) out_ << text << "\n" << std::flush;
  if (ec || !v.is_object()) return std::nullopt;
  const auto& msg = v.as_object();
  const auto* type = msg.if_contains("type");
  if (!type || !type->is_string()) return std::nullopt;
  const std::string_view kind = type->as_string();
  const auto* body_v = msg.if_contains(kind);
  if (!body_v || !body_v->is_object()) return std::nullopt;
  const auto& body = body_v->as_object();
  const auto* rid = body.if_contains("request_id");
  const bool ours = rid && rid->is_string() && rid->as_string() == request_id_;
  const bool connection_level = !rid || rid->is_null();
  const auto print_data = [&](const json::object& b) {
    finish_progress_line();
    if (!json_lines_) {
      const auto* data = b.if_contains("data");
      out_ << (data ? to_json_text(*data) : "null") << "\n" << std::flush;
    }
  };
  if (kind == "error" && (ours || connection_level)) {
    finish_progress_line();
    const auto* code = body.if_contains("code");
    const auto* message = body.if_contains("message");
    err_ << "error: " << (code && code->is_string() ? std::string(code->as_string()) : "UNKNOWN");
    if (message && message->is_string()) err_ << ": " << std::string_view(message->as_string());
    if (const auto* details = body.if_contains("details")) err_ << " " << to_json_text(*details);
    err_ << "\n" << std::flush;
    return kCallServerError;
  }
  if (!ours) return std::nullopt;
  if (kind == "response") {
    const auto* status = body.if_contains("status");
    if (status && status->is_string() && status->as_string() == "queued") {
      show_progress(0, "queued");
      return std::nullopt;
    }
    print_data(body);
    return kCallOk;
  }
  if (kind == "progress") {
    const auto* p = body.if_contains("progress");
    const auto* m = body.if_contains("message");
    const double percent = p && p->is_number() ? p->to_number<double>() : 0.0;
    show_progress(percent, m && m->is_string() ? std::string_view(m->as_string()) : "");
    return std::nullopt;
  }
  if (kind == "result") {
    const auto* success = body.if_contains("success");
    print_data(body);
    if (success && success->is_bool() && !success->as_bool())
      err_ << "note: the handler reported a partial result (success: false)\n";
    return kCallOk;
  }
  return std::nullopt;
}

// ---- transport -----------------------------------------------------------------

namespace {

struct Endpoint {
  bool tls = false;
  std::string host, port, target;
};

// ws[s]://HOST[:PORT][/PATH][?QUERY] -> endpoint; default path /production.
std::optional<Endpoint> parse_endpoint(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return std::nullopt;
  Endpoint e;
  const auto scheme = u->scheme();
  if (scheme == "wss")
    e.tls = true;
  else if (scheme != "ws")
    return std::nullopt;
  e.host = u->host_address();
  if (e.host.empty()) return std::nullopt;
  e.port = u->has_port() ? std::string(u->port()) : (e.tls ? "443" : "80");
  e.target = u->encoded_path().empty() ? "/production" : std::string(u->encoded_path());
  if (u->has_query()) e.target += "?" + std::string(u->encoded_query());
  return e;
}

std::string new_request_id() {
  std::random_device rd;
  std::ostringstream s;
  s << "cli-" << std::hex << rd() << rd();
  return s.str();
}

// Handshake, send the request, read until the handler says the call is over.
template <class Ws>
asio::awaitable<int> converse(Ws& ws, const Endpoint& ep, const CallOptions& o,
                              const std::string& request, CallMessageHandler& handler) {
  ws.set_option(websocket::stream_base::decorator([token = o.token](websocket::request_type& req) {
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.set(http::field::user_agent, std::string("streamer-call/") + STREAMER_VERSION);
  }));
  auto [hec] = co_await ws.async_handshake(ep.host + ":" + ep.port, ep.target,
                                           asio::as_tuple(asio::use_awaitable));
  if (hec) {
    std::cerr << "error: WebSocket handshake with " << ep.host << ":" << ep.port
              << " failed: " << hec.message() << "\n";
    co_return kCallTransport;
  }
  ws.text(true);
  auto [wec, wn] =
      co_await ws.async_write(asio::buffer(request), asio::as_tuple(asio::use_awaitable));
  if (wec) {
    std::cerr << "error: sending the request failed: " << wec.message() << "\n";
    co_return kCallTransport;
  }
  beast::flat_buffer buf;
  while (true) {
    auto [rec, rn] = co_await ws.async_read(buf, asio::as_tuple(asio::use_awaitable));
    if (rec) {
      handler.finish_progress_line();
      std::cerr << "error: connection closed before the result";
      if (ws.reason().code != websocket::close_code::none)
        std::cerr << " (close code " << ws.reason().code << " " << ws.reason().reason << ")";
      else
        std::cerr << " (" << rec.message() << ")";
      std::cerr << "\n";
      co_return kCallTransport;
    }
    const std::string_view text(static_cast<const char*>(buf.data().data()), buf.size());
    const auto done = handler.on_message(text);
    buf.consume(buf.size());
    if (done) {
      co_await ws.async_close(websocket::close_code::normal, asio::as_tuple(asio::use_awaitable));
      co_return *done;
    }
  }
}

// Resolves and connects the lowest layer; prints and returns false on failure.
template <class Lowest>
asio::awaitable<bool> connect_tcp(Lowest& lowest, const Endpoint& ep) {
  tcp::resolver resolver(lowest.get_executor());
  auto [rec, results] =
      co_await resolver.async_resolve(ep.host, ep.port, asio::as_tuple(asio::use_awaitable));
  if (!rec) {
    auto [cec, peer] = co_await lowest.async_connect(results, asio::as_tuple(asio::use_awaitable));
    if (!cec) {
      lowest.socket().set_option(tcp::no_delay(true));
      co_return true;
    }
    rec = cec;
  }
  std::cerr << "error: cannot connect to " << ep.host << ":" << ep.port << ": " << rec.message()
            << "\n";
  co_return false;
}

asio::awaitable<int> call(const Endpoint& ep, const CallOptions& o, const std::string& request,
                          CallMessageHandler& handler, asio::ssl::context& tls) {
  auto ex = co_await asio::this_coro::executor;
  if (!ep.tls) {
    websocket::stream<beast::tcp_stream> ws(ex);
    if (!co_await connect_tcp(beast::get_lowest_layer(ws), ep)) co_return kCallTransport;
    co_return co_await converse(ws, ep, o, request, handler);
  }
  websocket::stream<asio::ssl::stream<beast::tcp_stream>> ws(ex, tls);
  if (!co_await connect_tcp(beast::get_lowest_layer(ws), ep)) co_return kCallTransport;
  SSL_set_tlsext_host_name(ws.next_layer().native_handle(), ep.host.c_str());
  ws.next_layer().set_verify_callback(asio::ssl::host_name_verification(ep.host));
  auto [sec] = co_await ws.next_layer().async_handshake(asio::ssl::stream_base::client,
                                                        asio::as_tuple(asio::use_awaitable));
  if (sec) {
    std::cerr << "error: TLS handshake with " << ep.host << " failed: " << sec.message() << "\n";
    co_return kCallTransport;
  }
  co_return co_await converse(ws, ep, o, request, handler);
}

}  // namespace

int run_call_command(const CallOptions& o) {
  const auto ep = parse_endpoint(o.url);
  if (!ep) {
    std::cerr << "error: --url must be ws://HOST:PORT/STAGE or wss://..., got '" << o.url << "'\n";
    return kCallUsage;
  }
  boost::system::error_code ec;
  json::value payload =
      o.payload_json.empty() ? json::value(json::object{}) : json::parse(o.payload_json, ec);
  if (ec || !payload.is_object()) {
    std::cerr << "error: PAYLOAD_JSON must be a JSON object\n";
    return kCallUsage;
  }
  const std::string id = new_request_id();
  const std::string request = json::serialize(json::object{
      {"id", id},
      {"action", o.action},
      {"payload", std::move(payload)},
      {"metadata",
       json::object{{"client_version", std::string("streamer-call/") + STREAMER_VERSION}}}});

  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_default_verify_paths();
  tls.set_verify_mode(asio::ssl::verify_peer);
  if (!o.ca_file.empty()) tls.load_verify_file(o.ca_file, ec);
  if (ec) {
    std::cerr << "error: cannot read CA file " << o.ca_file << ": " << ec.message() << "\n";
    return kCallUsage;
  }

  CallMessageHandler handler(id, o.json_lines, isatty(STDERR_FILENO) != 0, std::cout, std::cerr);
  asio::io_context ioc(1);
  std::optional<int> exit_code;
  asio::co_spawn(ioc, call(*ep, o, request, handler, tls), [&](std::exception_ptr e, int code) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        std::cerr << "error: " << x.what() << "\n";
      }
      exit_code = kCallTransport;
    } else {
      exit_code = code;
    }
  });
  if (o.timeout_s > 0)
    ioc.run_for(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(o.timeout_s)));
  else
    ioc.run();
  if (!exit_code) {
    handler.finish_progress_line();
    std::cerr << "error: TIMEOUT: no final answer within " << o.timeout_s << " s\n";
    return kCallTimeout;
  }
  return *exit_code;
}

}  // namespace streamer::app
