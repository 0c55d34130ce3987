#include "blk_target.hpp"

#include <bit>
#include <cstring>

#include "hv/virtio/device.hpp"
#include "hv/virtio/mmio_transport.hpp"

namespace hvload {
namespace {

constexpr const char* kOp = "vhost-user-blk-load";
constexpr std::uint64_t kPage = 4096;
std::uint64_t page_up(std::uint64_t n) { return (n + kPage - 1) / kPage * kPage; }

hv::Result<std::uint64_t> host_address(const hv::GuestMemory& memory, std::uint64_t gpa) {
  const auto* region = memory.find_region(gpa);
  if (region == nullptr) return hv::fail(hv::ErrorKind::Internal, kOp, "ring outside the shared memory");
  return std::bit_cast<std::uintptr_t>((*region)->host().data()) + (gpa - (*region)->guest_base());
}

// virtio_blk_config up to and including num_queues (offset 34).
constexpr std::uint32_t kConfigBytes = 36;

template <class T>
T from_le(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
  T value{};
  std::memcpy(&value, std::span(bytes).subspan(offset, sizeof(T)).data(),
              sizeof(T));  // x86-64 and every target here: little-endian, as virtio
  return value;
}

}  // namespace

hv::Result<BlkTarget> BlkTarget::open(const LoadOptions& options) {
  hv::vhost::FrontendOptions frontend_options;
  // The in-flight record serves a backend restart, which a load generator does not do.
  frontend_options.protocol_features =
      hv::vhost::kFrontendProtocolFeatures & ~hv::vhost::protocol_feature::kInflightShmfd;
  auto frontend = hv::vhost::Frontend::connect(options.socket, frontend_options);
  if (!frontend) return tl::unexpected(frontend.error());
  BlkTarget target(std::move(*frontend));
  if (auto r = target.negotiate(options); !r) return tl::unexpected(r.error());
  if (auto r = target.lay_out(options); !r) return tl::unexpected(r.error());
  if (auto r = target.start_rings(); !r) return tl::unexpected(r.error());
  return target;
}

hv::Result<void> BlkTarget::negotiate(const LoadOptions& options) {
  const std::uint64_t offered = frontend_.backend_features();
  if ((offered & hv::virtio::kFeatureVersion1) == 0) {
    return hv::fail(hv::ErrorKind::Unsupported, kOp, "the backend does not offer VIRTIO_F_VERSION_1");
  }
  if (!frontend_.has(hv::vhost::protocol_feature::kConfig)) {
    return hv::fail(hv::ErrorKind::Unsupported, kOp,
                    "the backend does not offer the CONFIG protocol feature (needed to read the capacity)");
  }
  if (options.queues > 1) {
    const std::uint16_t served = frontend_.queue_num().value_or(1);
    if ((offered & kBlkFeatureMq) == 0 || served < options.queues) {
      return hv::fail(hv::ErrorKind::Unsupported, kOp,
                      "the backend serves " + std::to_string(served) + " queue(s)" +
                          ((offered & kBlkFeatureMq) == 0 ? " and does not offer VIRTIO_BLK_F_MQ" : "") +
                          "; --queues " + std::to_string(options.queues) + " needs a multiqueue backend");
    }
  }
  if ((offered & kBlkFeatureRo) != 0) {
    return hv::fail(hv::ErrorKind::Unsupported, kOp,
                    std::string("the backend is read-only (VIRTIO_BLK_F_RO); ") +
                        (is_read(options.pattern) ? "read modes write the pattern they check first"
                                                  : "writes need a writable device"));
  }
  // The config space from its start, as QEMU's frontend reads it: qemu-storage-daemon 7.2 answers
  // GET_CONFIG with the space's first bytes whatever offset is asked for.
  auto config = frontend_.get_config(0, kConfigBytes);
  if (!config) return tl::unexpected(config.error());
  const std::uint64_t sectors = from_le<std::uint64_t>(*config, 0);                  // capacity, in 512-byte sectors
  if (options.queues > 1 && from_le<std::uint16_t>(*config, 34) < options.queues) {  // num_queues
    return hv::fail(hv::ErrorKind::Unsupported, kOp,
                    "the backend's num_queues is " + std::to_string(from_le<std::uint16_t>(*config, 34)) +
                        "; --queues " + std::to_string(options.queues) + " needs more");
  }
  if (sectors > UINT64_MAX / kSectorSize) {
    return hv::fail(hv::ErrorKind::ProtocolViolation, kOp, "the backend's capacity does not fit in 64 bits of bytes");
  }
  capacity_bytes_ = sectors * kSectorSize;
  used_bytes_ = options.size.value_or(capacity_bytes_);
  if (used_bytes_ > capacity_bytes_) {
    return hv::fail(hv::ErrorKind::InvalidArgument, kOp,
                    "--size " + std::to_string(used_bytes_) + " is more than the device's " +
                        std::to_string(capacity_bytes_) + " bytes");
  }
  // Whole blocks per queue: each queue needs at least one for its sequential slice.
  if (used_bytes_ / options.block_size < options.queues) {
    return hv::fail(hv::ErrorKind::InvalidArgument, kOp,
                    "the device (" + std::to_string(used_bytes_) + " bytes used) holds fewer --bs blocks than queues");
  }
  // A Linux guest's choice: FLUSH when offered, so both kinds of backend cache writes the same way.
  // EVENT_IDX as a Linux guest takes it (unless --no-event-idx): the backend then skips the calls
  // the driver did not ask for (split_ring_driver.hpp).
  features_ = hv::virtio::kFeatureVersion1 | (offered & kBlkFeatureFlush) | (options.queues > 1 ? kBlkFeatureMq : 0) |
              (options.event_idx ? offered & kRingFeatureEventIdx : 0);
  return frontend_.set_features(features_);
}

hv::Result<void> BlkTarget::lay_out(const LoadOptions& options) {
  const auto ring_size = static_cast<std::uint16_t>(std::bit_ceil(std::max<std::uint32_t>(8, 3 * options.iodepth)));
  const std::uint64_t stride = page_up(options.block_size);
  std::uint64_t next = 0;
  for (std::uint16_t q = 0; q < options.queues; ++q) {
    QueueLayout l;
    l.index = q;
    l.ring_size = ring_size;
    l.rings = next;
    next += page_up(SplitRingDriver::footprint(ring_size));
    l.headers = next;
    l.statuses = next + 16ULL * options.iodepth;
    next += page_up(17ULL * options.iodepth);
    l.data = next;
    l.data_stride = stride;
    l.event_idx = (features_ & kRingFeatureEventIdx) != 0;
    next += stride * options.iodepth;
    auto kick = hv::EventFd::create();
    if (!kick) return tl::unexpected(kick.error());
    auto call = hv::EventFd::create();
    if (!call) return tl::unexpected(call.error());
    queues_.push_back(TargetQueue{l, std::move(*kick), std::move(*call)});
  }
  const hv::RegionSpec spec{0, next, hv::Permission::ReadWrite};
  auto memory = hv::GuestMemory::create(std::span(&spec, 1), hv::Backing::Memfd);
  if (!memory) return tl::unexpected(memory.error());
  memory_ = std::make_shared<hv::GuestMemory>(std::move(*memory));
  return {};
}

hv::Result<void> BlkTarget::start_rings() {
  if (auto r = frontend_.set_mem_table(*memory_); !r) return r;
  for (const auto& q : queues_) {
    const auto& l = q.layout;
    if (auto r = frontend_.set_vring_num(l.index, l.ring_size); !r) return r;
    if (auto r = frontend_.set_vring_base(l.index, 0); !r) return r;
    const SplitRingDriver ring(memory_, l.rings, l.ring_size);
    auto desc_host = host_address(*memory_, ring.descriptor_table());
    auto used_host = host_address(*memory_, ring.used_ring());
    auto avail_host = host_address(*memory_, ring.available_ring());
    if (!desc_host || !used_host || !avail_host) return hv::fail(hv::ErrorKind::Internal, kOp, "ring address");
    if (auto r = frontend_.set_vring_addr(hv::vhost::VringAddr{l.index, 0, *desc_host, *used_host, *avail_host, 0});
        !r) {
      return r;
    }
    if (auto r = frontend_.set_vring_kick(l.index, q.kick.fd()); !r) return r;
    if (auto r = frontend_.set_vring_call(l.index, q.call.fd()); !r) return r;
  }
  // With protocol features the rings start disabled: enable them once all are set up.
  if ((frontend_.backend_features() & hv::vhost::kFeatureProtocolFeatures) != 0) {
    for (const auto& q : queues_) {
      if (auto r = frontend_.set_vring_enable(q.layout.index, true); !r) return r;
    }
  }
  if (frontend_.has(hv::vhost::protocol_feature::kStatus)) {
    constexpr auto kLive = static_cast<std::uint8_t>(hv::virtio::kStatusAcknowledge | hv::virtio::kStatusDriver |
                                                     hv::virtio::kStatusFeaturesOk | hv::virtio::kStatusDriverOk);
    if (auto r = frontend_.set_status(kLive); !r) return r;
  }
  return {};
}

hv::Result<void> BlkTarget::stop() {
  for (const auto& q : queues_) {
    if (auto base = frontend_.get_vring_base(q.layout.index); !base) return tl::unexpected(base.error());
  }
  return {};
}

}  // namespace hvload
