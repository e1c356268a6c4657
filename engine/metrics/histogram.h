#pragma once
// Histogram: a log-linear (HDR-style) histogram of non-negative integer
// values, used for latencies in microseconds.
//
// Contract:
//  * Values in [0, kMaxValue] are recorded with a relative error below
//    1/2048 (better than 3 significant digits); larger values are clamped to
//    kMaxValue and counted (clamped_count()). kMaxValue is one hour in us.
//  * value_at_percentile(p) returns the smallest recorded-bucket value v such
//    that at least p% of recorded values are <= v (reported as the highest
//    value equivalent to that bucket, clamped to max()), exactly as a sorted
//    array would within the bucket resolution. p=0 gives min(), p=100 max().
//  * merge() is exact: merging A and B equals recording A's and B's values
//    into one histogram. Counts, min, max and sum are exact.
//  * Storage is allocated lazily on the first record(), so empty histograms
//    (idle tasks, idle workers) cost a few bytes.
// Thread-safety: none; one owner at a time (workers hand histograms to the
// collector by moving them).
#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace loadpilot::metrics {

class Histogram {
 public:
  static constexpr std::uint64_t kMaxValue = 3'600'000'000ULL;  // 1 h in us
  static constexpr int kSubBucketBits = 11;                      // 2048 sub-buckets

  Histogram() = default;
  Histogram(const Histogram& other);
  Histogram& operator=(const Histogram& other);
  Histogram(Histogram&&) noexcept = default;
  Histogram& operator=(Histogram&&) noexcept = default;

  void record(std::uint64_t value, std::uint64_t count = 1);
  void merge(const Histogram& other);
  void reset();

  std::uint64_t count() const { return total_; }
  bool empty() const { return total_ == 0; }
  std::uint64_t min() const { return total_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return total_ ? static_cast<double>(sum_) / total_ : 0.0; }
  std::uint64_t clamped_count() const { return clamped_; }
  std::uint64_t value_at_percentile(double percentile) const;

  // Sparse, lossless serialization: {"v":[bucket values...],"c":[counts...],
  // "min","max","sum","clamped"}. Used for results files and agents.
  nlohmann::json to_json() const;
  static Histogram from_json(const nlohmann::json& j);

  // Index <-> value mapping, exposed for tests.
  static std::size_t index_of(std::uint64_t value);
  static std::uint64_t lowest_equivalent(std::size_t index);
  static std::uint64_t highest_equivalent(std::size_t index);
  static std::size_t bucket_count();

 private:
  std::unique_ptr<std::uint64_t[]> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t clamped_ = 0;
};

}  // namespace loadpilot::metrics
