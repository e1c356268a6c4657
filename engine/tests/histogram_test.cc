// Histogram against a sorted reference: every percentile in a grid must be
// within the bucket resolution of the exact answer, on random and adversarial
// data; merge and JSON must be lossless.
#include "metrics/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace loadpilot::metrics {
namespace {

using Values = std::vector<std::pair<std::uint64_t, std::uint64_t>>;  // (value, count)

constexpr double kGrid[] = {0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100};
constexpr std::uint64_t kMax = Histogram::kMaxValue;

// The exact answer: the value at rank ceil(p/100 * n), at least 1, of the
// sorted data (as HdrHistogram defines it), with values above kMaxValue
// clamped as the histogram documents.
struct Reference {
  Values sorted;  // clamped values, ascending, with counts
  std::uint64_t n = 0, sum = 0, clamped = 0;

  explicit Reference(Values data) : sorted(std::move(data)) {
    for (auto& [v, c] : sorted) {
      if (v > kMax) {
        clamped += c;
        v = kMax;
      }
      n += c;
      sum += v * c;
    }
    std::sort(sorted.begin(), sorted.end());
  }
  std::uint64_t at(double p) const {
    const double wanted = std::ceil(p / 100.0 * static_cast<double>(n));
    const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
    std::uint64_t seen = 0;
    for (const auto& [v, c] : sorted) {
      seen += c;
      if (seen >= rank) return v;
    }
    return sorted.back().first;
  }
};

Histogram record_all(const Values& data) {
  Histogram h;
  for (const auto& [v, c] : data) h.record(v, c);
  return h;
}

Values ones(const std::vector<std::uint64_t>& values) {
  Values out;
  for (auto v : values) out.emplace_back(v, 1);
  return out;
}

// Everything the contract promises, for one data set.
void check_against_reference(const Values& data, const std::string& label) {
  SCOPED_TRACE(label);
  const Reference ref(data);
  const Histogram h = record_all(data);
  ASSERT_EQ(h.count(), ref.n);
  EXPECT_EQ(h.min(), ref.sorted.front().first);
  EXPECT_EQ(h.max(), ref.sorted.back().first);
  EXPECT_EQ(h.clamped_count(), ref.clamped);
  EXPECT_EQ(h.to_json()["sum"].get<std::uint64_t>(), ref.sum);
  EXPECT_DOUBLE_EQ(h.mean(), static_cast<double>(ref.sum) / static_cast<double>(ref.n));
  for (double p : kGrid) {
    const std::uint64_t want = ref.at(p);
    const std::uint64_t got = h.value_at_percentile(p);
    // Reported as the top of the true value's bucket: never below the truth,
    // and above it by less than 1/2048 of it (exact below 4096).
    EXPECT_TRUE(got == want || (got > want && (got - want) * 2048 < want))
        << "p" << p << ": want " << want << ", got " << got;
    EXPECT_GE(got, h.min());
    EXPECT_LE(got, h.max());
  }
  EXPECT_EQ(h.value_at_percentile(0), ref.sorted.front().first);
  EXPECT_EQ(h.value_at_percentile(100), ref.sorted.back().first);
}

TEST(HistogramIndex, EveryBucketMapsBackAndTilesTheRange) {
  ASSERT_EQ(Histogram::index_of(0), 0u);
  ASSERT_EQ(Histogram::lowest_equivalent(0), 0u);
  ASSERT_EQ(Histogram::index_of(Histogram::kMaxValue), Histogram::bucket_count() - 1);
  for (std::size_t i = 0; i < Histogram::bucket_count(); ++i) {
    const std::uint64_t lo = Histogram::lowest_equivalent(i);
    const std::uint64_t hi = Histogram::highest_equivalent(i);
    ASSERT_EQ(Histogram::index_of(lo), i);
    if (hi <= kMax) {
      ASSERT_EQ(Histogram::index_of(hi), i);
    }
    if (i + 1 < Histogram::bucket_count()) {
      ASSERT_EQ(Histogram::lowest_equivalent(i + 1), hi + 1);
    }
    if (lo < 4096) {
      ASSERT_EQ(lo, hi) << "values below 4096 must be exact";
    } else {
      ASSERT_LT((hi - lo) * 2048, lo) << "bucket " << i << " is wider than 1/2048";
    }
  }
  EXPECT_EQ(Histogram::index_of(std::numeric_limits<std::uint64_t>::max()),
            Histogram::bucket_count() - 1);
  static_assert(Histogram::index_of(4095) == 4095 && Histogram::index_of(4096) == 4096);
}

TEST(Histogram, EmptyAnswersZeros) {
  Histogram h;
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.clamped_count(), 0u);
  for (double p : kGrid) EXPECT_EQ(h.value_at_percentile(p), 0u);
  EXPECT_EQ(Histogram::from_json(h.to_json()), h);
  EXPECT_LE(sizeof(Histogram), 48u) << "empty histograms should stay small";
  h.record(5, 0);  // a zero count records nothing
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.max(), 0u);
}

TEST(Histogram, RandomDistributionsMatchSortedArray) {
  for (std::uint32_t seed : {1u, 2u, 3u, 42u, 2024u}) {
    std::mt19937_64 rng(seed);
    const std::size_t n = 20'000 + seed % 7 * 1'001;  // different n, odd ones too
    std::vector<std::uint64_t> uniform_small, uniform_full, lognormal, exponential;
    std::uniform_int_distribution<std::uint64_t> small(0, 1'000'000), full(0, kMax);
    std::lognormal_distribution<double> logn(std::log(5'000.0), 1.2);
    std::exponential_distribution<double> expo(1.0 / 20'000.0);
    for (std::size_t i = 0; i < n; ++i) {
      uniform_small.push_back(small(rng));
      uniform_full.push_back(full(rng));
      lognormal.push_back(static_cast<std::uint64_t>(logn(rng)));
      exponential.push_back(static_cast<std::uint64_t>(expo(rng)));
    }
    const std::string s = " seed " + std::to_string(seed);
    check_against_reference(ones(uniform_small), "uniform 0..1e6" + s);
    check_against_reference(ones(uniform_full), "uniform 0..kMaxValue" + s);
    check_against_reference(ones(lognormal), "log-normal" + s);
    check_against_reference(ones(exponential), "exponential" + s);
  }
}

TEST(Histogram, SmallSamplesMatchSortedArray) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> logn(std::log(50'000.0), 2.0);
  for (std::size_t n = 1; n <= 40; ++n) {
    std::vector<std::uint64_t> v;
    for (std::size_t i = 0; i < n; ++i) v.push_back(static_cast<std::uint64_t>(logn(rng)));
    check_against_reference(ones(v), "n=" + std::to_string(n));
  }
}

TEST(Histogram, AdversarialData) {
  check_against_reference(ones(std::vector<std::uint64_t>(1000, 123'456)), "all equal");
  check_against_reference(ones(std::vector<std::uint64_t>(1000, 0)), "all zero");
  check_against_reference(ones({0}), "one zero");
  check_against_reference(ones({kMax}), "one kMaxValue");

  std::vector<std::uint64_t> powers;
  for (int k = 0; k < 32; ++k) {
    const std::uint64_t p = std::uint64_t{1} << k;
    for (std::uint64_t v : {p - 1, p, p + 1})
      if (v <= kMax) powers.push_back(v);
  }
  check_against_reference(ones(powers), "powers of two and neighbours");

  std::vector<std::uint64_t> edges;
  for (std::size_t i = 0; i < Histogram::bucket_count(); i += 97) {
    edges.push_back(Histogram::lowest_equivalent(i));
    edges.push_back(std::min(Histogram::highest_equivalent(i), kMax));
  }
  check_against_reference(ones(edges), "bucket edges");

  check_against_reference(
      ones({kMax - 1, kMax, kMax + 1, kMax * 2, std::numeric_limits<std::uint64_t>::max(), 7}),
      "at and above kMaxValue");

  std::vector<std::uint64_t> outlier(100'000, 1'000);
  outlier.push_back(3'000'000'000);
  check_against_reference(ones(outlier), "one huge outlier");
  outlier.back() = std::numeric_limits<std::uint64_t>::max();
  check_against_reference(ones(outlier), "one clamped outlier");

  std::mt19937_64 rng(11);
  std::normal_distribution<double> fast(1'000, 50), slow(5'000'000, 200'000);
  std::vector<std::uint64_t> bimodal;
  for (int i = 0; i < 50'000; ++i)
    bimodal.push_back(static_cast<std::uint64_t>(std::max(0.0, i % 10 ? fast(rng) : slow(rng))));
  check_against_reference(ones(bimodal), "bimodal 90/10");

  check_against_reference({{250, 1'000'000'000'000}, {90'000, 3'000'000}, {2'000'000, 5}},
                          "huge counts");
  check_against_reference({{17, std::uint64_t{1} << 50}, {kMax + 9, 3}}, "2^50 counts");
}

TEST(Histogram, RecordWithCountEqualsRepeatedRecord) {
  Histogram a, b;
  a.record(777'777, 1000);
  for (int i = 0; i < 1000; ++i) b.record(777'777);
  EXPECT_EQ(a, b);
}

TEST(Histogram, MergeOfPartsEqualsWhole) {
  for (std::uint32_t seed : {5u, 6u, 9u}) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    std::lognormal_distribution<double> logn(std::log(20'000.0), 2.5);
    std::uniform_int_distribution<int> part_of(0, 5);
    Histogram whole;
    std::vector<Histogram> parts(6);  // part 5 stays empty on purpose
    for (int i = 0; i < 60'000; ++i) {
      auto v = static_cast<std::uint64_t>(logn(rng));
      if (i % 5000 == 0) v = kMax + static_cast<std::uint64_t>(i);  // some clamped
      whole.record(v);
      parts[std::min(part_of(rng), 4)].record(v);
    }
    Histogram merged;
    for (const auto& p : parts) merged.merge(p);
    EXPECT_EQ(merged, whole);
    EXPECT_EQ(merged.to_json(), whole.to_json());  // bucket for bucket
    for (double p : kGrid) EXPECT_EQ(merged.value_at_percentile(p), whole.value_at_percentile(p));
    EXPECT_EQ(merged.clamped_count(), whole.clamped_count());
    EXPECT_DOUBLE_EQ(merged.mean(), whole.mean());

    Histogram twice = whole;
    twice.merge(twice);  // aliasing is allowed
    Histogram expected = whole;
    expected.merge(Histogram(whole));
    EXPECT_EQ(twice, expected);
    EXPECT_EQ(twice.count(), 2 * whole.count());
  }
}

TEST(Histogram, MergeWithEmpty) {
  Histogram h, empty;
  h.record(42);
  h.record(9'000'000);
  const Histogram before = h;
  h.merge(empty);
  EXPECT_EQ(h, before);
  empty.merge(h);
  EXPECT_EQ(empty, before);
  EXPECT_EQ(empty.min(), 42u);
}

TEST(Histogram, CopyMoveReset) {
  Histogram h;
  for (std::uint64_t v = 1; v < 100'000'000; v *= 3) h.record(v);
  Histogram copy(h);
  EXPECT_EQ(copy, h);
  copy.record(5);
  EXPECT_NE(copy, h);  // deep copy
  copy = h;
  EXPECT_EQ(copy, h);

  Histogram moved(std::move(copy));
  EXPECT_EQ(moved, h);
  EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): documented
  EXPECT_EQ(copy, Histogram());
  copy.record(1);  // a moved-from histogram is usable
  EXPECT_EQ(copy.count(), 1u);
  Histogram assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned, h);
  EXPECT_TRUE(moved.empty());  // NOLINT(bugprone-use-after-move)

  assigned.reset();
  EXPECT_EQ(assigned, Histogram());
  assigned.record(3);
  EXPECT_EQ(assigned.min(), 3u);
  EXPECT_EQ(assigned.max(), 3u);
}

TEST(Histogram, OutOfRangePercentiles) {
  Histogram h;
  h.record(10);
  h.record(20'000);
  EXPECT_EQ(h.value_at_percentile(-5), 10u);
  EXPECT_EQ(h.value_at_percentile(std::nan("")), 10u);
  EXPECT_EQ(h.value_at_percentile(150), 20'000u);
}

TEST(HistogramJson, RoundTripIsLossless) {
  std::mt19937_64 rng(3);
  std::exponential_distribution<double> expo(1.0 / 300'000.0);
  Histogram h;
  for (int i = 0; i < 30'000; ++i) h.record(static_cast<std::uint64_t>(expo(rng)));
  h.record(kMax + 1, 4);
  h.record(0, 2);
  const nlohmann::json j = h.to_json();
  EXPECT_EQ(j["v"].size(), j["c"].size());
  EXPECT_EQ(j["clamped"].get<std::uint64_t>(), 4u);
  const Histogram back = Histogram::from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back, h);
  EXPECT_EQ(back.to_json(), j);
  for (double p : kGrid) EXPECT_EQ(back.value_at_percentile(p), h.value_at_percentile(p));
  EXPECT_EQ(back.mean(), h.mean());
}

TEST(HistogramJson, IsSparseAndOrdered) {
  Histogram h;
  h.record(1'000'000, 3);
  h.record(5);
  const nlohmann::json j = h.to_json();
  EXPECT_EQ(j["v"],
            nlohmann::json({5, Histogram::lowest_equivalent(Histogram::index_of(1'000'000))}));
  EXPECT_EQ(j["c"], nlohmann::json({1, 3}));
  EXPECT_EQ(j["min"], 5);
  EXPECT_EQ(j["max"], 1'000'000);
  EXPECT_EQ(j["sum"], 3'000'005);
}

TEST(HistogramJson, RejectsMalformedInput) {
  const auto base = [] {
    Histogram h;
    h.record(100);
    h.record(5'000);
    return h.to_json();
  };
  EXPECT_NO_THROW(Histogram::from_json(base()));
  auto bad = base();
  bad["c"].push_back(1);
  EXPECT_THROW(Histogram::from_json(bad), std::invalid_argument);
  bad = base();
  bad["v"][0] = -1;
  EXPECT_THROW(Histogram::from_json(bad), std::invalid_argument);
  bad = base();
  bad["v"][1] = kMax + 1;
  EXPECT_THROW(Histogram::from_json(bad), std::invalid_argument);
  bad = base();
  bad["min"] = 7;
  EXPECT_THROW(Histogram::from_json(bad), std::invalid_argument);
  bad = base();
  bad["max"] = 90'000;
  EXPECT_THROW(Histogram::from_json(bad), std::invalid_argument);
  bad = base();
  bad.erase("sum");
  EXPECT_THROW(Histogram::from_json(bad), std::invalid_argument);
  bad = base();
  bad["clamped"] = 3;
  EXPECT_THROW(Histogram::from_json(bad), std::invalid_argument);
  EXPECT_THROW(Histogram::from_json(nlohmann::json::array()), std::invalid_argument);
  const auto empty =
      nlohmann::json::parse(R"({"v":[],"c":[],"min":0,"max":0,"sum":0,"clamped":0})");
  EXPECT_TRUE(Histogram::from_json(empty).empty());
}

// Found by the interval_stats fuzz harness: counts whose sum passes 2^64
// wrapped the total, so [2^64 - 1, 1] read as an empty histogram.
TEST(HistogramJson, RejectsCountsThatOverflow) {
  const auto doc = [](std::uint64_t a, std::uint64_t b) {
    return nlohmann::json{{"v", {100, 200}}, {"c", {a, b}}, {"min", 100},
                          {"max", 200},      {"sum", 0},    {"clamped", 0}};
  };
  constexpr std::uint64_t kTop = std::numeric_limits<std::uint64_t>::max();
  EXPECT_THROW(Histogram::from_json(doc(kTop, 1)), std::invalid_argument);
  EXPECT_THROW(Histogram::from_json(doc(kTop / 2 + 1, kTop / 2 + 1)), std::invalid_argument);
  EXPECT_EQ(Histogram::from_json(doc(kTop - 1, 1)).count(), kTop);
}

}  // namespace
}  // namespace loadpilot::metrics
