// virtio-blk's requests in flight concurrently (ctest label `concurrency`: the tsan preset runs these
// under ThreadSanitizer). Requests of one queue are held inside the kernel by a userfaultfd: their
// data buffers are guest pages registered for missing-page faults, so a read's preadv blocks in the
// kernel until the test resolves the fault. A fault on N distinct pages at once proves N requests of
// one queue in flight at once, without any timing; the test then decides when they may finish, and
// checks what completes meanwhile (out of order), what a reset or a stop does to them, and that
// nothing is used afterwards.
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <optional>
#include <set>
#include <thread>

#include "block_test_support.hpp"

namespace {

constexpr std::uint64_t kGated = 0x200000;  // guest pages behind the fault gate: a region of its own
constexpr std::size_t kGatedPages = 16;
constexpr std::size_t kPage = 4096;

// A region of guest memory whose pages fault into a userfaultfd the first time anything (the kernel's
// copy for preadv included) touches them; the test sees each fault and releases them when it chooses.
class FaultGate {
 public:
  FaultGate() {
    void* p = ::mmap(nullptr, kGatedPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    host_ = static_cast<std::uint8_t*>(p);
    // Faults in kernel mode (inside preadv) need the uffd without UFFD_USER_MODE_ONLY: root, or
    // vm.unprivileged_userfaultfd = 1.
    uffd_ = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    if (uffd_ < 0) {
      why_ = "userfaultfd: " + std::string(std::strerror(errno));
      return;
    }
    uffdio_api api{};
    api.api = UFFD_API;
    uffdio_register reg{};
    reg.range = {reinterpret_cast<std::uint64_t>(host_), kGatedPages * kPage};
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    if (::ioctl(uffd_, UFFDIO_API, &api) != 0 || ::ioctl(uffd_, UFFDIO_REGISTER, &reg) != 0) {
      why_ = "userfaultfd register: " + std::string(std::strerror(errno));
      return;
    }
    ok_ = true;
  }
  ~FaultGate() {
    if (uffd_ >= 0) ::close(uffd_);  // wakes any fault still waiting: it is then served as a normal one
    if (host_ != nullptr) ::munmap(host_, kGatedPages * kPage);
  }
  FaultGate(const FaultGate&) = delete;
  FaultGate& operator=(const FaultGate&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& why() const { return why_; }
  std::span<std::uint8_t> host() { return {host_, kGatedPages * kPage}; }

  // Waits until threads wait on faults of `count` distinct pages (30 s at most: a guard against a hang,
  // not a measurement).
  bool wait_for_faults(std::size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (faulted_.size() < count) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{uffd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      uffd_msg msg{};
      if (::read(uffd_, &msg, sizeof msg) != static_cast<ssize_t>(sizeof msg)) continue;
      if (msg.event == UFFD_EVENT_PAGEFAULT) faulted_.insert(msg.arg.pagefault.address & ~std::uint64_t{kPage - 1});
    }
    return true;
  }
  [[nodiscard]] std::size_t faulted() const { return faulted_.size(); }
  // Gives every faulted page a zeroed page and wakes the threads waiting on it.
  void release_all() {
    static const std::array<std::uint8_t, kPage> zeroes{};
    for (const std::uint64_t page : faulted_) {
      uffdio_copy copy{};
      copy.dst = page;
      copy.src = reinterpret_cast<std::uint64_t>(zeroes.data());
      copy.len = kPage;
      EXPECT_EQ(::ioctl(uffd_, UFFDIO_COPY, &copy), 0) << std::strerror(errno);
    }
    faulted_.clear();
  }

 private:
  std::uint8_t* host_ = nullptr;
  int uffd_ = -1;
  bool ok_ = false;
  std::string why_;
  std::set<std::uint64_t> faulted_;
};

class BlockConcurrencyTest : public BlockTest {
 protected:
  void SetUp() override {
    BlockTest::SetUp();
    if (!gate_.ok()) GTEST_SKIP() << gate_.why();
    auto region = hv::GuestRegion::borrow(kGated, gate_.host());
    ASSERT_TRUE(region);
    ASSERT_TRUE(memory_.add_region(*region));
    driver_.emplace(memory_, kRings, 64);
    for (std::uint32_t s = 0; s < 64; ++s)
      disk_.write(std::uint64_t{s} * 512, pattern(512, static_cast<std::uint8_t>(s)));
  }
  // Activates `dev` with queue 0 at `driver`'s rings; signals counted.
  void activate(BlockDevice& dev) { activate(dev, *driver_); }
  void activate(BlockDevice& dev, const MockSplitDriver& driver) {
    std::vector<std::pair<std::uint16_t, Queue>> queues;
    queues.emplace_back(0, Queue(*SplitQueue::create(memory_, driver.config())));
    DeviceSignals signals;
    signals.used_buffers = [this](std::uint16_t) { ++signalled_; };
    signals.needs_reset = [this] { broken_ = true; };
    ASSERT_TRUE(dev.activate(shared_memory_, kFeatureVersion1 | kFlushFeature, std::move(queues), signals));
  }
  // IN of one page at sector 8 * i into gated page i; its status at kStatus + i. Returns the head.
  std::uint16_t gated_read(std::uint16_t i) {
    put_header(0, 8ULL * i, kHeader + 16ULL * i);
    EXPECT_TRUE(memory_.write_obj<std::uint8_t>(kStatus + i, 0xaa));
    const BufferSpec request[] = {
        {kHeader + 16ULL * i, 16, false}, {kGated + kPage * i, kPage, true}, {kStatus + i, 1, true}};
    const std::uint16_t head = driver_->add_chain(request);
    driver_->make_available(head);
    return head;
  }
  std::vector<std::uint8_t> sectors(std::uint16_t i) { return disk_.read(8ULL * i * 512, kPage); }

  static constexpr std::uint64_t kFlushFeature = 1ULL << 9;
  FaultGate gate_;
  std::optional<MockSplitDriver> driver_;  // made in SetUp, once the memory exists
  std::atomic<int> signalled_{0};
  std::atomic<bool> broken_{false};
};

// Three reads of one queue wait inside preadv at once (three distinct faults: only possible with three
// in flight); meanwhile a write and a flush of the same queue are taken and completed, before the
// reads: out of order. The flush covers the write completed before it. Then the reads finish, each
// with its data and status.
TEST_F(BlockConcurrencyTest, RequestsOfOneQueueAreInFlightTogetherAndCompleteOutOfOrder) {
  BlockOptions options;
  options.queue_depth = 4;
  auto dev = BlockDevice::open(disk_.path(), options);
  ASSERT_TRUE(dev);
  activate(**dev);
  std::vector<std::uint16_t> reads;
  for (std::uint16_t i = 0; i < 3; ++i) reads.push_back(gated_read(i));
  (*dev)->notify(0);
  ASSERT_TRUE(gate_.wait_for_faults(3)) << "requests in flight at once: " << gate_.faulted();
  EXPECT_EQ(driver_->used_index(), 0);

  // The fourth worker serves a write, then a flush, while the three reads still wait.
  put_header(1, 100, kHeader + 0x100);
  ASSERT_TRUE(memory_.write(kData, pattern(512, 0x5a)));
  ASSERT_TRUE(memory_.write_obj<std::uint8_t>(kStatus + 0x10, 0xaa));
  const BufferSpec write[] = {{kHeader + 0x100, 16, false}, {kData, 512, false}, {kStatus + 0x10, 1, true}};
  const std::uint16_t write_head = driver_->add_chain(write);
  driver_->make_available(write_head);
  (*dev)->notify(0);
  ASSERT_TRUE(wait_until([&] { return driver_->used_index() == 1; }));
  EXPECT_EQ(driver_->used(0).id, write_head);
  EXPECT_EQ(disk_.read(100 * 512, 512), pattern(512, 0x5a));  // completed: in the file
  put_header(4, 0, kHeader + 0x200);
  ASSERT_TRUE(memory_.write_obj<std::uint8_t>(kStatus + 0x11, 0xaa));
  const BufferSpec flush[] = {{kHeader + 0x200, 16, false}, {kStatus + 0x11, 1, true}};
  const std::uint16_t flush_head = driver_->add_chain(flush);
  driver_->make_available(flush_head);
  (*dev)->notify(0);
  ASSERT_TRUE(wait_until([&] { return driver_->used_index() == 2; }));
  EXPECT_EQ(driver_->used(1).id, flush_head);
  EXPECT_EQ(memory_.read_obj<std::uint8_t>(kStatus + 0x10).value(), 0);
  EXPECT_EQ(memory_.read_obj<std::uint8_t>(kStatus + 0x11).value(), 0);
  EXPECT_EQ(gate_.faulted(), 3U) << "the reads are still held";

  gate_.release_all();
  ASSERT_TRUE(wait_until([&] { return driver_->used_index() == 5; })) << driver_->used_index();
  std::set<std::uint16_t> done;
  for (std::uint16_t u = 2; u < 5; ++u) {
    EXPECT_EQ(driver_->used(u).length, kPage + 1);
    done.insert(static_cast<std::uint16_t>(driver_->used(u).id));
  }
  EXPECT_EQ(done, std::set<std::uint16_t>(reads.begin(), reads.end()));
  for (std::uint16_t i = 0; i < 3; ++i) {
    EXPECT_EQ(memory_.read_obj<std::uint8_t>(kStatus + i).value(), 0) << i;
    std::vector<std::uint8_t> back(kPage);
    ASSERT_TRUE(memory_.read(kGated + kPage * i, back));
    EXPECT_EQ(back, sectors(i)) << i;
  }
  const auto stats = (*dev)->stats();
  EXPECT_EQ(stats.requests, 5U);
  EXPECT_GE(stats.max_in_flight, 4U);  // three reads and the write (or the flush)
  EXPECT_LE(stats.max_in_flight, 4U);
  EXPECT_GT(signalled_.load(), 0);
  EXPECT_FALSE(broken_.load());
}

// The queue depth bounds what is in flight: with two workers, two of three reads wait in the kernel
// and the third is not taken until one of them finishes.
TEST_F(BlockConcurrencyTest, TheQueueDepthBoundsTheRequestsInFlight) {
  BlockOptions options;
  options.queue_depth = 2;
  auto dev = BlockDevice::open(disk_.path(), options);
  ASSERT_TRUE(dev);
  activate(**dev);
  for (std::uint16_t i = 0; i < 3; ++i) (void)gated_read(i);
  (*dev)->notify(0);
  ASSERT_TRUE(gate_.wait_for_faults(2));
  gate_.release_all();  // the two finish; a worker takes the third, which faults on its own page
  ASSERT_TRUE(gate_.wait_for_faults(1));
  gate_.release_all();
  ASSERT_TRUE(wait_until([&] { return driver_->used_index() == 3; }));
  const auto stats = (*dev)->stats();
  EXPECT_EQ(stats.requests, 3U);
  EXPECT_EQ(stats.max_in_flight, 2U);
}

// A reset while requests are in flight returns only once no worker holds one: the reset runs on
// another thread and has not returned while the reads are held; once they are released it returns,
// and nothing is used afterwards. The device then serves a new activation.
TEST_F(BlockConcurrencyTest, AResetWaitsForTheRequestsInFlight) {
  auto dev = BlockDevice::open(disk_.path(), BlockOptions{});
  ASSERT_TRUE(dev);
  activate(**dev);
  for (std::uint16_t i = 0; i < 3; ++i) (void)gated_read(i);
  (*dev)->notify(0);
  ASSERT_TRUE(gate_.wait_for_faults(3));
  std::atomic<bool> returned{false};
  auto reset = std::async(std::launch::async, [&] {
    (*dev)->reset();
    returned = true;
  });
  // The reset cannot return while the reads hold their requests (checked before they are released).
  EXPECT_FALSE(returned.load());
  gate_.release_all();
  reset.get();
  const std::uint16_t used = driver_->used_index();
  const auto stats = (*dev)->stats();
  EXPECT_EQ(stats.requests + stats.abandoned, 3U);  // each either completed before the reset returned or was dropped
  EXPECT_EQ(stats.requests, used);
  (*dev)->notify(0);  // the queue is gone: nothing happens
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(driver_->used_index(), used);

  // A new activation over fresh rings serves again.
  MockSplitDriver fresh(memory_, kRings + 0x4000, 64);
  activate(**dev, fresh);
  put_header(0, 8, kHeader);
  const BufferSpec read[] = {{kHeader, 16, false}, {kData, kPage, true}, {kStatus, 1, true}};
  fresh.make_available(fresh.add_chain(read));
  (*dev)->notify(0);
  ASSERT_TRUE(wait_until([&] { return fresh.used_index() == 1; }));
  EXPECT_EQ(status(), 0);
}

// stop() (a vhost-user backend's GET_VRING_BASE) takes nothing new and waits for every request in
// flight to complete and be used: the queue it returns continues after all of them.
TEST_F(BlockConcurrencyTest, StopCompletesTheRequestsInFlightFirst) {
  auto dev = BlockDevice::open(disk_.path(), BlockOptions{});
  ASSERT_TRUE(dev);
  activate(**dev);
  for (std::uint16_t i = 0; i < 3; ++i) (void)gated_read(i);
  (*dev)->notify(0);
  ASSERT_TRUE(gate_.wait_for_faults(3));
  std::atomic<bool> returned{false};
  auto stop = std::async(std::launch::async, [&] {
    auto queues = (*dev)->stop();
    returned = true;
    return queues;
  });
  EXPECT_FALSE(returned.load());
  gate_.release_all();
  auto queues = stop.get();
  ASSERT_TRUE(queues);
  ASSERT_EQ(queues->size(), 1U);
  const auto& split = std::get<SplitQueue>(queues->front().second.layout());
  EXPECT_EQ(split.state(), (SplitQueueState{3, 3}));
  EXPECT_EQ(driver_->used_index(), 3);
  for (std::uint16_t i = 0; i < 3; ++i) {
    EXPECT_EQ(memory_.read_obj<std::uint8_t>(kStatus + i).value(), 0) << i;
    std::vector<std::uint8_t> back(kPage);
    ASSERT_TRUE(memory_.read(kGated + kPage * i, back));
    EXPECT_EQ(back, sectors(i)) << i;
  }
  EXPECT_EQ((*dev)->stats().abandoned, 0U);
}

}  // namespace

// Two queues, each with its own driver and workers, notified together: each writes its own half of
// the disk and reads it back through the same queue; every request completes with the right data and
// the right queue is signalled. Run under tsan, this is also the check that the queues share nothing
// unsynchronized.
TEST_F(BlockTest, TwoQueuesServeRequestsConcurrently) {
  constexpr std::uint16_t kRequests = 32;
  constexpr std::uint32_t kBytes = 4096;
  auto dev = BlockDevice::open(disk_.path(), BlockOptions{.read_only = false, .serial = {}, .num_queues = 2});
  ASSERT_TRUE(dev);
  MockSplitDriver drivers[2] = {{memory_, kRings, 128}, {memory_, kRings + 0x4000, 128}};
  std::vector<std::pair<std::uint16_t, Queue>> queues;
  for (std::uint16_t q = 0; q < 2; ++q)
    queues.emplace_back(q, Queue(*SplitQueue::create(memory_, drivers[q].config())));
  std::array<std::atomic<int>, 2> signalled{};
  DeviceSignals signals;
  signals.used_buffers = [&](std::uint16_t index) { signalled.at(index)++; };
  ASSERT_TRUE((*dev)->activate(shared_memory_, 1ULL << 9, std::move(queues), signals));
  // Queue q: headers at kHeader + q * 0x1000, statuses at kStatus + q * 0x100, data at kBig + q * 0x40000
  // (writes) and kBig + 0x80000 + q * 0x40000 (reads); sectors from q * 1024.
  const auto header_at = [](std::uint16_t q, std::uint16_t i) { return kHeader + q * 0x1000 + i * 32; };
  const auto status_at = [](std::uint16_t q, std::uint16_t i) { return kStatus + q * 0x100 + i; };
  const auto data_at = [](bool read, std::uint16_t q, std::uint16_t i) {
    return kBig + (read ? 0x80000 : 0) + q * 0x40000 + std::uint64_t{i} * kBytes;
  };
  const auto sector = [](std::uint16_t q, std::uint16_t i) { return q * 1024 + i * (kBytes / 512); };
  const auto submit = [&](bool read) {
    for (std::uint16_t q = 0; q < 2; ++q) {
      for (std::uint16_t i = 0; i < kRequests; ++i) {
        put_header(read ? 0 : 1, sector(q, i), header_at(q, i));
        ASSERT_TRUE(memory_.write_obj<std::uint8_t>(status_at(q, i), 0xaa));
        if (!read) {
          ASSERT_TRUE(memory_.write(data_at(false, q, i), pattern(kBytes, static_cast<std::uint8_t>(q * 64 + i))));
        }
        const BufferSpec request[] = {
            {header_at(q, i), 16, false}, {data_at(read, q, i), kBytes, read}, {status_at(q, i), 1, true}};
        drivers[q].make_available(drivers[q].add_chain(request));
      }
    }
    (*dev)->notify(0);
    (*dev)->notify(1);
  };
  submit(false);
  for (auto& d : drivers) ASSERT_TRUE(wait_until([&] { return d.used_index() == kRequests; })) << d.used_index();
  for (auto& d : drivers) d.reset_descriptors();
  submit(true);
  for (auto& d : drivers) ASSERT_TRUE(wait_until([&] { return d.used_index() == 2 * kRequests; })) << d.used_index();
  for (std::uint16_t q = 0; q < 2; ++q) {
    EXPECT_GT(signalled.at(q).load(), 0) << q;
    for (std::uint16_t i = 0; i < kRequests; ++i) {
      const auto expected = pattern(kBytes, static_cast<std::uint8_t>(q * 64 + i));
      EXPECT_EQ(drivers[q].used(i).length, 1U) << q << ' ' << i;
      EXPECT_EQ(drivers[q].used(kRequests + i).length, kBytes + 1) << q << ' ' << i;
      EXPECT_EQ(memory_.read_obj<std::uint8_t>(status_at(q, i)).value(), 0) << q << ' ' << i;
      EXPECT_EQ(disk_.read(sector(q, i) * 512ULL, kBytes), expected) << q << ' ' << i;
      std::vector<std::uint8_t> back(kBytes);
      ASSERT_TRUE(memory_.read(data_at(true, q, i), back));
      EXPECT_EQ(back, expected) << q << ' ' << i;
    }
  }
  // A queue the device does not have, or one given twice, is refused.
  (*dev)->reset();
  std::vector<std::pair<std::uint16_t, Queue>> bad;
  bad.emplace_back(2, Queue(*SplitQueue::create(memory_, drivers[0].config())));
  EXPECT_FALSE((*dev)->activate(shared_memory_, 0, std::move(bad), DeviceSignals{}));
}
