#include "monitor/custom_series.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace loadpilot::monitor {

namespace {

constexpr const char* kTrendStats[] = {"min", "mean", "p50", "p90", "p95", "p99", "max"};
constexpr const char* kGaugeStats[] = {"value", "min", "max"};

}  // namespace

CustomSeries::CustomSeries(prometheus::Registry& r) {
  trend_ = &prometheus::BuildGauge()
                .Name("loadpilot_custom_trend")
                .Help("A custom trend's statistics over the whole run (stat label)")
                .Register(r);
  trend_values_ = &prometheus::BuildCounter()
                       .Name("loadpilot_custom_trend_values_total")
                       .Help("Values added to a custom trend")
                       .Register(r);
  counter_ = &prometheus::BuildCounter()
                  .Name("loadpilot_custom_count_total")
                  .Help("A custom counter: the sum of the values added")
                  .Register(r);
  rate_ = &prometheus::BuildGauge()
               .Name("loadpilot_custom_rate")
               .Help("A custom rate: the share of its values that were true, 0..1, whole run")
               .Register(r);
  rate_true_ = &prometheus::BuildCounter()
                    .Name("loadpilot_custom_rate_true_total")
                    .Help("Values added to a custom rate that were true")
                    .Register(r);
  rate_values_ = &prometheus::BuildCounter()
                      .Name("loadpilot_custom_rate_values_total")
                      .Help("Values added to a custom rate")
                      .Register(r);
  gauge_ = &prometheus::BuildGauge()
                .Name("loadpilot_custom_value")
                .Help("A custom gauge: its last value, min and max (stat label)")
                .Register(r);
}

void CustomSeries::Counted::advance(double total) {
  if (total > seen) counter->Increment(total - seen);
  seen = total;
}

CustomSeries::Series& CustomSeries::series(const std::string& name, metrics::CustomKind kind) {
  const auto it = series_.find(name);
  if (it != series_.end()) return it->second;
  Series& s = series_[name];
  switch (kind) {
    case metrics::CustomKind::kTrend:
      for (const char* stat : kTrendStats)
        s.gauges.push_back(&trend_->Add({{"metric", name}, {"stat", stat}}));
      s.values.counter = &trend_values_->Add({{"metric", name}});
      break;
    case metrics::CustomKind::kCounter:
      s.values.counter = &counter_->Add({{"metric", name}});
      break;
    case metrics::CustomKind::kRate:
      s.gauges.push_back(&rate_->Add({{"metric", name}}));
      s.trues.counter = &rate_true_->Add({{"metric", name}});
      s.values.counter = &rate_values_->Add({{"metric", name}});
      break;
    case metrics::CustomKind::kGauge:
      for (const char* stat : kGaugeStats)
        s.gauges.push_back(&gauge_->Add({{"metric", name}, {"stat", stat}}));
      break;
  }
  return s;
}

void CustomSeries::update(const metrics::CustomMetrics& cumulative) {
  for (std::size_t i = 0; i < cumulative.size(); ++i) {
    const metrics::CustomStat& m = cumulative.at(i);
    Series& s = series(cumulative.name_of(i), m.kind);
    const nlohmann::json j = metrics::custom_stat_json(m);
    switch (m.kind) {
      case metrics::CustomKind::kTrend:
        for (std::size_t k = 0; k < std::size(kTrendStats); ++k)
          s.gauges[k]->Set(j[kTrendStats[k]].get<double>());
        s.values.advance(static_cast<double>(m.count));
        break;
      case metrics::CustomKind::kCounter:
        s.values.advance(m.sum);
        break;
      case metrics::CustomKind::kRate:
        s.gauges[0]->Set(j["rate"].get<double>());
        s.trues.advance(static_cast<double>(m.trues));
        s.values.advance(static_cast<double>(m.count));
        break;
      case metrics::CustomKind::kGauge:
        if (m.count == 0) break;
        for (std::size_t k = 0; k < std::size(kGaugeStats); ++k)
          s.gauges[k]->Set(j[kGaugeStats[k]].get<double>());
        break;
    }
  }
}

}  // namespace loadpilot::monitor
