// The ELF and raw loaders against well-formed and hostile images.
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "hv/vmm/image_loader.hpp"

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

struct Segment {
  std::uint32_t type = 1;
  std::uint64_t offset = 0x1000, vaddr = 0, paddr = 0, filesz = 0, memsz = 0;
};

// Builds a minimal ELF64 executable: header, program headers at 64, payload bytes at 0x1000.
std::vector<std::uint8_t> make_elf(std::uint64_t entry, const std::vector<Segment>& segments,
                                   const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> f(0x1000 + payload.size(), 0);
  auto put = [&](std::size_t at, auto v) { std::memcpy(f.data() + at, &v, sizeof v); };
  f[0] = 0x7f;
  f[1] = 'E';
  f[2] = 'L';
  f[3] = 'F';
  f[4] = 2;
  f[5] = 1;
  f[6] = 1;
  put(16, std::uint16_t{2});   // ET_EXEC
  put(18, std::uint16_t{62});  // EM_X86_64
  put(24, entry);
  put(32, std::uint64_t{64});  // e_phoff
  put(54, std::uint16_t{56});  // e_phentsize
  put(56, static_cast<std::uint16_t>(segments.size()));
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::size_t ph = 64 + i * 56;
    put(ph + 0, segments[i].type);
    put(ph + 8, segments[i].offset);
    put(ph + 16, segments[i].vaddr);
    put(ph + 24, segments[i].paddr);
    put(ph + 32, segments[i].filesz);
    put(ph + 40, segments[i].memsz);
  }
  std::copy(payload.begin(), payload.end(), f.begin() + 0x1000);
  return f;
}

class Loader : public ::testing::Test {
 protected:
  void SetUp() override {
    const hv::RegionSpec ram[] = {{0, 0x400000}};
    auto m = hv::GuestMemory::create(ram);
    ASSERT_TRUE(m);
    memory = std::move(*m);
  }
  hv::GuestMemory memory;
};

TEST_F(Loader, LoadsSegmentsZeroFillsAndTranslatesTheEntry) {
  ASSERT_TRUE(memory.write_obj<std::uint32_t>(0x200010, 0xdeadbeef));  // must be cleared as .bss
  // A kernel-style image: linked high (vaddr), loaded low (paddr).
  const auto elf =
      make_elf(0xffffffff81000004ULL, {{.vaddr = 0xffffffff81000000ULL, .paddr = 0x200000, .filesz = 8, .memsz = 0x20}},
               {1, 2, 3, 4, 5, 6, 7, 8});
  auto loaded = hv::vmm::load_elf64(memory, elf);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(loaded->entry, 0x200004U);
  EXPECT_EQ(loaded->lowest, 0x200000U);
  EXPECT_EQ(loaded->highest, 0x20001fU);
  EXPECT_EQ(*memory.read_obj<std::uint8_t>(0x200007), 8);
  EXPECT_EQ(*memory.read_obj<std::uint32_t>(0x200010), 0U);
}

// Linux's vmlinux: linked high, but e_entry is the physical address of startup_64 (no segment's
// virtual range holds it). The entry is taken as physical; an entry in neither range is still refused.
TEST_F(Loader, AVmlinuxStylePhysicalEntryIsTakenAsPhysical) {
  const Segment high{.vaddr = 0xffffffff81000000ULL, .paddr = 0x200000, .filesz = 8, .memsz = 0x20};
  auto loaded = hv::vmm::load_elf64(memory, make_elf(0x200000, {high}, {1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(loaded->entry, 0x200000U);
  auto nowhere = hv::vmm::plan_elf64(make_elf(0x300000, {high}, {1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_FALSE(nowhere);
  EXPECT_NE(nowhere.error().to_string().find("outside every loaded segment"), std::string::npos);
}

TEST_F(Loader, RejectsHostileHeaders) {
  const std::vector<std::uint8_t> payload(16, 0x90);
  const Segment ok{.vaddr = 0x100000, .paddr = 0x100000, .filesz = 16, .memsz = 16};
  struct Case {
    const char* what;
    std::vector<std::uint8_t> image;
  };
  std::vector<Case> cases;
  cases.push_back({"truncated header", std::vector<std::uint8_t>{0x7f, 'E', 'L', 'F', 2, 1}});
  auto wrong_class = make_elf(0x100000, {ok}, payload);
  wrong_class[4] = 1;
  cases.push_back({"ELF32", wrong_class});
  auto big_endian = make_elf(0x100000, {ok}, payload);
  big_endian[5] = 2;
  cases.push_back({"big-endian", big_endian});
  auto dyn = make_elf(0x100000, {ok}, payload);
  dyn[16] = 3;
  cases.push_back({"ET_DYN", dyn});
  auto arm = make_elf(0x100000, {ok}, payload);
  arm[18] = 183;
  cases.push_back({"aarch64", arm});
  cases.push_back({"no segments", make_elf(0x100000, {}, payload)});
  cases.push_back({"65 segments", make_elf(0x100000, std::vector<Segment>(65, ok), payload)});
  auto phoff = make_elf(0x100000, {ok}, payload);
  phoff[32] = 0xf0;
  phoff[33] = 0xff;
  phoff[34] = 0xff;
  phoff[35] = 0xff;
  phoff[36] = 0xff;
  phoff[37] = 0xff;
  phoff[38] = 0xff;
  phoff[39] = 0xff;
  cases.push_back({"program headers past the file (phoff near 2^64)", phoff});
  auto phentsize = make_elf(0x100000, {ok}, payload);
  phentsize[54] = 32;
  cases.push_back({"wrong phentsize", phentsize});
  cases.push_back({"filesz > memsz",
                   make_elf(0x100000, {{.vaddr = 0x100000, .paddr = 0x100000, .filesz = 32, .memsz = 16}}, payload)});
  cases.push_back(
      {"file bytes past the end",
       make_elf(0x100000, {{.offset = 0x1000, .vaddr = 0x100000, .paddr = 0x100000, .filesz = 4096, .memsz = 4096}},
                payload)});
  cases.push_back(
      {"offset + filesz wraps",
       make_elf(0x100000, {{.offset = kMax - 4, .vaddr = 0x100000, .paddr = 0x100000, .filesz = 16, .memsz = 16}},
                payload)});
  cases.push_back({"segment beyond RAM",
                   make_elf(0x500000, {{.vaddr = 0x500000, .paddr = 0x500000, .filesz = 16, .memsz = 16}}, payload)});
  cases.push_back(
      {"segment runs past RAM",
       make_elf(0x3ffff0, {{.vaddr = 0x3ffff0, .paddr = 0x3ffff0, .filesz = 16, .memsz = 0x100}}, payload)});
  cases.push_back({"paddr + memsz wraps",
                   make_elf(0x100000, {{.vaddr = 0x100000, .paddr = kMax - 8, .filesz = 0, .memsz = 64}}, payload)});
  cases.push_back(
      {"huge memsz, far beyond RAM",
       make_elf(0x100000, {{.vaddr = 0x100000, .paddr = 0x100000, .filesz = 16, .memsz = kMax / 2}}, payload)});
  cases.push_back({"entry outside segments", make_elf(0x300000, {ok}, payload)});
  for (const auto& c : cases) {
    auto r = hv::vmm::load_elf64(memory, c.image);
    EXPECT_FALSE(r) << c.what << " was accepted";
    // Planning refuses the same images, except those that fail only for want of RAM.
    const bool needs_ram = std::string_view(c.what).find("RAM") != std::string_view::npos;
    if (!needs_ram) {
      EXPECT_FALSE(hv::vmm::plan_elf64(c.image)) << c.what << " was planned";
    }
  }
}

TEST_F(Loader, PlanningAnElfImageWritesNothingAndAgreesWithLoading) {
  const auto elf = make_elf(0xffffffff81000004ULL,
                            {{.vaddr = 0xffffffff81000000ULL, .paddr = 0x200000, .filesz = 8, .memsz = 0x20},
                             {.offset = 0x1000, .vaddr = 0x900000, .paddr = 0x300000, .filesz = 0, .memsz = 0x1000}},
                            {1, 2, 3, 4, 5, 6, 7, 8});
  auto planned = hv::vmm::plan_elf64(elf);
  ASSERT_TRUE(planned) << planned.error().to_string();
  EXPECT_EQ(*memory.read_obj<std::uint8_t>(0x200007), 0) << "planning wrote guest memory";
  auto loaded = hv::vmm::load_elf64(memory, elf);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_EQ(planned->entry, loaded->entry);
  EXPECT_EQ(planned->lowest, 0x200000U);
  EXPECT_EQ(planned->highest, 0x300fffU);
  EXPECT_EQ(loaded->highest, planned->highest);
  // The header checks are the loader's; only "fits in RAM" needs memory.
  EXPECT_FALSE(hv::vmm::plan_elf64(make_elf(0x100000, {}, {1})));
  const auto beyond = make_elf(0x500000, {{.vaddr = 0x500000, .paddr = 0x500000, .filesz = 1, .memsz = 16}}, {1});
  ASSERT_TRUE(hv::vmm::plan_elf64(beyond));
  EXPECT_EQ(hv::vmm::plan_elf64(beyond)->highest, 0x50000fU);
  EXPECT_FALSE(hv::vmm::load_elf64(memory, beyond));
}

TEST_F(Loader, RawImagesAreBoundsChecked) {
  const std::vector<std::uint8_t> image(0x100, 0xf4);
  auto ok = hv::vmm::load_raw(memory, image, 0x7c00);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->entry, 0x7c00U);
  EXPECT_FALSE(hv::vmm::load_raw(memory, image, 0x3fff80)) << "runs past RAM";
  EXPECT_FALSE(hv::vmm::load_raw(memory, image, kMax - 0x10)) << "wraps";
  EXPECT_FALSE(hv::vmm::load_raw(memory, {}, 0x1000)) << "empty";
}

}  // namespace
