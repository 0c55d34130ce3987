// [§n] cites a section of docs/mshv-abi.md, the ABI facts this file relies on.
// The VP register page [§10.1]: fields read and written with memcpy at the offsets the static asserts
// of mshv_register_page.hpp pin, one field at a time, so that nothing else on the shared page is
// rewritten.
#include "mshv_vp_register_page.hpp"

#include <cstddef>
#include <cstring>
#include <optional>

#include "mshv_register_page.hpp"

namespace hv::mshv::detail {

namespace {

namespace reg = abi::reg;
using Page = abi::HvVpRegisterPage;

struct Slot {
  std::size_t offset;
  std::size_t size;
  std::uint32_t dirty_class;  // the class a write marks; kNoClass for read-only slots
};
constexpr std::uint32_t kNoClass = 0xffffffff;

std::optional<Slot> slot(std::uint32_t name) noexcept {
  if (name >= reg::kRax && name < reg::kRax + 16)
    return Slot{offsetof(Page, gp_registers) + std::size_t{8} * (name - reg::kRax), 8, abi::kRegisterClassGeneral};
  if (name == reg::kRip) return Slot{offsetof(Page, rip), 8, abi::kRegisterClassIp};
  if (name == reg::kRflags) return Slot{offsetof(Page, rflags), 8, abi::kRegisterClassFlags};
  // ES CS SS DS FS GS: the page's order is the register names' order.
  if (name >= reg::kEs && name <= reg::kGs)
    return Slot{offsetof(Page, segments) + sizeof(abi::HvSegmentRegister) * (name - reg::kEs),
                sizeof(abi::HvSegmentRegister), kNoClass};
  return std::nullopt;
}

}  // namespace

bool VpRegisterPage::valid() const noexcept {
  if (!page_) return false;
  const auto bytes = page_->bytes();
  return bytes.size() >= sizeof(Page) && bytes[offsetof(Page, isvalid)] != 0;
}

bool VpRegisterPage::readable(std::span<const std::uint32_t> names) noexcept {
  for (const std::uint32_t name : names) {
    if (!slot(name)) return false;
  }
  return true;
}

bool VpRegisterPage::writable(std::span<const abi::HvRegisterAssoc> assocs) noexcept {
  for (const auto& a : assocs) {
    const auto s = slot(a.name);
    if (!s || s->dirty_class == kNoClass) return false;
  }
  return true;
}

void VpRegisterPage::read(std::span<const std::uint32_t> names, std::span<abi::HvRegisterValue> values) const noexcept {
  const auto bytes = page_->bytes();
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    const auto s = slot(names[i]);
    values[i] = {};
    if (s) std::memcpy(&values[i], bytes.data() + s->offset, s->size);
  }
}

void VpRegisterPage::write(std::span<const abi::HvRegisterAssoc> assocs) noexcept {
  const auto bytes = page_->bytes();
  std::uint32_t dirty = 0;
  std::memcpy(&dirty, bytes.data() + offsetof(Page, dirty), sizeof dirty);
  for (const auto& a : assocs) {
    const auto s = slot(a.name);
    if (!s || s->dirty_class == kNoClass) continue;
    std::memcpy(bytes.data() + s->offset, &a.value.low, s->size);
    dirty |= 1U << s->dirty_class;
  }
  std::memcpy(bytes.data() + offsetof(Page, dirty), &dirty, sizeof dirty);
}

bool VpRegisterPage::on_page(std::uint32_t name) noexcept { return slot(name).has_value(); }

std::vector<abi::HvRegisterAssoc> VpRegisterPage::take_pending(std::uint32_t& dirty) noexcept {
  const auto bytes = page_->bytes();
  std::memcpy(&dirty, bytes.data() + offsetof(Page, dirty), sizeof dirty);
  std::vector<abi::HvRegisterAssoc> pending;
  const auto add = [&](std::uint32_t name) {
    const auto s = slot(name);
    abi::HvRegisterAssoc a{};
    a.name = name;
    std::memcpy(&a.value.low, bytes.data() + s->offset, s->size);
    pending.push_back(a);
  };
  if ((dirty & (1U << abi::kRegisterClassGeneral)) != 0) {
    for (std::uint32_t n = reg::kRax; n < reg::kRax + 16; ++n) add(n);
  }
  if ((dirty & (1U << abi::kRegisterClassIp)) != 0) add(reg::kRip);
  if ((dirty & (1U << abi::kRegisterClassFlags)) != 0) add(reg::kRflags);
  const std::uint32_t none = 0;
  std::memcpy(bytes.data() + offsetof(Page, dirty), &none, sizeof none);
  return pending;
}

void VpRegisterPage::restore_dirty(std::uint32_t dirty) noexcept {
  const auto bytes = page_->bytes();
  std::uint32_t now = 0;
  std::memcpy(&now, bytes.data() + offsetof(Page, dirty), sizeof now);
  now |= dirty;
  std::memcpy(bytes.data() + offsetof(Page, dirty), &now, sizeof now);
}

void VpRegisterPage::refresh(std::span<const abi::HvRegisterAssoc> assocs) noexcept {
  const auto bytes = page_->bytes();
  for (const auto& a : assocs) {
    const auto s = slot(a.name);
    if (s) std::memcpy(bytes.data() + s->offset, &a.value.low, s->size);
  }
}

VpRegisterPage map_register_page(MshvSystem& system, int vp_fd) noexcept {
  auto mapping = system.map_vp_page(vp_fd, abi::kVpMmapOffsetRegisters);
  if (!mapping.page || mapping.page->bytes().size() < sizeof(Page)) return {};
  return VpRegisterPage(std::move(mapping.page));
}

}  // namespace hv::mshv::detail
