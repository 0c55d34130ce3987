// hot_paths_bench: the guest-memory, virtqueue and UART shapes of the rust-vmm comparison.
//   hot_paths_bench [Google Benchmark flags]                     Google Benchmark figures
//   hot_paths_bench --peer-format [--samples N] [--sample-ms M] [--filter TEXT]
//                                                                one TSV line per shape (see shape_registry.hpp)
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <thread>

#include "shape_registry.hpp"

namespace hvbench {

std::vector<Shape>& shapes() {
  static std::vector<Shape> all;
  return all;
}

}  // namespace hvbench

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: hot_paths_bench [benchmark flags]\n"
               "       hot_paths_bench --peer-format [--samples N] [--sample-ms M] [--filter TEXT]\n");
  return 2;
}

int run_peer_format(int argc, char** argv) {
  hvbench::PeerConfig config;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    const char* value = argv[++i];
    if (arg == "--samples") {
      config.samples = std::atoi(value);
    } else if (arg == "--sample-ms") {
      config.sample_ns = std::strtoull(value, nullptr, 10) * 1'000'000;
    } else if (arg == "--filter") {
      config.filter = value;
    } else {
      return usage();
    }
  }
  if (config.samples < 1 || config.sample_ns == 0) return usage();
  std::printf("# hvkit hot paths\n");
  for (const auto& shape : hvbench::shapes()) {
    if (config.filter.empty() || shape.name.find(config.filter) != std::string::npos) shape.peer_format(config);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  hvbench::add_memory_shapes();
  hvbench::add_virtqueue_shapes();
  hvbench::add_uart_shapes();
  // An idle second thread for the whole run, as in the peer program: glibc drops the lock prefix of
  // its mutexes in a single-threaded process, which would flatter whichever side had one thread.
  std::promise<void> stop;
  std::thread idle([done = stop.get_future()]() mutable { done.wait(); });
  int status = 0;
  if (argc >= 2 && std::strcmp(argv[1], "--peer-format") == 0) {
    status = run_peer_format(argc, argv);
  } else {
    for (const auto& shape : hvbench::shapes()) {
      benchmark::RegisterBenchmark(shape.name.c_str(), shape.google_benchmark);
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
      status = 1;
    } else {
      benchmark::RunSpecifiedBenchmarks();
      benchmark::Shutdown();
    }
  }
  stop.set_value();
  idle.join();
  return status;
}
