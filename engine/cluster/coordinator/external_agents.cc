#include "cluster/coordinator/external_agents.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>

#include "build_info.h"
#include "cluster/coordinator/agent_link.h"
#include "cluster/transport/nats_channel.h"

namespace loadpilot::cli {

namespace proto = agents::protocol;
using Clock = std::chrono::steady_clock;

ExternalAgents::ExternalAgents(agents::NatsClient& nats, std::string run_id)
    : nats_(nats), run_id_(std::move(run_id)) {}

ExternalAgents::~ExternalAgents() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void ExternalAgents::discover(std::size_t n, std::chrono::milliseconds timeout) {
  struct Seen {
    ExternalAgent agent;
    std::string state;
    std::size_t order = 0;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Seen> seen;
  auto idle_count = [&] {
    return static_cast<std::size_t>(std::count_if(
        seen.begin(), seen.end(), [](const auto& kv) { return kv.second.state == "idle"; }));
  };
  auto sub = nats_.subscribe(proto::announce_subject(), [&](agents::NatsMessage&& m) {
    try {
      const nlohmann::json j = nlohmann::json::parse(m.data);
      const std::string id = j.at("agent_id").get<std::string>();
      if (!proto::check_agent_id(id).empty()) return;
      const std::string instance = j.value("instance", std::string());
      std::lock_guard lock(mu);
      Seen& s = seen[id];
      if (s.agent.id.empty()) {
        s.order = seen.size();
        s.agent.instance = instance;
      } else if (instance != s.agent.instance) {
        // A second process claims a taken id: it would hear the first's
        // assignment. The first one seen keeps the id; the other is told to
        // go, and is never given a run (assignments name the instance).
        refuse(id, instance,
               s.agent.host.empty()
                   ? std::string("was seen first")
                   : fmt::format("(on {}, pid {}) was seen first", s.agent.host, s.agent.pid));
        return;
      }
      s.agent.id = id;
      s.agent.host = j.value("host", std::string());
      s.agent.pid = j.value("pid", 0LL);
      s.state = j.value("state", std::string("idle"));
      // An agent of another version may read the plan differently: it is
      // seen, named, and not used.
      if (const std::string version = j.value("version", std::string()); version != kVersion)
        s.state =
            fmt::format("version {}, not {}", version.empty() ? "unknown" : version, kVersion);
    } catch (const std::exception&) {
      // Not an announcement of ours.
    }
    cv.notify_all();
  });
  const auto deadline = Clock::now() + timeout;
  std::unique_lock lock(mu);
  while (idle_count() < n && Clock::now() < deadline) {
    lock.unlock();
    nats_.publish(proto::discover_subject(), "{}");
    lock.lock();
    cv.wait_until(lock, std::min(deadline, Clock::now() + std::chrono::seconds(1)),
                  [&] { return idle_count() >= n; });
  }
  // Every agent answers the same discover at once: a moment more lets a
  // second process with a taken id be seen (and refused) before the start.
  if (idle_count() >= n) cv.wait_for(lock, std::chrono::milliseconds(200), [] { return false; });
  std::vector<Seen> idle;
  for (const auto& [id, s] : seen)
    if (s.state == "idle") idle.push_back(s);
  if (idle.size() < n) {
    std::string names;
    for (const auto& [id, s] : seen)
      names += fmt::format("{}{} ({}{})", names.empty() ? "" : ", ", id, s.state,
                           s.agent.host.empty() ? "" : " on " + s.agent.host);
    throw agents::AgentError(
        fmt::format("waited {:.0f} s for {} external agent{} on {}; {}{}",
                    std::chrono::duration<double>(timeout).count(), n, n == 1 ? "" : "s",
                    agents::redact_url(nats_.url()), seen.empty() ? "saw none" : "saw " + names,
                    seen.empty() ? " (start them with `loadpilot agent --nats-url URL`)" : ""));
  }
  std::sort(idle.begin(), idle.end(),
            [](const Seen& a, const Seen& b) { return a.order < b.order; });
  for (std::size_t i = 0; i < n; ++i) agents_.push_back(idle[i].agent);
  // For the rest of the run, any other process that announces one of the
  // chosen ids is refused too (it may have been suspended or slow to
  // answer while the agents were found).
  std::map<std::string, std::string> chosen;
  for (const ExternalAgent& a : agents_) chosen[a.id] = a.instance;
  guard_ = nats_.subscribe(proto::announce_subject(), [this, chosen](agents::NatsMessage&& m) {
    try {
      const nlohmann::json j = nlohmann::json::parse(m.data);
      const std::string id = j.at("agent_id").get<std::string>();
      const auto it = chosen.find(id);
      if (it == chosen.end()) return;
      const std::string instance = j.value("instance", std::string());
      if (instance != it->second) refuse(id, instance, "is taking part in a run");
    } catch (const std::exception&) {
      // Not an announcement of ours.
    }
  });
}

void ExternalAgents::refuse(const std::string& id, const std::string& instance,
                            const std::string& first) {
  nats_.publish(
      proto::agent_subject(id, "refused"),
      nlohmann::json{
          {"instance", instance},
          {"reason", fmt::format("another agent with the id \"{}\" {}; ids must be unique on "
                                 "one NATS server",
                                 id, first)}}
          .dump());
}

namespace {

// Runs fn(0) .. fn(n - 1) on up to kConcurrentRequests threads: a request
// waits a round trip, and a thousand of them one after another took
// seconds. Rethrows the first exception any call threw, once all are done.
constexpr std::size_t kConcurrentRequests = 16;

void for_each_concurrently(std::size_t n, const std::function<void(std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::exception_ptr first;
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!first) first = std::current_exception();
        next = n;  // no more new ones
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < std::min(n, kConcurrentRequests); ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace

void ExternalAgents::sync_clocks() {
  for_each_concurrently(agents_.size(), [this](std::size_t i) { sync_clock(agents_[i]); });
}

void ExternalAgents::sync_clock(ExternalAgent& a) {
  constexpr int kRounds = 8;
  std::chrono::nanoseconds best_rtt = std::chrono::nanoseconds::max();
  for (int r = 0; r < kRounds; ++r) {
    const Clock::time_point sent = Clock::now();
    const auto reply = nats_.request(proto::agent_subject(a.id, "clock"),
                                     nlohmann::json{{"instance", a.instance}}.dump(),
                                     std::chrono::milliseconds(2000));
    const Clock::time_point got = Clock::now();
    if (!reply) {
      if (r == 0)
        throw agents::AgentError(
            fmt::format("agent {} did not answer a clock request within 2 s", a.id));
      continue;
    }
    std::int64_t agent_ns = 0;
    try {
      agent_ns = nlohmann::json::parse(*reply).at("now_ns").get<std::int64_t>();
    } catch (const std::exception& e) {
      throw agents::AgentError(fmt::format("agent {}: bad clock reply: {}", a.id, e.what()));
    }
    const auto rtt = got - sent;
    if (rtt < best_rtt) {
      best_rtt = rtt;
      // Its clock read at the middle of the round trip.
      const auto mid = sent.time_since_epoch() + rtt / 2;
      a.offset = std::chrono::nanoseconds(agent_ns) -
                 std::chrono::duration_cast<std::chrono::nanoseconds>(mid);
      a.rtt_ms = std::chrono::duration<double, std::milli>(rtt).count();
    }
  }
}

void ExternalAgents::start_heartbeat(std::chrono::milliseconds broker_timeout,
                                     std::function<void(double)> on_broker_lost) {
  heartbeat_ = std::thread([this, broker_timeout, on_broker_lost = std::move(on_broker_lost)] {
    const std::string subject = proto::heartbeat_subject(run_id_);
    const std::string beat = nlohmann::json{{"run_id", run_id_}}.dump();
    std::optional<Clock::time_point> away_since;
    bool told = false;
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      nats_.publish(subject, beat);
      if (nats_.connected()) {
        away_since.reset();
      } else if (!away_since) {
        away_since = Clock::now();
      } else if (!told && Clock::now() - *away_since >= broker_timeout) {
        told = true;
        on_broker_lost(std::chrono::duration<double>(Clock::now() - *away_since).count());
      }
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(1000), [&] { return stopping_; });
    }
  });
}

std::vector<std::unique_ptr<agents::Channel>> ExternalAgents::connect_all(
    std::vector<proto::Assignment> assignments) {
  std::vector<std::unique_ptr<agents::Channel>> channels(assignments.size());
  for_each_concurrently(assignments.size(),
                        [&](std::size_t i) { channels[i] = connect(std::move(assignments[i])); });
  return channels;
}

std::unique_ptr<agents::Channel> ExternalAgents::connect(proto::Assignment a) {
  a.run_id = run_id_;
  const ExternalAgent& agent = agents_.at(a.index);
  a.instance = agent.instance;
  auto channel = std::make_unique<agents::NatsChannel>(nats_, run_id_, a.index, a.count, agent.id,
                                                       agent.offset);
  const std::string message = a.to_json().dump();
  if (static_cast<std::int64_t>(message.size()) > nats_.max_payload())
    throw agents::AgentError(fmt::format(
        "the run's assignment (plan and scenario bundle) is {} bytes, over the NATS server's "
        "max_payload of {}; raise max_payload in the server's configuration "
        "(docs/distributed.md#the-bundle)",
        message.size(), nats_.max_payload()));
  const auto reply = nats_.request(proto::agent_subject(agent.id, "assign"), message,
                                   std::chrono::milliseconds(5000));
  if (!reply)
    throw agents::AgentError(
        fmt::format("agent {} did not answer its assignment within 5 s", agent.id));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(*reply);
  } catch (const std::exception& e) {
    throw agents::AgentError(fmt::format("agent {}: bad reply: {}", agent.id, e.what()));
  }
  if (!j.value("ok", false))
    throw agents::AgentError(fmt::format("agent {} refused the run: {}", agent.id,
                                         j.value("error", std::string("no reason given"))));
  return channel;
}

std::chrono::milliseconds ExternalAgents::start_lead() const {
  double worst_rtt_ms = 0;
  for (const ExternalAgent& a : agents_) worst_rtt_ms = std::max(worst_rtt_ms, a.rtt_ms);
  // Every agent's go message (published one after another, not awaited)
  // must arrive before the start: a margin, a few of the slowest round
  // trips, and a quarter of a millisecond per agent (1,000 go messages left
  // a loaded two-core machine within about 50 ms: docs/distributed.md).
  return std::chrono::milliseconds(100 + static_cast<long long>(4 * worst_rtt_ms) +
                                   static_cast<long long>((agents_.size() + 3) / 4));
}

double ExternalAgents::max_uncertainty_ms() const {
  double worst = 0;
  for (const ExternalAgent& a : agents_) worst = std::max(worst, a.rtt_ms / 2);
  return worst;
}

nlohmann::json ExternalAgents::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const ExternalAgent& a : agents_)
    list.push_back(
        {{"id", a.id},
         {"host", a.host},
         {"pid", a.pid},
         {"clock_offset_ms", std::chrono::duration<double, std::milli>(a.offset).count()},
         {"best_rtt_ms", a.rtt_ms}});
  return {{"run_id", run_id_},
          {"count", agents_.size()},
          {"clock_uncertainty_ms", max_uncertainty_ms()},
          {"agents", list}};
}

}  // namespace loadpilot::cli
