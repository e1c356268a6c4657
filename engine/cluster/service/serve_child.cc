#include "cluster/service/serve_child.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "cluster/child_run.h"

namespace loadpilot::cli {

std::unique_ptr<ServeChild> ServeChild::open() {
  if (!agents::pipe_end::open()) return nullptr;
  std::FILE* f = fdopen(agents::pipe_end::kFramesFd, "w");
  if (f == nullptr) return nullptr;
  return std::unique_ptr<ServeChild>(new ServeChild(f));
}

ServeChild::~ServeChild() {
  if (out_) std::fclose(out_);
}

bool ServeChild::write(const std::string& line) {
  const std::string data = line + "\n";
  return std::fwrite(data.data(), 1, data.size(), out_) == data.size() && std::fflush(out_) == 0;
}

std::optional<std::chrono::steady_clock::time_point> ServeChild::hello_and_wait(
    const std::vector<std::string>& tasks, std::chrono::milliseconds lead, std::size_t agents) {
  const nlohmann::json hello = {
      {"type", "hello"}, {"tasks", tasks}, {"start_in_ms", lead.count()}, {"agents", agents}};
  if (!write(hello.dump())) return std::nullopt;
  const auto asked = agents::pipe_end::read_go();
  if (!asked) return std::nullopt;
  return std::max(*asked, std::chrono::steady_clock::now() + lead);
}

bool ServeChild::on_snapshot(const load::Engine& engine, const metrics::Snapshot& s) {
  const nlohmann::json frame = {{"type", "round"},
                                {"seq", ++seq_},
                                {"stats", engine.collector().last_round().to_json()},
                                {"in_flight", s.active},
                                {"connections", s.connections},
                                {"elapsed_s", s.elapsed_s},
                                {"phase", s.phase},
                                {"target_rps", s.target_rps},
                                {"notice", s.notice}};
  return write(frame.dump());
}

void ServeChild::end(const std::vector<std::string>& problems, bool blocked) {
  std::string fatal;
  for (const std::string& p : problems) fatal += (fatal.empty() ? "" : "; ") + p;
  write(nlohmann::json{{"type", "end"}, {"fatal", fatal}, {"blocked", blocked}, {"rounds", seq_}}
            .dump());
}

}  // namespace loadpilot::cli
