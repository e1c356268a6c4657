#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "build_info.h"
#include "cluster/bundle_files.h"
#include "cluster/protocol.h"
#include "cluster/service/api_server.h"
#include "cluster/service/service.h"
#include "cluster/service/service_detail.h"
#include "cluster/transport/pipe_channel.h"
#include "http/ascii.h"
#include "http/target.h"
#include "metrics/snapshot.h"
#include "monitor/exporter.h"
#include "plan/duration.h"
#include "plan/plan.h"
#include "report/wall_clock.h"
#include "run/exit_codes.h"
#include "run/run_config.h"
#include "run/stop_signals.h"

namespace loadpilot::cli {

using service_detail::Clock;
using service_detail::json_error;
using service_detail::json_errors;
using service_detail::log;
namespace fs = std::filesystem;
namespace proto = agents::protocol;

namespace {

// A bundle's files grow when escaped into JSON (quotes, newlines): room
// for twice its limit, plus the plan.
constexpr std::size_t kMaxRequestBytes = 2 * proto::kMaxBundleBytes + 1024 * 1024;

// HOST:PORT, [V6]:PORT.
bool split_listen(const std::string& text, std::string* host, int* port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = text.substr(0, colon);
  const std::string p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *port = std::stoi(p);
  return *port <= 65535;
}

// The options, checked before anything is bound: false with a message on
// stderr when one is wrong; the address to listen on in *host and *port.
bool check_serve_options(const ServeArgs& args, std::string* host, int* port) {
  if (!args.serve) {
    fmt::print(stderr,
               "error: coordinator: add --serve (the coordinator service is its only mode; a "
               "one-off coordinator is `loadpilot run --external-agents N`)\n");
    return false;
  }
  if (!split_listen(args.listen, host, port)) {
    fmt::print(stderr, "error: --listen: expected HOST:PORT, e.g. 0.0.0.0:8080 (got \"{}\")\n",
               args.listen);
    return false;
  }
  for (const auto& [flag, value, min_s] :
       {std::tuple{"--agents-timeout", args.agents_timeout, 0.1},
        std::tuple{"--agent-lost-after", args.agent_lost_after, 2.0}}) {
    const auto d = plan::parse_duration(value);
    if (!d || *d < min_s || *d > kMaxWaitS) {
      fmt::print(stderr, "error: {}: must be a duration up to 1h (got \"{}\")\n", flag, value);
      return false;
    }
  }
  const bool loopback = agents::is_loopback_host(*host);
  if (args.api_token.empty() && !loopback && !args.allow_open) {
    fmt::print(stderr,
               "error: refusing to serve on {} without an API token: anyone who reaches it could "
               "aim the agents at any target. Set --api-token (or LOADPILOT_API_TOKEN), listen on "
               "127.0.0.1, or pass --allow-open to accept that risk\n",
               args.listen);
    return false;
  }
  if (args.api_token.empty() && !loopback)
    fmt::print(stderr, "warning: serving on {} with no API token (--allow-open)\n", args.listen);
  else if (!args.api_token.empty() && args.api_token.size() < 16)
    fmt::print(stderr, "warning: the API token has {} characters; use at least 16 random ones\n",
               args.api_token.size());
  return true;
}

// The HTTP API on host:port, started; null with a message on stderr when
// it cannot listen there.
std::unique_ptr<agents::ApiServer> start_api(const std::string& host, int port, Service& service) {
  agents::ApiServerOptions so;
  so.host = host;
  so.port = port;
  so.max_body = kMaxRequestBytes;
  // One largest body at a time (one run at a time anyway): what many large
  // posts can make the service hold stays within a small container's limit.
  so.max_bodies_in_flight = kMaxRequestBytes;
  std::unique_ptr<agents::ApiServer> server;
  try {
    server = std::make_unique<agents::ApiServer>(
        so, [&service](const agents::ApiRequest& req) { return service.screen(req); },
        [&service](const agents::ApiRequest& req, agents::ApiResponder& out) {
          service.handle(req, out);
        });
  } catch (const agents::ApiError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return nullptr;
  }
  server->start();
  return server;
}

}  // namespace

int serve_command(const ServeArgs& args) {
  std::string host;
  int port = 0;
  if (!check_serve_options(args, &host, &port)) return kExitInvalid;
  // The runs' processes read the NATS server and its credentials from the
  // environment, not from their command lines (which `ps` shows): the URL
  // may hold a token or a user and password.
  setenv("NATS_URL", args.nats.url.c_str(), 1);
  if (!args.nats.token.empty()) setenv("NATS_TOKEN", args.nats.token.c_str(), 1);
  if (!args.nats.ca_file.empty()) setenv("NATS_CA", args.nats.ca_file.c_str(), 1);
  unsetenv("LOADPILOT_API_TOKEN");

  // Every thread started from here on inherits the blocked stop signals;
  // the main thread waits for them.
  const sigset_t stop_set = block_stop_signals();

  std::unique_ptr<monitor::Exporter> exporter;
  if (!args.no_metrics) {
    try {
      exporter = std::make_unique<monitor::Exporter>(
          monitor::ExporterOptions{args.metrics_host, args.metrics_port},
          monitor::RunInfo{"", kVersion, {}, "idle", 0});
    } catch (const monitor::ExporterError& e) {
      fmt::print(stderr, "error: {}\n", e.what());
      return kExitInvalid;
    }
  }
  Service service(args, exporter.get());
  try {
    service.connect_nats();
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitInvalid;
  }
  std::unique_ptr<agents::ApiServer> server = start_api(host, port, service);
  if (!server) return kExitInvalid;
  log(fmt::format("serving the API on http://{} ({}); {}; runs use {} agent{} on {}",
                  server->address(), args.api_token.empty() ? "open: no token" : "token required",
                  exporter ? "metrics on " + exporter->url() : "no metrics", args.serve_agents,
                  args.serve_agents == 1 ? "" : "s", agents::redact_url(args.nats.url)));
  int sig = 0;
  for (;;) {
    service.tick();
    const timespec second{1, 0};
    sig = sigtimedwait(&stop_set, nullptr, &second);
    if (sig > 0) break;
  }
  log(fmt::format("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM"));
  service.shutdown(std::chrono::seconds(60));
  server->stop();
  return kExitOk;
}

}  // namespace loadpilot::cli
