// The Prometheus view of a run: histogram bucket conversion, series present
// from the start, counters that track the Collector exactly, phases, and the
// HTTP exporter's bind errors and linger.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "monitor/exporter.h"
#include "monitor/run_metrics.h"

namespace loadpilot::monitor {
namespace {

using metrics::Collector;
using metrics::Histogram;
using metrics::IntervalStats;
using metrics::WorkerReport;

bool contains(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(BucketIncrements, ExactBelowFourMillisecondsAndInfForTheRest) {
  const std::vector<double> bounds = {0.0005, 0.001, 0.005, 30};
  Histogram h;
  h.record(1);           // <= 0.5 ms
  h.record(500);         // exactly on a bound: counts as <= 0.5 ms
  h.record(501);         // just above
  h.record(1000);        // <= 1 ms
  h.record(4000, 3);     // <= 5 ms
  h.record(30'000'000);  // <= 30 s
  h.record(40'000'000);  // +Inf
  const std::vector<double> inc = bucket_increments(h, bounds);
  ASSERT_EQ(inc.size(), 5u);
  EXPECT_EQ(inc, (std::vector<double>{2, 2, 3, 1, 1}));
}

TEST(BucketIncrements, EveryValueLandsInExactlyOneBucket) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(8.0, 2.0);  // us, ~3 ms median, long tail
  Histogram h;
  for (int i = 0; i < 50'000; ++i) h.record(static_cast<std::uint64_t>(latency(rng)));
  const auto bounds = latency_buckets_s();
  const std::vector<double> inc = bucket_increments(h, bounds);
  EXPECT_EQ(std::accumulate(inc.begin(), inc.end(), 0.0), static_cast<double>(h.count()));
  // Cumulative counts agree with the histogram's own percentiles: the bucket
  // holding the median is the first whose cumulative count reaches half.
  const double median_s = static_cast<double>(h.value_at_percentile(50)) / 1e6;
  double cumulative = 0;
  std::size_t b = 0;
  while (cumulative + inc[b] < h.count() / 2.0) cumulative += inc[b++];
  ASSERT_LT(b, bounds.size());
  EXPECT_LE(median_s, bounds[b] * 1.001);
  if (b > 0) {
    EXPECT_GT(median_s, bounds[b - 1] * 0.999);
  }
  EXPECT_EQ(bucket_increments(Histogram(), bounds), std::vector<double>(bounds.size() + 1, 0.0));
}

TEST(LatencyBuckets, AscendingAndCoverTheDefaultTimeout) {
  const auto b = latency_buckets_s();
  ASSERT_FALSE(b.empty());
  for (std::size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
  EXPECT_LE(b.front(), 0.001);
  EXPECT_GE(b.back(), 30.0);
}

RunInfo two_tasks() { return RunInfo{"Shop", "9.9.9", {"browse", "buy"}, "ramp-up", 5, "open"}; }

TEST(RunMetrics, EverySeriesExistsBeforeTheFirstRound) {
  RunMetrics m(two_tasks());
  const std::string t = m.text();
  for (const char* task : {"browse", "buy"}) {
    for (const char* name : {"loadpilot_task_requests_total", "loadpilot_task_errors_total",
                             "loadpilot_task_latency_p50_ms", "loadpilot_task_latency_p99_ms",
                             "loadpilot_task_latency_mean_ms"})
      EXPECT_TRUE(contains(t, std::string(name) + "{task=\"" + task + "\"} 0")) << name << task;
    EXPECT_TRUE(contains(
        t, std::string("loadpilot_request_duration_seconds_count{task=\"") + task + "\"} 0"));
  }
  for (const char* name :
       {"loadpilot_current_rps 0", "loadpilot_active_workers 0", "loadpilot_latency_p50_ms 0",
        "loadpilot_latency_p95_ms 0", "loadpilot_latency_p99_ms 0", "loadpilot_latency_max_ms 0",
        "loadpilot_requests_total 0", "loadpilot_errors_total 0", "loadpilot_target_rps 5",
        "loadpilot_latency_mean_ms 0", "loadpilot_elapsed_secs 0"})
    EXPECT_TRUE(contains(t, name)) << name;
  for (std::string_view kind : metrics::kErrorKindNames)
    EXPECT_TRUE(
        contains(t, "loadpilot_errors_by_kind_total{kind=\"" + std::string(kind) + "\"} 0"));
  EXPECT_TRUE(contains(t, "loadpilot_info{model=\"open\",scenario=\"Shop\",version=\"9.9.9\"} 1"))
      << t;
  EXPECT_TRUE(contains(t, "loadpilot_active_users 0"));
  EXPECT_TRUE(contains(t, "loadpilot_target_users 0"));
  EXPECT_TRUE(contains(t, "loadpilot_phase{phase=\"ramp_up\"} 1"));
}

// One round from one worker: `n` requests of task 0 at `us` each, `errors`
// of them 5xx, and one request of task 1.
WorkerReport round_of(std::uint64_t n, std::uint64_t us, std::uint64_t errors) {
  WorkerReport r;
  r.stats = IntervalStats(2);
  auto& t0 = r.stats.tasks[0];
  t0.requests = n;
  t0.errors = errors;
  t0.errors_by_kind[static_cast<std::size_t>(metrics::ErrorKind::kHttp5xx)] = errors;
  t0.latency.record(us, n);
  r.stats.tasks[1].requests = 1;
  r.stats.tasks[1].latency.record(2'000'000);
  r.in_flight = 3;
  r.active_users = 5;
  return r;
}

TEST(RunMetrics, SeveralScenariosLabelEachTaskWithItsScenario) {
  RunInfo info{"Browse+Partner", "9.9.9", {"Browse.home", "Partner.home"}, "running", 5, "open"};
  info.task_scenarios = {"Browse", "Partner"};
  RunMetrics m(info);
  const std::string t = m.text();
  for (const char* scenario : {"Browse", "Partner"}) {
    const std::string labels = fmt::format("{{scenario=\"{}\",task=\"home\"}}", scenario);
    EXPECT_TRUE(contains(t, "loadpilot_task_requests_total" + labels + " 0")) << t;
    EXPECT_TRUE(contains(t, "loadpilot_request_duration_seconds_count" + labels + " 0")) << t;
  }
  EXPECT_FALSE(contains(t, "task=\"Browse.home\"")) << t;
}

TEST(RunMetrics, CountersTrackTheCollectorAndTheHistogramSeesEachRequestOnce) {
  RunMetrics m(two_tasks());
  Collector c({"browse", "buy"});
  for (int round = 0; round < 3; ++round) {
    std::vector<WorkerReport> reports;
    reports.push_back(round_of(100, 2000, 4));
    reports.push_back(round_of(50, 20'000, 0));
    metrics::Snapshot s = c.add_round(reports, 1.0);
    s.phase = round == 0 ? "ramp-up" : "steady";
    s.target_rps = 150;
    s.elapsed_s = round + 1.5;
    m.update(s, c.last_round());
  }
  const std::string t = m.text();
  EXPECT_TRUE(contains(t, "loadpilot_requests_total 456")) << t;
  EXPECT_TRUE(contains(t, "loadpilot_errors_total 12"));
  EXPECT_TRUE(contains(t, "loadpilot_errors_by_kind_total{kind=\"http_5xx\"} 12"));
  EXPECT_TRUE(contains(t, "loadpilot_task_requests_total{task=\"browse\"} 450"));
  EXPECT_TRUE(contains(t, "loadpilot_task_requests_total{task=\"buy\"} 6"));
  EXPECT_TRUE(contains(t, "loadpilot_task_errors_total{task=\"browse\"} 12"));
  EXPECT_TRUE(contains(t, "loadpilot_current_rps 152"));
  EXPECT_TRUE(contains(t, "loadpilot_target_rps 150"));
  EXPECT_TRUE(contains(t, "loadpilot_active_workers 6"));
  EXPECT_TRUE(contains(t, "loadpilot_active_users 10"));
  EXPECT_TRUE(contains(t, "loadpilot_latency_max_ms 2000"));
  EXPECT_TRUE(contains(t, "loadpilot_elapsed_secs 3.5"));
  // 300 at 2 ms, 150 at 20 ms and 6 at 2 s in the window: 15,600 ms / 456.
  const std::string mean_key = "\nloadpilot_latency_mean_ms ";
  const auto at = t.find(mean_key);
  ASSERT_NE(at, std::string::npos) << t;
  EXPECT_NEAR(std::stod(t.substr(at + mean_key.size())), 15600.0 / 456, 0.1);
  EXPECT_TRUE(contains(t, "loadpilot_task_latency_p50_ms{task=\"browse\"} 2"));
  EXPECT_TRUE(contains(t, "loadpilot_task_latency_p99_ms{task=\"browse\"} 20"));
  // 300 requests at 2 ms and 150 at 20 ms, each observed once.
  EXPECT_TRUE(contains(t, "loadpilot_request_duration_seconds_count{task=\"browse\"} 450"));
  EXPECT_TRUE(contains(t, "loadpilot_request_duration_seconds_sum{task=\"browse\"} 3.6"));
  EXPECT_TRUE(
      contains(t, "loadpilot_request_duration_seconds_bucket{task=\"browse\",le=\"0.0025\"} 300"));
  EXPECT_TRUE(
      contains(t, "loadpilot_request_duration_seconds_bucket{task=\"browse\",le=\"0.025\"} 450"));
  EXPECT_TRUE(contains(t, "loadpilot_request_duration_seconds_bucket{task=\"buy\",le=\"1\"} 0"));
  EXPECT_TRUE(contains(t, "loadpilot_request_duration_seconds_bucket{task=\"buy\",le=\"2.5\"} 6"));
  EXPECT_TRUE(contains(t, "loadpilot_phase{phase=\"steady\"} 1"));
  EXPECT_TRUE(contains(t, "loadpilot_phase{phase=\"ramp_up\"} 0"));
  m.set_phase("done");
  EXPECT_TRUE(contains(m.text(), "loadpilot_phase{phase=\"done\"} 1"));
  EXPECT_TRUE(contains(m.text(), "loadpilot_phase{phase=\"steady\"} 0"));
}

TEST(PhaseLabel, LowerCaseWithUnderscores) {
  EXPECT_EQ(phase_label("ramp-up"), "ramp_up");
  EXPECT_EQ(phase_label("steady"), "steady");
  EXPECT_EQ(phase_label("step 2/5"), "step_2_of_5");
  EXPECT_EQ(phase_label("max rate"), "max_rate");
  EXPECT_EQ(phase_label("Ramp-Down  "), "ramp_down");
  EXPECT_EQ(phase_label("done"), "done");
}

std::string http_get(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    }
  }
  close(fd);
  return out;
}

TEST(Exporter, ServesTheRegistryAndReportsABusyPortByAddress) {
  Exporter e({"127.0.0.1", 0}, two_tasks());
  ASSERT_GT(e.port(), 0);
  EXPECT_EQ(e.url(), "http://127.0.0.1:" + std::to_string(e.port()) + "/metrics");
  const std::string body = http_get(e.port());
  EXPECT_NE(body.find("200 OK"), std::string::npos) << body;
  EXPECT_NE(body.find("loadpilot_task_requests_total{task=\"buy\"} 0"), std::string::npos);

  try {
    Exporter second({"127.0.0.1", e.port()}, two_tasks());
    FAIL() << "a second exporter bound the same port";
  } catch (const ExporterError& err) {
    const std::string what = err.what();
    EXPECT_NE(what.find("127.0.0.1:" + std::to_string(e.port())), std::string::npos) << what;
    EXPECT_NE(what.find("in use"), std::string::npos) << what;
  }
  EXPECT_THROW(Exporter({"999.1.1.1", 0}, two_tasks()), ExporterError);
  EXPECT_THROW(Exporter({"127.0.0.1", 65536}, two_tasks()), ExporterError);
}

std::string resolve_listen_host6(const std::string& host) {
  return resolve_listen_host("--metrics-host", host, /*ipv6=*/true);
}

std::string listen_error(const std::string& host) {
  try {
    resolve_listen_host("--metrics-host", host, /*ipv6=*/true);
  } catch (const ExporterError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(ResolveListenHost, AddressesAreCheckedStrictly) {
  EXPECT_EQ(resolve_listen_host6("0.0.0.0"), "0.0.0.0");
  EXPECT_EQ(resolve_listen_host6("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(resolve_listen_host6("::"), "::");
  EXPECT_EQ(resolve_listen_host6("[::1]"), "::1");
  EXPECT_EQ(resolve_listen_host6("0:0::1"), "::1");
  // The server underneath would have listened on 231.1.1.1.
  EXPECT_EQ(listen_error("999.1.1.1"),
            "--metrics-host: not an IPv4 address: it needs four decimal parts, each from 0 to "
            "255 (got \"999.1.1.1\")");
  for (const char* bad : {"1.2.3", "256.0.0.1", "01.2.3.4", "0x7f", "127.1", "1.2.3.4.5"}) {
    EXPECT_NE(listen_error(bad).find("not an IPv4 address"), std::string::npos)
        << bad << ": " << listen_error(bad);
  }
  EXPECT_EQ(listen_error("bad host!"),
            "--metrics-host: not an IPv4 or IPv6 address, nor a host name (got \"bad host!\")");
  EXPECT_NE(listen_error("").find("must be an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_NE(listen_error("[::1").find("nor a host name"), std::string::npos);
}

TEST(ResolveListenHost, HostNamesResolve) {
  // localhost comes from /etc/hosts: no name server is asked.
  const std::string local = resolve_listen_host6("localhost");
  EXPECT_TRUE(local == "127.0.0.1" || local == "::1") << local;
}

TEST(Exporter, RefusesIpv6ItsServerCannotListenOn) {
  // The HTTP server library is built without IPv6: say so before binding.
  try {
    Exporter e({"::1", 0}, two_tasks());
    FAIL() << "listened on ::1";
  } catch (const ExporterError& err) {
    EXPECT_EQ(std::string(err.what()),
              "--metrics-host: IPv6 is not supported here; use an IPv4 address (0.0.0.0 for "
              "every interface, 127.0.0.1 for this machine only) (got \"::1\")");
  }
  EXPECT_EQ(resolve_listen_host("--metrics-host", "localhost", /*ipv6=*/false), "127.0.0.1");
}

TEST(Exporter, WildcardHostIsShownAsLoopback) {
  Exporter e({"0.0.0.0", 0}, two_tasks());
  EXPECT_EQ(e.url(), "http://127.0.0.1:" + std::to_string(e.port()) + "/metrics");
  EXPECT_EQ(e.listen_address(), "0.0.0.0:" + std::to_string(e.port()));
}

TEST(Exporter, LingerWaitsOrEndsOnASignal) {
  Exporter e({"127.0.0.1", 0}, two_tasks());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(e.linger(0.3));
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(waited, 0.29);
  EXPECT_LT(waited, 2.0);

  // A SIGINT that arrives (here: is already pending) ends the wait at once
  // and is consumed rather than killing the process.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  raise(SIGINT);
  t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(e.linger(30));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_FALSE(e.linger(0));
}

}  // namespace
}  // namespace loadpilot::monitor
