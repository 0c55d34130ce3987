#pragma once
// The hot-path work shapes (guest memory, split virtqueue, 16550 UART), each registered once and run
// two ways by one binary:
//  - as a Google Benchmark (the default), and
//  - with --peer-format, by a harness that follows the method of the rust-vmm peer program in
//    bench/rust-vmm-peer/ line for line (calibrate for >= 20 ms by doubling the batch, then N samples
//    of about M ms; median and minimum ns per iteration), printing one tab-separated line per shape:
//      name, median ns/iteration, min ns/iteration, operations/iteration, unit, iterations/sample, samples
//    so that bench/compare_rust_vmm.sh can pair each line with the peer's line for the same shape.
// A shape's factory builds its state (guest memory, rings, a UART) and returns the body of one
// iteration; the body is a concrete lambda, so both harnesses inline it into their timing loops.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

namespace hvbench {

struct PeerConfig {
  int samples = 15;
  std::uint64_t sample_ns = 10'000'000;
  std::string filter;
};

struct Shape {
  std::string name;  // shared with the peer program where it has the same shape
  std::function<void(benchmark::State&)> google_benchmark;
  std::function<void(const PeerConfig&)> peer_format;
};

std::vector<Shape>& shapes();

// The value is an input to an opaque asm statement that may read and write memory, as Rust's
// std::hint::black_box is on the peer's side.
template <class T>
inline void black_box(T&& value) {
  benchmark::DoNotOptimize(value);
}

inline std::uint64_t elapsed_ns(std::chrono::steady_clock::time_point since) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - since).count());
}

template <class Body>
void run_peer_format(const PeerConfig& config, const std::string& name, std::uint64_t ops, const char* unit,
                     Body& body) {
  std::uint64_t iterations = 1;
  double per_iteration_ns = 0;
  for (;;) {  // warm up and calibrate: at least 20 ms, doubling the batch
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < iterations; ++i) body();
    const auto took = elapsed_ns(start);
    if (took >= 20'000'000) {
      per_iteration_ns = static_cast<double>(took) / static_cast<double>(iterations);
      break;
    }
    iterations *= 2;
  }
  const auto per_sample = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(static_cast<double>(config.sample_ns) / per_iteration_ns)));
  std::vector<double> samples;
  for (int s = 0; s < config.samples; ++s) {
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 0; i < per_sample; ++i) body();
    samples.push_back(static_cast<double>(elapsed_ns(start)) / static_cast<double>(per_sample));
  }
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  const double median = n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2.0;
  std::printf("%s\t%.2f\t%.2f\t%llu\t%s\t%llu\t%d\n", name.c_str(), median, samples.front(),
              static_cast<unsigned long long>(ops), unit, static_cast<unsigned long long>(per_sample), config.samples);
  std::fflush(stdout);
}

// Registers a shape: `make()` returns the body of one iteration, which performs `ops` operations of
// `unit` (descriptors, bytes, accesses).
template <class Factory>
void add_shape(std::string name, std::uint64_t ops, const char* unit, Factory make) {
  Shape shape;
  shape.name = name;
  shape.google_benchmark = [make, ops](benchmark::State& state) {
    auto body = make();
    for (auto _ : state) body();
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * ops));
  };
  shape.peer_format = [make, name, ops, unit](const PeerConfig& config) {
    auto body = make();
    run_peer_format(config, name, ops, unit, body);
  };
  shapes().push_back(std::move(shape));
}

// Each file of shapes registers its own.
void add_memory_shapes();
void add_virtqueue_shapes();
void add_uart_shapes();

}  // namespace hvbench
