// The backend's view of the VP register page (mshv/src/mshv_vp_register_page.hpp) when a write the
// page cannot hold goes by hypercall: the page's unapplied writes are taken out (with their whole
// class, as the hypervisor would load it) to go first in that hypercall, their dirty bits cleared and
// given back if the hypercall fails, and the page's copies of the hypercall's registers refreshed
// without marking them dirty. A page in plain memory stands in for the mapped one.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "mshv_abi.hpp"
#include "mshv_register_page.hpp"
#include "mshv_vp_register_page.hpp"

namespace {

namespace abi = hv::mshv::abi;
namespace reg = abi::reg;
using Page = abi::HvVpRegisterPage;

class MemoryPage final : public hv::mshv::MappedPage {
 public:
  explicit MemoryPage(std::array<std::uint8_t, 4096>& bytes) : bytes_(bytes) {}
  [[nodiscard]] std::span<std::uint8_t> bytes() const noexcept override { return bytes_; }

 private:
  std::array<std::uint8_t, 4096>& bytes_;
};

struct Fixture {
  std::array<std::uint8_t, 4096> bytes{};
  hv::mshv::detail::VpRegisterPage page;
  Fixture() {
    bytes.at(offsetof(Page, isvalid)) = 1;
    for (std::uint64_t i = 0; i < 16; ++i) store(offsetof(Page, gp_registers) + 8 * i, 0x100 + i);
    store(offsetof(Page, rip), 0x1000);
    store(offsetof(Page, rflags), 0x2);
    page = hv::mshv::detail::VpRegisterPage(std::make_unique<MemoryPage>(bytes));
  }
  void store(std::size_t offset, std::uint64_t v) { std::memcpy(bytes.data() + offset, &v, sizeof v); }
  [[nodiscard]] std::uint64_t load(std::size_t offset) const {
    std::uint64_t v = 0;
    std::memcpy(&v, bytes.data() + offset, sizeof v);
    return v;
  }
  [[nodiscard]] std::uint32_t dirty() const {
    std::uint32_t d = 0;
    std::memcpy(&d, bytes.data() + offsetof(Page, dirty), sizeof d);
    return d;
  }
};

abi::HvRegisterAssoc assoc(std::uint32_t name, std::uint64_t value) {
  abi::HvRegisterAssoc a{};
  a.name = name;
  a.value.low = value;
  return a;
}

TEST(MshvVpRegisterPage, NothingIsPendingBeforeAWrite) {
  Fixture f;
  std::uint32_t dirty = 0xdead;
  EXPECT_TRUE(f.page.take_pending(dirty).empty());
  EXPECT_EQ(dirty, 0U);
}

TEST(MshvVpRegisterPage, AnUnappliedWriteIsTakenWithItsWholeClassAndItsDirtyBitCleared) {
  Fixture f;
  const std::array rax = {assoc(reg::kRax, 0xabc)};
  f.page.write(rax);
  ASSERT_EQ(f.dirty(), 1U << abi::kRegisterClassGeneral);
  std::uint32_t dirty = 0;
  const auto pending = f.page.take_pending(dirty);
  EXPECT_EQ(dirty, 1U << abi::kRegisterClassGeneral);
  EXPECT_EQ(f.dirty(), 0U);
  ASSERT_EQ(pending.size(), 16U);  // RAX..R15: the hypervisor loads the class whole
  EXPECT_EQ(pending.at(0).name, reg::kRax);
  EXPECT_EQ(pending.at(0).value.low, 0xabcU);
  EXPECT_EQ(pending.at(15).name, reg::kRax + 15);
  EXPECT_EQ(pending.at(15).value.low, 0x10fU);
  EXPECT_TRUE(std::none_of(pending.begin(), pending.end(), [](const auto& a) { return a.name == reg::kRip; }));
}

TEST(MshvVpRegisterPage, RipAndFlagsAreTakenOnlyWhenWritten) {
  Fixture f;
  const std::array writes = {assoc(reg::kRip, 0x2000), assoc(reg::kRflags, 0x202)};
  f.page.write(writes);
  std::uint32_t dirty = 0;
  const auto pending = f.page.take_pending(dirty);
  EXPECT_EQ(dirty, (1U << abi::kRegisterClassIp) | (1U << abi::kRegisterClassFlags));
  ASSERT_EQ(pending.size(), 2U);
  EXPECT_EQ(pending.at(0).name, reg::kRip);
  EXPECT_EQ(pending.at(0).value.low, 0x2000U);
  EXPECT_EQ(pending.at(1).name, reg::kRflags);
  EXPECT_EQ(pending.at(1).value.low, 0x202U);
}

TEST(MshvVpRegisterPage, AFailedHypercallGivesTheDirtyBitsBack) {
  Fixture f;
  const std::array rip = {assoc(reg::kRip, 0x2000)};
  f.page.write(rip);
  std::uint32_t dirty = 0;
  (void)f.page.take_pending(dirty);
  ASSERT_EQ(f.dirty(), 0U);
  f.page.restore_dirty(dirty);
  EXPECT_EQ(f.dirty(), 1U << abi::kRegisterClassIp);
  EXPECT_EQ(f.load(offsetof(Page, rip)), 0x2000U);
}

TEST(MshvVpRegisterPage, RefreshUpdatesTheCopiesWithoutMarkingThemDirty) {
  Fixture f;
  const std::array mixed = {assoc(reg::kRax, 0x77), assoc(reg::kCr0, 0x11)};
  f.page.refresh(mixed);
  EXPECT_EQ(f.load(offsetof(Page, gp_registers)), 0x77U);
  EXPECT_EQ(f.dirty(), 0U);
  const std::array names = {reg::kRax};
  std::array<abi::HvRegisterValue, 1> values{};
  f.page.read(names, values);
  EXPECT_EQ(values.at(0).low, 0x77U);
}

TEST(MshvVpRegisterPage, OnlyPageRegistersAreOnThePage) {
  EXPECT_TRUE(hv::mshv::detail::VpRegisterPage::on_page(reg::kRax));
  EXPECT_TRUE(hv::mshv::detail::VpRegisterPage::on_page(reg::kRip));
  EXPECT_TRUE(hv::mshv::detail::VpRegisterPage::on_page(reg::kCs));
  EXPECT_FALSE(hv::mshv::detail::VpRegisterPage::on_page(reg::kCr0));
  EXPECT_FALSE(hv::mshv::detail::VpRegisterPage::on_page(reg::kEfer));
}

}  // namespace
