#pragma once
// CustomSeries: the loadpilot_custom_* series of a run (docs/monitoring.md),
// one set per custom metric of the scenario (docs/scenarios.md#custom-metrics),
// the metric's name in the `metric` label:
//   loadpilot_custom_trend{metric, stat="min|mean|p50|p90|p95|p99|max"}  gauge
//   loadpilot_custom_trend_values_total{metric}                          counter
//   loadpilot_custom_count_total{metric}                               counter
//   loadpilot_custom_rate{metric}                   gauge, share true 0..1
//   loadpilot_custom_rate_true_total{metric}, loadpilot_custom_rate_values_total{metric}
//   loadpilot_custom_value{metric, stat="value|min|max"}                 gauge
// All cover the whole run (the Snapshot's cumulative figures); a metric's
// series appear with its first update.
//
// Thread-safety: as RunMetrics (update() from one thread).
#include <map>
#include <string>
#include <vector>

#include "metrics/custom_metrics.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace loadpilot::monitor {

class CustomSeries {
 public:
  explicit CustomSeries(prometheus::Registry& registry);
  void update(const metrics::CustomMetrics& cumulative);

 private:
  struct Counted {
    prometheus::Counter* counter = nullptr;
    double seen = 0;
    void advance(double total);
  };
  struct Series {
    std::vector<prometheus::Gauge*> gauges;  // by stat, in the kind's order
    Counted values, trues;
  };
  Series& series(const std::string& name, metrics::CustomKind kind);

  prometheus::Family<prometheus::Gauge>* trend_;
  prometheus::Family<prometheus::Counter>* trend_values_;
  prometheus::Family<prometheus::Counter>* counter_;
  prometheus::Family<prometheus::Gauge>* rate_;
  prometheus::Family<prometheus::Counter>* rate_true_;
  prometheus::Family<prometheus::Counter>* rate_values_;
  prometheus::Family<prometheus::Gauge>* gauge_;
  std::map<std::string, Series> series_;
};

}  // namespace loadpilot::monitor
