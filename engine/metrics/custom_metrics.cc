#include "metrics/custom_metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace loadpilot::metrics {

namespace {

constexpr std::string_view kKindNames[] = {"trend", "counter", "rate", "gauge"};

std::uint64_t trend_units(double value) {
  const double scaled = std::round(value * kTrendScale);
  // Past the histogram's range the Histogram clamps and counts; keep the
  // conversion itself defined.
  if (scaled > static_cast<double>(Histogram::kMaxValue)) return Histogram::kMaxValue + 1;
  return static_cast<std::uint64_t>(scaled);
}

double trend_value(std::uint64_t units) { return static_cast<double>(units) / kTrendScale; }

// The percentile P of trend H, as the plainest number its bucket holds:
// every value in [lowest, highest] of the bucket is as true as any other,
// so a trend of whole numbers shows 95, not 95.007 (the bucket's top).
// Exact below 4.096, where a bucket is one thousandth wide.
double trend_percentile(const Histogram& h, double p) {
  const std::uint64_t hi = h.value_at_percentile(p);
  const std::uint64_t lo = std::max(Histogram::lowest_equivalent(Histogram::index_of(hi)), h.min());
  for (std::uint64_t step = 1'000'000'000'000ULL; step > 1; step /= 10) {
    const std::uint64_t candidate = (lo + step - 1) / step * step;
    if (candidate <= hi) return trend_value(candidate);
  }
  return trend_value(lo);
}

}  // namespace

std::string_view name(CustomKind kind) { return kKindNames[static_cast<std::size_t>(kind)]; }

std::optional<CustomKind> custom_kind_from_name(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kKindNames); ++i)
    if (kKindNames[i] == name) return static_cast<CustomKind>(i);
  return std::nullopt;
}

void CustomStat::merge(const CustomStat& other) {
  if (other.count == 0) return;
  switch (kind) {
    case CustomKind::kTrend:
      trend.merge(other.trend);
      break;
    case CustomKind::kCounter:
      sum += other.sum;
      break;
    case CustomKind::kRate:
      trues += other.trues;
      break;
    case CustomKind::kGauge:
      if (count == 0) {
        last = other.last;
        last_at_s = other.last_at_s;
        min = other.min;
        max = other.max;
      } else {
        // The later value is the last one; at the same instant, the larger,
        // so that the merge does not depend on the order of the reports.
        if (other.last_at_s > last_at_s || (other.last_at_s == last_at_s && other.last > last)) {
          last = other.last;
          last_at_s = other.last_at_s;
        }
        min = std::min(min, other.min);
        max = std::max(max, other.max);
      }
      break;
  }
  count += other.count;
}

std::size_t CustomMetrics::slot(std::string_view name, CustomKind kind) {
  const auto it = index_.find(std::string(name));
  if (it != index_.end()) return stats_[it->second].kind == kind ? it->second : npos;
  names_.emplace_back(name);
  CustomStat s;
  s.kind = kind;
  stats_.push_back(std::move(s));
  index_.emplace(names_.back(), stats_.size() - 1);
  return stats_.size() - 1;
}

std::string CustomMetrics::refusal(CustomKind kind, double value) {
  if (!std::isfinite(value)) return fmt::format("{} is not a number a metric can hold", value);
  if (value < 0 && (kind == CustomKind::kTrend || kind == CustomKind::kCounter))
    return fmt::format("a {} takes values >= 0 (got {})", name(kind), value);
  return {};
}

void CustomMetrics::add(std::size_t slot, double value, double at_s) {
  CustomStat& s = stats_[slot];
  switch (s.kind) {
    case CustomKind::kTrend:
      s.trend.record(trend_units(value));
      break;
    case CustomKind::kCounter:
      s.sum += value;
      break;
    case CustomKind::kRate:
      s.trues += value != 0 ? 1 : 0;
      break;
    case CustomKind::kGauge:
      if (s.count == 0) {
        s.min = s.max = value;
      } else {
        s.min = std::min(s.min, value);
        s.max = std::max(s.max, value);
      }
      s.last = value;
      s.last_at_s = at_s;
      break;
  }
  ++s.count;
}

void CustomMetrics::merge(const CustomMetrics& other) {
  for (std::size_t i = 0; i < other.stats_.size(); ++i) {
    const std::size_t at = slot(other.names_[i], other.stats_[i].kind);
    if (at != npos) stats_[at].merge(other.stats_[i]);
  }
}

CustomMetrics CustomMetrics::fresh() const {
  CustomMetrics out;
  for (std::size_t i = 0; i < stats_.size(); ++i) out.slot(names_[i], stats_[i].kind);
  return out;
}

const CustomStat* CustomMetrics::find(std::string_view name) const {
  const auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &stats_[it->second];
}

nlohmann::json CustomMetrics::to_json() const {
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t i = 0; i < stats_.size(); ++i) {
    const CustomStat& s = stats_[i];
    nlohmann::json j = {{"name", names_[i]}, {"kind", name(s.kind)}, {"count", s.count}};
    switch (s.kind) {
      case CustomKind::kTrend:
        j["trend"] = s.trend.to_json();
        break;
      case CustomKind::kCounter:
        j["sum"] = s.sum;
        break;
      case CustomKind::kRate:
        j["trues"] = s.trues;
        break;
      case CustomKind::kGauge:
        j["last"] = s.last;
        j["last_at_s"] = s.last_at_s;
        j["min"] = s.min;
        j["max"] = s.max;
        break;
    }
    out.push_back(std::move(j));
  }
  return out;
}

namespace {

double finite_field(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number() || !std::isfinite(it->get<double>()))
    throw std::invalid_argument(where + "\"" + key + "\" must be a finite number");
  return it->get<double>();
}

std::uint64_t count_field(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned())
    throw std::invalid_argument(where + "\"" + key + "\" must be a non-negative integer");
  return it->get<std::uint64_t>();
}

}  // namespace

CustomMetrics CustomMetrics::from_json(const nlohmann::json& j) {
  if (!j.is_array()) throw std::invalid_argument("custom: must be an array");
  if (j.size() > kMaxWireNames)
    throw std::invalid_argument(
        fmt::format("custom: more than {} metrics ({})", kMaxWireNames, j.size()));
  CustomMetrics out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json& m = j[i];
    const std::string where = fmt::format("custom[{}]: ", i);
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string() || !m.contains("kind") ||
        !m["kind"].is_string())
      throw std::invalid_argument(where + "needs a \"name\" and a \"kind\"");
    const auto kind = custom_kind_from_name(m["kind"].get<std::string>());
    if (!kind) throw std::invalid_argument(where + "\"kind\" is unknown: " + m["kind"].dump());
    const std::string metric = m["name"].get<std::string>();
    if (out.find(metric) != nullptr)
      throw std::invalid_argument(where + "\"" + metric + "\" appears twice");
    CustomStat& s = out.stats_[out.slot(metric, *kind)];
    s.count = count_field(m, "count", where);
    switch (*kind) {
      case CustomKind::kTrend:
        if (!m.contains("trend")) throw std::invalid_argument(where + "\"trend\" is missing");
        try {
          s.trend = Histogram::from_json(m["trend"]);
        } catch (const std::invalid_argument& e) {
          throw std::invalid_argument(where + "trend: " + e.what());
        }
        if (s.trend.count() != s.count)
          throw std::invalid_argument(where + "\"count\" must equal the trend's count");
        break;
      case CustomKind::kCounter:
        s.sum = finite_field(m, "sum", where);
        if (s.sum < 0) throw std::invalid_argument(where + "\"sum\" must be >= 0");
        break;
      case CustomKind::kRate:
        s.trues = count_field(m, "trues", where);
        if (s.trues > s.count) throw std::invalid_argument(where + "\"trues\" exceeds \"count\"");
        break;
      case CustomKind::kGauge:
        s.last = finite_field(m, "last", where);
        s.last_at_s = finite_field(m, "last_at_s", where);
        s.min = finite_field(m, "min", where);
        s.max = finite_field(m, "max", where);
        break;
    }
  }
  return out;
}

nlohmann::json custom_stat_json(const CustomStat& s) {
  nlohmann::json j = {{"kind", name(s.kind)}};
  switch (s.kind) {
    case CustomKind::kTrend: {
      const Histogram& h = s.trend;
      j["count"] = s.count;
      j["min"] = trend_value(h.min());
      j["mean"] = h.mean() / kTrendScale;
      for (const auto& [key, p] :
           {std::pair{"p50", 50.0}, {"p90", 90.0}, {"p95", 95.0}, {"p99", 99.0}, {"p999", 99.9}})
        j[key] = trend_percentile(h, p);
      j["max"] = trend_value(h.max());
      j["clamped"] = h.clamped_count();
      break;
    }
    case CustomKind::kCounter:
      j["count"] = s.sum;
      j["adds"] = s.count;
      break;
    case CustomKind::kRate:
      j["rate"] = s.count ? static_cast<double>(s.trues) / static_cast<double>(s.count) : 0.0;
      j["trues"] = s.trues;
      j["total"] = s.count;
      break;
    case CustomKind::kGauge:
      j["value"] = s.last;
      j["min"] = s.min;
      j["max"] = s.max;
      j["count"] = s.count;
      break;
  }
  return j;
}

nlohmann::json custom_metrics_json(const CustomMetrics& m) {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t i = 0; i < m.size(); ++i) out[m.name_of(i)] = custom_stat_json(m.at(i));
  return out;
}

}  // namespace loadpilot::metrics
