// vhost-user-blk-load: a vhost-user frontend with a virtio-blk driver and no guest, to measure and
// check a vhost-user-blk backend (ours or qemu-storage-daemon's). docs/benchmarks.md, "vhost-user-blk".
// One thread per queue; the main thread negotiates, then waits for them.
#include <barrier>
#include <iostream>
#include <optional>
#include <span>
#include <thread>

#include "blk_target.hpp"
#include "load_options.hpp"
#include "queue_worker.hpp"
#include "report.hpp"

namespace {

constexpr int kExitFailed = 1, kExitUsage = 2, kExitUnsupported = 3;

int report_error(const hv::Error& error) {
  std::cerr << error.to_string() << "\n";  // "vhost-user-blk-load: ..." or the failed step's name
  return error.kind() == hv::ErrorKind::Unsupported ? kExitUnsupported : kExitFailed;
}

int run(const hvload::LoadOptions& options) {
  auto target = hvload::BlkTarget::open(options);
  if (!target) return report_error(target.error());
  const auto queues = target->queues().size();
  std::vector<hvload::QueueResult> results(queues);
  std::vector<std::optional<hv::Error>> errors(queues);
  std::barrier prefilled(static_cast<std::ptrdiff_t>(queues));
  {
    std::vector<std::jthread> threads;
    for (std::size_t q = 0; q < queues; ++q) {
      threads.emplace_back([&, q] {
        hvload::QueueWorker worker(target->memory(), target->queues().at(q), options, target->used_bytes());
        hv::Result<void> r = worker.prepare();
        if (r && hvload::is_read(options.pattern)) r = worker.prefill();
        if (!r) {
          errors.at(q) = r.error();
          prefilled.arrive_and_drop();
          return;
        }
        prefilled.arrive_and_wait();  // reads start once every queue's slice holds the pattern
        r = worker.measure(std::chrono::milliseconds(options.milliseconds), results.at(q));
        if (!r) errors.at(q) = r.error();
      });
    }
  }
  for (const auto& error : errors) {
    if (error) return report_error(*error);
  }
  if (auto r = target->stop(); !r) return report_error(r.error());
  hvload::LatencyHistogram latency;
  std::uint64_t requests = 0, calls = 0;
  std::chrono::nanoseconds elapsed{};
  for (const auto& result : results) {
    latency.merge(result.latency);
    requests += result.completed;
    calls += result.calls;
    elapsed = std::max(elapsed, result.elapsed);
  }
  const auto summary = hvload::summarize(latency, requests, elapsed, options.block_size);
  if (options.json) {
    std::cout << hvload::format_json(summary);
  } else {
    std::cout << "vhost-user-blk-load: " << hvload::to_string(options.pattern) << " bs " << options.block_size
              << " iodepth " << options.iodepth << " queues " << options.queues << " on " << options.socket << " ("
              << target->used_bytes() << " of " << target->capacity_bytes() << " bytes)\n"
              << hvload::format_text(summary) << "calls: " << calls << " for " << requests << " completions (EVENT_IDX "
              << ((target->negotiated_features() & hvload::kRingFeatureEventIdx) != 0 ? "on" : "off") << ")\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::span<char*> args(argv, static_cast<std::size_t>(argc));
  auto parsed = hvload::parse_args(std::vector<std::string>(args.begin() + 1, args.end()));
  if (!parsed) {
    std::cerr << "vhost-user-blk-load: " << parsed.error().message() << " (--help lists the options)\n";
    return kExitUsage;
  }
  if (parsed->help) {
    std::cout << hvload::usage_text();
    return 0;
  }
  return run(parsed->options);
}
