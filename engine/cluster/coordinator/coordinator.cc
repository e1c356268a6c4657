#include "cluster/coordinator/coordinator.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "cluster/agent/agent_child.h"
#include "cluster/protocol.h"
#include "cluster/transport/pipe_channel.h"
#include "plan/duration.h"
#include "scenario/loader.h"

namespace loadpilot::cli {

namespace {

// The scenario and the files of its folder it imported or read with
// loadpilot.data, for agents.
agents::protocol::Bundle make_bundle(const std::string& file) {
  agents::protocol::Bundle b;
  const std::vector<std::string> files = scenario::local_module_files(file);
  const auto slash = file.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : file.substr(0, slash);
  b.main = files.at(0);
  for (const std::string& rel : files) {
    try {
      b.files[rel] = read_text_file(rel == b.main ? file : folder + "/" + rel);
    } catch (const std::exception& e) {
      throw CoordinatorError(fmt::format("{}/{}: {}", folder, rel, e.what()));
    }
  }
  if (b.bytes() > agents::protocol::kMaxBundleBytes)
    throw CoordinatorError(fmt::format(
        "{}: the scenario and the {} files it imports or reads from its folder come to {} "
        "bytes, over the limit of {} for agents (docs/distributed.md#the-bundle)",
        file, files.size() - 1, b.bytes(), agents::protocol::kMaxBundleBytes));
  b.sha256 = agents::protocol::bundle_hash(b.files);
  return b;
}

std::chrono::milliseconds to_ms(double s) {
  return std::chrono::milliseconds(static_cast<long long>(s * 1000));
}

}  // namespace

Coordinator::Coordinator(const RunArgs& args, RunSetup& setup, std::size_t n)
    : args_(args), setup_(setup), n_(n) {}

Coordinator::~Coordinator() = default;

std::unique_ptr<Coordinator> Coordinator::make(const RunArgs& args, RunSetup& setup) {
  if (setup.agent) return nullptr;  // an agent runs its own share
  const bool external = args.external_agents > 0;
  if (external && setup.agents > 1)
    throw CoordinatorError("--external-agents and --agents cannot be combined");
  if (!args.coordinator_url.empty()) {
    if (external || setup.agents > 1)
      throw CoordinatorError(
          "--coordinator-url cannot be combined with --agents or --external-agents: the service "
          "runs on its own agents");
    std::unique_ptr<Coordinator> c(new Coordinator(args, setup, 1));
    c->make_remote(*setup.startup);
    return c;
  }
  const std::size_t n = external ? args.external_agents : setup.agents;
  if (!external && n <= 1) return nullptr;
  const char* flag = external ? "--external-agents" : "--agents";
  if (setup.connections < n)
    throw CoordinatorError(
        fmt::format("{} {} needs at least {} connections (got {})", flag, n, n, setup.connections));
  // A closed model's users are split like its VUsers: each agent needs one.
  if (setup.plan.profile.closed() && static_cast<std::size_t>(setup.plan.profile.users) < n)
    throw CoordinatorError(fmt::format("{} {} needs at least {} users (got users={})", flag, n, n,
                                       setup.plan.profile.users));
  if (setup.vusers && static_cast<std::size_t>(setup.vusers->max_vusers()) < n)
    throw CoordinatorError(fmt::format("{} {} needs max_vusers of at least {} (got {})", flag, n, n,
                                       setup.vusers->max_vusers()));
  std::unique_ptr<Coordinator> c(new Coordinator(args, setup, n));
  const std::size_t workers =
      args.workers ? args.workers
                   : std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()),
                                           setup.connections);
  c->workers_ = std::max(workers, n);
  if (external) c->make_external(*setup.startup);
  return c;
}

std::chrono::milliseconds Coordinator::check_agent_timers() {
  const auto agents_timeout = plan::parse_duration(args_.agents_timeout);
  if (!agents_timeout || *agents_timeout < 0.1 || *agents_timeout > kMaxWaitS)
    throw CoordinatorError(
        fmt::format("--agents-timeout: must be a duration from 100ms to 1h (got \"{}\")",
                    args_.agents_timeout));
  const auto lost_after = plan::parse_duration(args_.agent_lost_after);
  if (!lost_after || *lost_after < 2 || *lost_after > kMaxWaitS)
    throw CoordinatorError(
        fmt::format("--agent-lost-after: must be a duration from 2s to 1h (got \"{}\")",
                    args_.agent_lost_after));
  lost_after_ = to_ms(*lost_after);
  return to_ms(*agents_timeout);
}

void Coordinator::make_external(StartupInterrupt& startup) {
  const std::chrono::milliseconds agents_timeout = check_agent_timers();
  bundle_ = make_bundle(args_.file);
  startup.set_phase(fmt::format("waiting for {} external agent{}", n_, n_ == 1 ? "" : "s"));
  try {
    agents::NatsOptions no;
    static_cast<NatsFlags&>(no) = args_.nats;
    no.name = "loadpilot coordinator";
    // One NATS subscription per agent: their frames share nats.c's pool of
    // delivery threads rather than taking a thread each.
    no.shared_delivery = true;
    nats_ = std::make_unique<agents::NatsClient>(no);
    external_ = std::make_unique<ExternalAgents>(*nats_, agents::protocol::new_run_id());
    fmt::print(stderr, "agents: waiting up to {} for {} external agent{} on {}\n",
               args_.agents_timeout, n_, n_ == 1 ? "" : "s", agents::redact_url(nats_->url()));
    external_->discover(n_, agents_timeout);
    external_->sync_clocks();
  } catch (const std::exception& e) {
    throw CoordinatorError(e.what());
  }
  for (const ExternalAgent& a : external_->agents())
    fmt::print(stderr, "agents: {}{}: clock offset {:+.3f} ms (round trip {:.3f} ms)\n", a.id,
               a.host.empty() ? "" : " on " + a.host,
               std::chrono::duration<double, std::milli>(a.offset).count(), a.rtt_ms);
  external_->start_heartbeat(lost_after_, [this](double away_s) {
    broker_lost_s_ = away_s;
    fmt::print(stderr,
               "error: the NATS server at {} has been unreachable for {:.0f} s; ending the run\n",
               agents::redact_url(nats_->url()), away_s);
    std::fflush(stderr);
    if (load::Engine* e = engine_.load()) e->stop();
  });
}

void Coordinator::make_remote(StartupInterrupt& startup) {
  std::string why;
  const std::optional<agents::ServiceUrl> url =
      agents::parse_service_url(args_.coordinator_url, &why);
  if (!url)
    throw CoordinatorError(
        fmt::format("--coordinator-url: {} (got \"{}\")", why, args_.coordinator_url));
  const std::chrono::milliseconds agents_timeout = check_agent_timers();
  // The service waits for its agents, measures their clocks and loads the
  // scenario before its hello.
  ready_timeout_ = agents_timeout + std::chrono::seconds(60);
  agents::protocol::RunRequest request;
  const plan::Plan& plan = setup_.plan;
  request.plan = plan.to_json();
  request.bundle = make_bundle(args_.file);
  request.workers = args_.workers;
  request.max_connections = setup_.connections;
  request.max_vusers = plan.max_vusers;
  request.timeout = args_.timeout;
  request.drain = args_.drain;
  request.seed = args_.seed;
  request.insecure = args_.insecure;
  startup.set_phase("sending the run to the coordinator service at " + url->text);
  fmt::print(stderr, "coordinator: sending the run to the service at {}\n", url->text);
  try {
    remote_channel_ = agents::HttpChannel::start_run(
        *url, args_.api_token, request.to_json().dump(), std::chrono::seconds(30));
  } catch (const agents::AgentError& e) {
    throw CoordinatorError(e.what());
  }
  remote_ = remote_channel_.get();
}

void Coordinator::configure(load::EngineOptions& eo) {
  const plan::Plan& plan = setup_.plan;
  eo.agents = n_;
  if (setup_.vusers) eo.extra_labels = setup_.vusers->extra_labels();
  // An agent stops by itself: its own drain, then on_stop within as long.
  eo.drain = 2 * eo.drain + std::chrono::seconds(2);
  const load::Profile profile = load::Profile::of(plan);
  // A closed loop or a closed model has no schedule of iterations to count
  // a lost agent's share against (cluster/coordinator/agent_link.h).
  const bool no_schedule = plan.profile.unlimited || plan.profile.closed();
  const std::size_t n = n_;
  // The agents' round frames are merged as they arrive, on the threads
  // that read them; a round's close takes their sum (metrics/round_accumulator.h).
  merged_ = std::make_shared<metrics::RoundAccumulator>(plan.tasks.size() + eo.extra_labels.size());
  eo.take_merged = [merged = merged_] { return merged->take(); };
  if (remote_) {
    // The service's run process coordinates its agents with the doubled
    // drain above; this side waits for it as for one agent.
    eo.drain = 2 * eo.drain + std::chrono::seconds(2);
    eo.make_agent = [this, profile](std::size_t, std::function<void()> on_drained) {
      auto link = std::make_unique<agents::AgentLink>(0, 1, profile, setup_.plan.profile.unlimited,
                                                      std::move(remote_channel_), lost_after_,
                                                      std::move(on_drained));
      link->merge_rounds_into(merged_);
      links_.push_back(link.get());
      return std::unique_ptr<load::Source>(std::move(link));
    };
    return;
  }
  if (!external_) {
    const std::size_t workers = workers_;
    eo.make_agent = [this, profile, n, workers, no_schedule](std::size_t i,
                                                             std::function<void()> on_drained) {
      agents::PipeChannelOptions po;
      po.argv = agent_argv(args_, setup_.plan, i, n, setup_.connections, workers);
      po.index = i;
      po.count = n;
      std::unique_ptr<agents::Channel> channel;
      try {
        channel = std::make_unique<agents::PipeChannel>(std::move(po));
      } catch (const std::runtime_error& e) {
        throw agents::AgentError(e.what());
      }
      auto link =
          std::make_unique<agents::AgentLink>(i, n, profile, no_schedule, std::move(channel),
                                              kLocalAgentSilence, std::move(on_drained));
      link->merge_rounds_into(merged_);
      links_.push_back(link.get());
      return std::unique_ptr<load::Source>(std::move(link));
    };
    return;
  }
  const nlohmann::json plan_json = plan.to_json();
  const std::size_t vusers =
      static_cast<std::size_t>(plan.max_vusers > 0 ? plan.max_vusers : scenario::kDefaultMaxVUsers);
  auto assignment = [this, plan_json, vusers, n](std::size_t i) {
    agents::protocol::Assignment a;
    a.index = i;
    a.count = n;
    a.plan = plan_json;
    a.bundle = bundle_;
    // An external agent's machine decides its own workers unless told.
    a.workers = args_.workers ? std::max<std::size_t>(1, load::share_of(args_.workers, i, n)) : 0;
    a.max_connections = std::max<std::size_t>(1, load::share_of(setup_.connections, i, n));
    a.max_vusers = static_cast<int>(std::max<std::size_t>(1, load::share_of(vusers, i, n)));
    a.timeout = args_.timeout;
    a.drain = args_.drain;
    a.seed = args_.seed;
    a.insecure = args_.insecure;
    return a;
  };
  eo.make_agent = [this, profile, n, no_schedule, assignment](std::size_t i,
                                                              std::function<void()> on_drained) {
    // The first agent's turn gives every agent its share, several at a
    // time (one after another, a thousand assignments took seconds).
    if (i == 0) {
      std::vector<agents::protocol::Assignment> all;
      for (std::size_t k = 0; k < n; ++k) all.push_back(assignment(k));
      channels_ = external_->connect_all(std::move(all));
    }
    auto link = std::make_unique<agents::AgentLink>(
        i, n, profile, no_schedule, std::move(channels_.at(i)), lost_after_, std::move(on_drained));
    link->merge_rounds_into(merged_);
    links_.push_back(link.get());
    return std::unique_ptr<load::Source>(std::move(link));
  };
}

void Coordinator::wait_ready(const load::Engine& engine, StartupInterrupt& startup) {
  startup.set_phase(fmt::format("starting {} agents", links_.size()));
  for (agents::AgentLink* p : links_) {
    try {
      if (p->wait_ready(ready_timeout_) != engine.collector().task_names())
        throw CoordinatorError(p->who() + " reports other metric rows than its coordinator");
    } catch (const agents::AgentError& e) {
      throw CoordinatorError(e.what());
    }
  }
}

void Coordinator::attach(load::Engine* engine) { engine_ = engine; }

std::size_t Coordinator::agents_shown() const {
  if (remote_ && remote_->service_agents() > 0) return remote_->service_agents();
  return n_;
}

std::chrono::milliseconds Coordinator::start_lead() const {
  return external_ ? external_->start_lead() : std::chrono::milliseconds(0);
}

void Coordinator::set_start(load::Engine& engine) const {
  if (external_) engine.set_start_at(std::chrono::steady_clock::now() + external_->start_lead());
  // The service starts its run this long after its hello, without being
  // told: the two clocks differ by the hello's one-way trip.
  if (remote_) engine.set_start_at(std::chrono::steady_clock::now() + remote_->start_lead());
}

std::vector<std::string> Coordinator::problems() const {
  std::vector<std::string> out;
  for (const agents::AgentLink* p : links_)
    if (std::string problem = p->problem(); !problem.empty()) out.push_back(problem);
  if (broker_lost_s_ > 0)
    out.push_back(fmt::format("the NATS server at {} was unreachable for {:.0f} s",
                              agents::redact_url(nats_->url()), broker_lost_s_.load()));
  return out;
}

std::vector<std::string> Coordinator::warnings() const {
  std::vector<std::string> out;
  for (const agents::AgentLink* p : links_)
    if (std::string warning = p->warning(); !warning.empty()) out.push_back(std::move(warning));
  if (remote_) {
    // The service's run judged its own agents; its warnings are the run's.
    const nlohmann::json service = remote_->service_results();
    if (service.is_object() && service.contains("warnings") && service["warnings"].is_array())
      for (const auto& w : service["warnings"])
        if (w.is_string()) out.push_back(w.get<std::string>());
  }
  return out;
}

bool Coordinator::python_blocked() const {
  return std::any_of(links_.begin(), links_.end(),
                     [](const agents::AgentLink* p) { return p->python_blocked(); });
}

void Coordinator::add_results(nlohmann::json& results) const {
  results["lost_agents"] = lost_agents(links_);
  if (external_) results["external_agents"] = external_->to_json();
  if (remote_) {
    results["coordinator_url"] = remote_->who().substr(remote_->who().rfind(' ') + 1);
    // What the service's own run process saw of its agents.
    const nlohmann::json service = remote_->service_results();
    if (service.is_object()) {
      if (service.contains("external_agents"))
        results["external_agents"] = service["external_agents"];
      if (service.contains("lost_agents") && service["lost_agents"].is_array())
        for (const auto& lost : service["lost_agents"]) results["lost_agents"].push_back(lost);
    }
  }
}

void Coordinator::print_after_summary(std::FILE* out) const {
  if (remote_) {
    const nlohmann::json service = remote_->service_results();
    const nlohmann::json agents =
        service.is_object() ? service.value("external_agents", nlohmann::json()) : nlohmann::json();
    if (agents.is_object())
      fmt::print(
          out, "agents: {} on {}, start offsets within {:.3f} ms (half the best round trip)\n",
          agents.value("count", 0), remote_->who(), agents.value("clock_uncertainty_ms", 0.0));
    return;
  }
  if (!external_) return;
  fmt::print(out,
             "agents: {} external, start offsets within {:.3f} ms (half the best round trip)\n", n_,
             external_->max_uncertainty_ms());
}

void Coordinator::describe(report::LiveHeader& header) const {
  header.agents = agents_shown();
  header.external = external() || remote();
  header.workers = workers();
  if (!external() && !remote()) header.agents_why = setup_.agents_why;
}

}  // namespace loadpilot::cli
