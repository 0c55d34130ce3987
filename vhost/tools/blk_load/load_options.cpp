#include "load_options.hpp"

#include <charconv>
#include <set>

namespace hvload {
namespace {

constexpr const char* kOp = "vhost-user-blk-load";

hv::Result<ParsedArgs> usage_error(const std::string& message) {
  return hv::fail(hv::ErrorKind::InvalidArgument, kOp, message);
}

// A decimal integer in [min, max], all of `text` (no sign, no suffix).
std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t min, std::uint64_t max) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value < min || value > max) return std::nullopt;
  return value;
}

// Seconds as "S" or "S.F" (up to three decimals), to milliseconds; at least 1 ms.
std::optional<std::uint32_t> parse_seconds(std::string_view text) {
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  auto seconds = parse_uint(whole, 0, kMaxSeconds);
  if (!seconds) return std::nullopt;
  std::uint64_t millis = *seconds * 1000;
  if (dot != std::string_view::npos) {
    const std::string_view fraction = text.substr(dot + 1);
    if (fraction.empty() || fraction.size() > 3) return std::nullopt;
    auto digits = parse_uint(fraction, 0, 999);
    if (!digits) return std::nullopt;
    std::uint64_t scaled = *digits;
    for (std::size_t i = fraction.size(); i < 3; ++i) scaled *= 10;
    millis += scaled;
  }
  if (millis == 0 || millis > std::uint64_t{kMaxSeconds} * 1000) return std::nullopt;
  return static_cast<std::uint32_t>(millis);
}

std::optional<AccessPattern> parse_pattern(std::string_view text) {
  if (text == "randread") return AccessPattern::RandRead;
  if (text == "randwrite") return AccessPattern::RandWrite;
  if (text == "read") return AccessPattern::Read;
  if (text == "write") return AccessPattern::Write;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(AccessPattern p) noexcept {
  switch (p) {
    case AccessPattern::RandRead: return "randread";
    case AccessPattern::RandWrite: return "randwrite";
    case AccessPattern::Read: return "read";
    case AccessPattern::Write: return "write";
  }
  return "?";
}

std::string usage_text() {
  return "usage: vhost-user-blk-load --socket PATH --rw randread|randwrite|read|write [--bs BYTES]\n"
         "                           [--iodepth N] [--queues Q] [--seconds S] [--size BYTES] [--no-event-idx]\n"
         "                           [--json]\n"
         "A vhost-user frontend with a virtio-blk driver and no guest: keeps N requests in flight on each\n"
         "of Q queues of the vhost-user-blk backend at PATH for S seconds, checks every completion, and\n"
         "prints IOPS, MiB/s and latency percentiles.\n"
         "  --socket PATH      the backend's vhost-user socket (it listens, this connects)\n"
         "  --rw MODE          randread, randwrite (uniform over the used range), read, write (sequential)\n"
         "  --bs BYTES         request size, a multiple of 512 up to 1048576 (default 4096)\n"
         "  --iodepth N        requests in flight per queue, 1.." +
         std::to_string(kMaxIodepth) +
         " (default 1)\n"
         "  --queues Q         queues, one thread each, 1.." +
         std::to_string(kMaxQueues) +
         " (default 1; more than one needs a multiqueue backend)\n"
         "  --seconds S        how long to measure, e.g. 10 or 1.5 (default 5)\n"
         "  --size BYTES       use only the first BYTES of the device (default: all of it)\n"
         "  --no-event-idx     do not negotiate VIRTIO_RING_F_EVENT_IDX (default: used when offered, so the\n"
         "                     backend notifies and interrupts only when asked; without it, every time)\n"
         "  --json             print {\"iops\":…, \"mib_per_s\":…, \"lat_us\":{\"p50\":…, \"p99\":…, \"p999\":…}}\n"
         "Every written sector holds a pattern derived from its number; read modes first write that pattern\n"
         "over the used range, then check every sector they read. Writes do not check what the device stored.\n"
         "Exit status: 0 done, 1 a failed request, a data mismatch or a backend error, 2 usage error,\n"
         "3 the backend lacks what the run needs (a feature, enough queues, write access).\n";
}

hv::Result<ParsedArgs> parse_args(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  LoadOptions& o = parsed.options;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::optional<std::string> value;
    if (const auto eq = name.find('='); name.starts_with("--") && eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "--help" || name == "-h") {
      parsed.help = true;
      continue;
    }
    if (!seen.insert(name).second) return usage_error(name + " can be given once");
    if (name == "--json") {
      if (value) return usage_error("--json takes no value");
      o.json = true;
      continue;
    }
    if (name == "--no-event-idx") {
      if (value) return usage_error("--no-event-idx takes no value");
      o.event_idx = false;
      continue;
    }
    static const std::set<std::string> kValued = {"--socket", "--rw",      "--bs",  "--iodepth",
                                                  "--queues", "--seconds", "--size"};
    if (!kValued.contains(name)) return usage_error("unknown option '" + name + "' (--help lists them)");
    if (!value) {
      if (i + 1 >= args.size()) return usage_error(name + " needs a value");
      value = args[++i];
    }
    const std::string& v = *value;
    if (name == "--socket") {
      if (v.empty()) return usage_error("--socket needs a path");
      o.socket = v;
    } else if (name == "--rw") {
      auto p = parse_pattern(v);
      if (!p) return usage_error("--rw '" + v + "': give randread, randwrite, read or write");
      o.pattern = *p;
    } else if (name == "--bs") {
      auto bs = parse_uint(v, kSectorSize, kMaxBlockSize);
      if (!bs || *bs % kSectorSize != 0) {
        return usage_error("--bs '" + v + "': a multiple of 512 from 512 to " + std::to_string(kMaxBlockSize));
      }
      o.block_size = static_cast<std::uint32_t>(*bs);
    } else if (name == "--iodepth") {
      auto n = parse_uint(v, 1, kMaxIodepth);
      if (!n) return usage_error("--iodepth '" + v + "': 1 to " + std::to_string(kMaxIodepth));
      o.iodepth = static_cast<std::uint32_t>(*n);
    } else if (name == "--queues") {
      auto n = parse_uint(v, 1, kMaxQueues);
      if (!n) return usage_error("--queues '" + v + "': 1 to " + std::to_string(kMaxQueues));
      o.queues = static_cast<std::uint16_t>(*n);
    } else if (name == "--seconds") {
      auto ms = parse_seconds(v);
      if (!ms) return usage_error("--seconds '" + v + "': more than 0, at most " + std::to_string(kMaxSeconds));
      o.milliseconds = *ms;
    } else {  // --size
      auto size = parse_uint(v, 1, UINT64_MAX);
      if (!size || *size % kSectorSize != 0) return usage_error("--size '" + v + "': a positive multiple of 512");
      o.size = *size;
    }
  }
  if (parsed.help) return parsed;
  if (o.socket.empty()) return usage_error("--socket PATH is required");
  if (!seen.contains("--rw")) return usage_error("--rw MODE is required");
  if (o.size && *o.size < o.block_size) return usage_error("--size is smaller than --bs");
  return parsed;
}

}  // namespace hvload
