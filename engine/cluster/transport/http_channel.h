#pragma once
// HttpChannel: `loadpilot run --coordinator-url URL`'s link to the
// coordinator service (docs/distributed.md#the-coordinator-service). The
// service's whole run is one agent to this process: the answer to
// `POST /run` is an ndjson stream whose hello, round and end lines are the
// agents' frames (cluster/protocol.h, cluster/service/serve_child.h), so an AgentLink
// keeps the books and the run's dashboard, summary, results, report and
// exit code are made here exactly as for a local run.
//
// Contract (beyond Channel's):
//  * start_run() connects, sends the request and reads the answer's head.
//    Anything but a 200 stream throws AgentError with one message saying
//    what happened: unreachable, wrong token (401), busy (409), refused
//    plan (400, every message), too large (413).
//  * go() sends nothing: the service starts its run on its own once its
//    agents are ready, start_lead() after its hello (read it after
//    AgentLink::wait_ready()).
//  * stop() asks the service to stop the run (`POST /stop`); when that
//    fails it closes the stream, which stops the run as well. kill() closes
//    the stream.
//  * Lines that are not frames (snapshot, summary, results) are not passed
//    on; the service's own results document is kept for service_results().
//
// Thread-safety: as Channel; one reader thread per channel.
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "cluster/transport/channel.h"

namespace loadpilot::agents {

struct ServiceUrl {
  std::string host;  // without brackets
  int port = 80;
  std::string text;  // as given, without a trailing '/'
};
// http://HOST[:PORT][/]: nothing else (no path, no https: the service is
// reached through a port-forward or a cluster's network). Empty *why when
// valid.
std::optional<ServiceUrl> parse_service_url(const std::string& text, std::string* why);

class HttpChannel : public Channel {
 public:
  static std::unique_ptr<HttpChannel> start_run(const ServiceUrl& url, const std::string& token,
                                                const std::string& body,
                                                std::chrono::milliseconds timeout);
  ~HttpChannel() override;

  void open(std::function<void(std::string_view)> on_line,
            std::function<void(std::string)> on_closed) override;
  void go(std::chrono::steady_clock::time_point t0) override;
  void stop() override;
  void kill() override;
  void join() override;
  std::string who() const override;
  bool ends_when_silent() const override { return true; }

  std::chrono::milliseconds start_lead() const;
  // After its hello: how many agents the service runs this on (0: it did
  // not say).
  std::size_t service_agents() const;
  nlohmann::json service_results() const;

 private:
  HttpChannel(ServiceUrl url, std::string token, int fd, std::string rest, bool chunked);
  void read_stream(std::function<void(std::string_view)> on_line,
                   std::function<void(std::string)> on_closed);

  ServiceUrl url_;
  std::string token_;
  int fd_;
  std::string rest_;  // bytes of the body read with the head
  bool chunked_;
  std::thread reader_;
  mutable std::mutex mu_;
  long long start_in_ms_ = 0;
  std::size_t agents_ = 0;
  nlohmann::json results_;
  std::string exit_how_;
};

// `POST /stop` to the service; returns its answer in words, or throws
// AgentError when it cannot be reached.
std::string stop_service_run(const ServiceUrl& url, const std::string& token,
                             std::chrono::milliseconds timeout);

}  // namespace loadpilot::agents
