#include "run/auto_agents.h"

#include <gtest/gtest.h>

#include "run/run_config.h"

namespace loadpilot::cli {
namespace {

plan::Plan plan_of(double rps, double duration_s, bool unlimited = false, int users = 0) {
  plan::Plan p;
  p.profile.mode = plan::Mode::kConstant;
  p.profile.rps = rps;
  p.profile.duration_s = duration_s;
  p.profile.ramp_up_s = 0;
  p.profile.unlimited = unlimited;
  p.profile.users = users;
  return p;
}

AutoAgentsInput python_on(std::size_t cores) {
  AutoAgentsInput in;
  in.python = true;
  in.cores = cores;
  in.connections = 64;
  in.max_vusers = 10000;
  return in;
}

TEST(AutoAgents, PythonAtMaxRateTakesOneAgentPerCore) {
  const AutoAgents a = choose_agents(plan_of(0, 10, /*unlimited=*/true), python_on(4));
  EXPECT_EQ(a.agents, 4u);
  EXPECT_EQ(a.why,
            "--agents auto: Python tasks at rps=\"max\" on 4 cores; --agents 1 for one process");
}

TEST(AutoAgents, PythonAtAHighRateTakesOneAgentPerCore) {
  const AutoAgents a = choose_agents(plan_of(20000, 10), python_on(2));
  EXPECT_EQ(a.agents, 2u);
  EXPECT_NE(a.why.find("up to 20000 iterations/s on 2 cores"), std::string::npos) << a.why;
}

TEST(AutoAgents, OneProcessWhenOnePythonThreadKeepsUp) {
  // A rate one Python thread serves, a native run, one core, a short run,
  // a closed model: nothing to gain from more processes.
  EXPECT_EQ(choose_agents(plan_of(kAutoAgentsMinRate - 1, 60), python_on(8)).agents, 1u);
  AutoAgentsInput native = python_on(8);
  native.python = false;
  EXPECT_EQ(choose_agents(plan_of(0, 60, true), native).agents, 1u);
  EXPECT_EQ(choose_agents(plan_of(0, 60, true), python_on(1)).agents, 1u);
  EXPECT_EQ(choose_agents(plan_of(0, kAutoAgentsMinSeconds - 0.5, true), python_on(8)).agents, 1u);
  EXPECT_EQ(choose_agents(plan_of(0, 60, false, 500), python_on(8)).agents, 1u);
  EXPECT_TRUE(choose_agents(plan_of(100, 60), python_on(8)).why.empty());
}

TEST(AutoAgents, NoMoreAgentsThanConnectionsWorkersOrVUsers) {
  // Each agent needs a connection, a worker and a VUser of its own.
  AutoAgentsInput in = python_on(8);
  in.connections = 3;
  EXPECT_EQ(choose_agents(plan_of(0, 60, true), in).agents, 3u);
  in = python_on(8);
  in.workers = 2;
  EXPECT_EQ(choose_agents(plan_of(0, 60, true), in).agents, 2u);
  in = python_on(8);
  in.max_vusers = 1;
  EXPECT_EQ(choose_agents(plan_of(0, 60, true), in).agents, 1u);
  in = python_on(1000);
  EXPECT_EQ(choose_agents(plan_of(0, 60, true), in).agents, kMaxProcesses);
}

}  // namespace
}  // namespace loadpilot::cli
