#include "cluster/protocol.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <random>
#include <stdexcept>
#include <type_traits>

namespace loadpilot::agents::protocol {

std::string announce_subject() { return "loadpilot.agents.announce"; }
std::string discover_subject() { return "loadpilot.agents.discover"; }
std::string agent_subject(std::string_view agent_id, std::string_view what) {
  return fmt::format("loadpilot.agent.{}.{}", agent_id, what);
}
std::string frames_subject(std::string_view run_id, std::size_t index) {
  return fmt::format("loadpilot.run.{}.frames.{}", run_id, index);
}
std::string control_subject(std::string_view run_id, std::size_t index) {
  return fmt::format("loadpilot.run.{}.control.{}", run_id, index);
}
std::string heartbeat_subject(std::string_view run_id) {
  return fmt::format("loadpilot.run.{}.heartbeat", run_id);
}

namespace {

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

std::string check_agent_id(std::string_view id) {
  if (id.empty()) return "must not be empty";
  if (id.size() > 64) return fmt::format("must be at most 64 characters (got {})", id.size());
  for (char c : id)
    if (!id_char(c))
      return fmt::format("may hold only letters, digits, '-' and '_' (got \"{}\")", id);
  return "";
}

std::string default_agent_id() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string id;
  for (const char* p = host; *p != '\0' && id.size() < 48; ++p)
    id.push_back(id_char(*p) ? *p : '-');
  if (id.empty()) id = "agent";
  return fmt::format("{}-{}", id, getpid());
}

std::string new_run_id() {
  std::random_device rd;
  const std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("{:016x}", v);
}

std::string bundle_hash(const std::map<std::string, std::string>& files) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const auto& [path, content] : files) {
    // Length-prefixed, so no two listings hash alike by moving bytes
    // between a path and a content.
    const std::string head = fmt::format("{}:{}\n{}:", path.size(), path, content.size());
    EVP_DigestUpdate(ctx, head.data(), head.size());
    EVP_DigestUpdate(ctx, content.data(), content.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

std::size_t Bundle::bytes() const {
  std::size_t n = 0;
  for (const auto& [path, content] : files) n += path.size() + content.size();
  return n;
}

nlohmann::json Bundle::to_json() const {
  return {{"main", main}, {"files", files}, {"sha256", sha256}};
}

namespace {

void check_path(const std::string& path) {
  if (path.empty() || path.front() == '/' || path.find('\0') != std::string::npos)
    throw std::invalid_argument(fmt::format("bundle: bad file path \"{}\"", path));
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    const std::string part = path.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..")
      throw std::invalid_argument(fmt::format("bundle: bad file path \"{}\"", path));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
}

}  // namespace

Bundle Bundle::from_json(const nlohmann::json& j) {
  Bundle b;
  b.main = j.at("main").get<std::string>();
  b.files = j.at("files").get<std::map<std::string, std::string>>();
  b.sha256 = j.at("sha256").get<std::string>();
  for (const auto& [path, content] : b.files) check_path(path);
  if (b.files.count(b.main) == 0)
    throw std::invalid_argument(fmt::format("bundle: the scenario file {} is missing", b.main));
  if (b.bytes() > kMaxBundleBytes)
    throw std::invalid_argument(
        fmt::format("bundle: {} bytes, over the limit of {}", b.bytes(), kMaxBundleBytes));
  if (bundle_hash(b.files) != b.sha256)
    throw std::invalid_argument("bundle: its files do not match its sha256");
  return b;
}

nlohmann::json Assignment::to_json() const {
  return {{"type", "assign"},
          {"run_id", run_id},
          {"instance", instance},
          {"index", index},
          {"count", count},
          {"plan", plan},
          {"bundle", bundle.to_json()},
          {"workers", workers},
          {"max_connections", max_connections},
          {"max_vusers", max_vusers},
          {"timeout", timeout},
          {"drain", drain},
          {"seed", seed},
          {"insecure", insecure}};
}

Assignment Assignment::from_json(const nlohmann::json& j) {
  Assignment a;
  a.run_id = j.at("run_id").get<std::string>();
  if (!check_agent_id(a.run_id).empty()) throw std::invalid_argument("assignment: bad run_id");
  if (const auto it = j.find("instance"); it != j.end()) a.instance = it->get<std::string>();
  a.index = j.at("index").get<std::size_t>();
  a.count = j.at("count").get<std::size_t>();
  if (a.count < 1 || a.index >= a.count) throw std::invalid_argument("assignment: bad index/count");
  a.plan = j.at("plan");
  a.bundle = Bundle::from_json(j.at("bundle"));
  a.workers = j.at("workers").get<std::size_t>();
  a.max_connections = j.at("max_connections").get<std::size_t>();
  a.max_vusers = j.at("max_vusers").get<int>();
  a.timeout = j.at("timeout").get<std::string>();
  a.drain = j.at("drain").get<std::string>();
  a.seed = j.at("seed").get<std::uint64_t>();
  a.insecure = j.at("insecure").get<bool>();
  return a;
}

nlohmann::json RunRequest::to_json() const {
  return {{"plan", plan},
          {"bundle", bundle.to_json()},
          {"options",
           {{"workers", workers},
            {"max_connections", max_connections},
            {"max_vusers", max_vusers},
            {"timeout", timeout},
            {"drain", drain},
            {"seed", seed},
            {"insecure", insecure}}}};
}

namespace {

template <typename T>
T option(const nlohmann::json& options, const char* name, T fallback) {
  if (!options.contains(name)) return fallback;
  // get<unsigned>() would wrap -1 to 2^64-1 and cut 1.5 to 1: refuse them
  // with the value as sent.
  if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) {
    const nlohmann::json& v = options.at(name);
    if (v.is_number_float() || (v.is_number_integer() && v.get<std::int64_t>() < 0))
      throw std::invalid_argument(
          fmt::format("options.{}: must be a whole number >= 0 (got {})", name, v.dump()));
  }
  try {
    return options.at(name).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(
        fmt::format("options.{}: wrong type (got {})", name, options.at(name).dump()));
  }
}

}  // namespace

RunRequest RunRequest::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("the body must be a JSON object");
  for (const char* key : {"plan", "bundle"})
    if (!j.contains(key)) throw std::invalid_argument(fmt::format("{}: missing", key));
  RunRequest r;
  r.plan = j.at("plan");
  if (!r.plan.is_object()) throw std::invalid_argument("plan: must be an object");
  try {
    r.bundle = Bundle::from_json(j.at("bundle"));
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(fmt::format("bundle: {}", e.what()));
  }
  const nlohmann::json options = j.value("options", nlohmann::json::object());
  if (!options.is_object()) throw std::invalid_argument("options: must be an object");
  r.workers = option<std::size_t>(options, "workers", 0);
  r.max_connections = option<std::size_t>(options, "max_connections", 1);
  r.max_vusers = option<int>(options, "max_vusers", 0);
  r.timeout = option<std::string>(options, "timeout", r.timeout);
  r.drain = option<std::string>(options, "drain", r.drain);
  r.seed = option<std::uint64_t>(options, "seed", 1);
  r.insecure = option<bool>(options, "insecure", false);
  return r;
}

}  // namespace loadpilot::agents::protocol
