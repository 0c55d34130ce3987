// The Multiboot loader against well-formed and hostile kernels, modules and command lines: every
// refusal names its reason, and nothing is written to guest memory for a refused kernel.
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "hv/vmm/multiboot_loader.hpp"

namespace {

using hv::vmm::MultibootModule;

constexpr std::uint64_t kRam = 0x800000;  // 8 MiB

struct Segment {
  std::uint32_t type = 1;
  std::uint32_t offset = 0x1000, vaddr = 0, paddr = 0, filesz = 0, memsz = 0;
};

struct Kernel {
  std::uint32_t entry = 0x200000;
  std::vector<Segment> segments{{.vaddr = 0x200000, .paddr = 0x200000, .filesz = 0x100, .memsz = 0x3000}};
  std::uint32_t header_flags = 0x3;
  std::size_t header_offset = 0x1000;  // inside the payload
  std::uint32_t magic = hv::vmm::kMultibootHeaderMagic;
  int checksum_error = 0;
  std::uint8_t elf_class = 1;
  std::uint16_t machine = 3;
  std::uint16_t type = 2;
  std::uint16_t phentsize = 32;
  std::optional<std::uint16_t> phnum = std::nullopt;
  std::uint32_t phoff = 52;
};

// A minimal ELF32 executable: header, program headers at 52, payload (0x100 bytes of 0xab with the
// Multiboot header at its start) at 0x1000.
std::vector<std::uint8_t> make_kernel(const Kernel& k) {
  std::vector<std::uint8_t> f(0x1100, 0);
  auto put = [&](std::size_t at, auto v) { std::memcpy(f.data() + at, &v, sizeof v); };
  f[0] = 0x7f;
  f[1] = 'E';
  f[2] = 'L';
  f[3] = 'F';
  f[4] = k.elf_class;
  f[5] = 1;
  f[6] = 1;
  put(16, k.type);
  put(18, k.machine);
  put(24, k.entry);
  put(28, k.phoff);
  put(42, k.phentsize);
  put(44, k.phnum.value_or(static_cast<std::uint16_t>(k.segments.size())));
  for (std::size_t i = 0; i < k.segments.size(); ++i) {
    const std::size_t ph = 52 + i * 32;
    put(ph + 0, k.segments[i].type);
    put(ph + 4, k.segments[i].offset);
    put(ph + 8, k.segments[i].vaddr);
    put(ph + 12, k.segments[i].paddr);
    put(ph + 16, k.segments[i].filesz);
    put(ph + 20, k.segments[i].memsz);
  }
  std::fill(f.begin() + 0x1000, f.end(), std::uint8_t{0xab});
  if (f.size() < k.header_offset + 12) f.resize(k.header_offset + 12, 0);
  put(k.header_offset, k.magic);
  put(k.header_offset + 4, k.header_flags);
  put(k.header_offset + 8, static_cast<std::uint32_t>(0 - (k.magic + k.header_flags) + k.checksum_error));
  return f;
}

class MultibootLoader : public ::testing::Test {
 protected:
  void SetUp() override {
    const hv::RegionSpec ram[] = {{0, kRam}};
    auto m = hv::GuestMemory::create(ram);
    ASSERT_TRUE(m);
    memory = std::move(*m);
    // Dirty RAM, so that a bss left unzeroed or a string left unterminated shows.
    std::vector<std::uint8_t> dirt(kRam, 0x5a);
    ASSERT_TRUE(memory.write(0, dirt));
  }
  std::uint32_t u32(std::uint64_t gpa) { return *memory.read_obj<std::uint32_t>(gpa); }
  std::string string_at(std::uint64_t gpa) {
    std::string s;
    for (char c = 0; (c = static_cast<char>(*memory.read_obj<std::uint8_t>(gpa))) != 0; ++gpa) s += c;
    return s;
  }
  hv::Result<hv::vmm::MultibootBoot> load(const std::vector<std::uint8_t>& kernel, std::string_view cmdline = "k",
                                          std::span<const MultibootModule> modules = {}) {
    return hv::vmm::load_multiboot(memory, kRam, kernel, cmdline, modules);
  }
  // Expects a refusal mentioning `why`, with nothing written where the kernel would go.
  void expect_refused(const hv::Result<hv::vmm::MultibootBoot>& r, std::string_view why) {
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().to_string().find(why), std::string::npos) << r.error().to_string();
    EXPECT_EQ(u32(0x200000), 0x5a5a5a5aU);
    EXPECT_EQ(u32(hv::vmm::kMultibootInfoBase), 0x5a5a5a5aU);
  }
  hv::GuestMemory memory;
};

TEST_F(MultibootLoader, LoadsSegmentsZeroesBssAndWritesTheInformationBlock) {
  const std::vector<std::uint8_t> env = {'N', 'R', '_', 'C', 'P', 'U', 'S', '=', '2', '\n'};
  const MultibootModule modules[] = {{env, "env.txt"}, {{}, "empty"}};
  auto boot = load(make_kernel({}), "kernel.elf a b", modules);
  ASSERT_TRUE(boot) << boot.error().to_string();
  EXPECT_EQ(boot->image.entry, 0x200000U);
  EXPECT_EQ(boot->info, hv::vmm::kMultibootInfoBase);
  EXPECT_EQ(u32(0x200010), 0xababababU);  // file bytes (after the 12-byte header)
  EXPECT_EQ(u32(0x200100), 0U);           // bss
  EXPECT_EQ(u32(0x202ffc), 0U);           // last bss word
  EXPECT_EQ(u32(0x203000), 0x5a5a5a5aU);  // beyond memsz: untouched
  const std::uint64_t info = boot->info;
  EXPECT_EQ(u32(info) & 0x24d, 0x24dU);  // memory, cmdline, mods, mmap, loader name
  EXPECT_EQ(u32(info + 4), 639U);
  EXPECT_EQ(u32(info + 8), (kRam >> 10) - 1024);
  EXPECT_EQ(string_at(u32(info + 16)), "kernel.elf a b");
  ASSERT_EQ(u32(info + 20), 2U);
  const std::uint64_t mods = u32(info + 24);
  EXPECT_EQ(u32(mods), hv::vmm::kMultibootModulesBase);  // below the kernel at 2 MiB
  EXPECT_EQ(u32(mods + 4) - u32(mods), env.size());
  EXPECT_EQ(string_at(u32(mods + 8)), "env.txt");
  std::vector<std::uint8_t> got(env.size());
  ASSERT_TRUE(memory.read(u32(mods), got));
  EXPECT_EQ(got, env);
  EXPECT_EQ(u32(mods + 16) % hv::kPageSize, 0U);
  EXPECT_EQ(u32(mods + 16), u32(mods + 20));  // the empty module
  EXPECT_EQ(string_at(u32(mods + 24)), "empty");
  // Memory map: two available ranges, 24 bytes each.
  ASSERT_EQ(u32(info + 44), 48U);
  const std::uint64_t mmap = u32(info + 48);
  EXPECT_EQ(*memory.read_obj<std::uint64_t>(mmap + 4 + 24), 0x100000U);
  EXPECT_EQ(*memory.read_obj<std::uint64_t>(mmap + 12 + 24), kRam - 0x100000);
  EXPECT_EQ(string_at(u32(info + 64)), "hvkit");
  // Page 0 and 0x8000-0xdfff stay the kernel's.
  EXPECT_EQ(u32(0), 0x5a5a5a5aU);
  EXPECT_EQ(u32(0x8000), 0x5a5a5a5aU);
}

TEST_F(MultibootLoader, ModulesGoAfterAKernelTheyDoNotFitBelow) {
  const std::vector<std::uint8_t> big(0x200000, 1);  // 2 MiB: not below the kernel at 2 MiB
  const MultibootModule modules[] = {{big, "big"}};
  auto boot = load(make_kernel({}), "k", modules);
  ASSERT_TRUE(boot) << boot.error().to_string();
  EXPECT_EQ(u32(u32(boot->info + 24)), 0x203000U);
  EXPECT_EQ(boot->modules_end, 0x403000U);
}

TEST_F(MultibootLoader, EntryIsTranslatedFromVirtualToPhysical) {
  Kernel k;
  k.segments[0].vaddr = 0xc0200000;
  k.entry = 0xc0200010;
  auto boot = load(make_kernel(k));
  ASSERT_TRUE(boot) << boot.error().to_string();
  EXPECT_EQ(boot->image.entry, 0x200010U);
}

TEST_F(MultibootLoader, RefusesAnImageWithoutAHeader) {
  expect_refused(load(make_kernel({.magic = 0x12345678})), "no Multiboot header");
}

TEST_F(MultibootLoader, RefusesAHeaderWithAWrongChecksum) {
  expect_refused(load(make_kernel({.checksum_error = 1})), "no Multiboot header");
}

TEST_F(MultibootLoader, RefusesAHeaderBeyondTheFirst8KiB) {
  expect_refused(load(make_kernel({.header_offset = 0x2000})), "no Multiboot header");
}

TEST_F(MultibootLoader, RefusesAVideoModeRequirement) {
  expect_refused(load(make_kernel({.header_flags = 0x7})), "video mode");
}

TEST_F(MultibootLoader, RefusesTheAoutKludge) {
  expect_refused(load(make_kernel({.header_flags = 0x10003})), "a.out kludge");
}

TEST_F(MultibootLoader, RefusesUnknownRequiredFlags) {
  expect_refused(load(make_kernel({.header_flags = 0x8003})), "flags 0x8000");
}

TEST_F(MultibootLoader, IgnoresOptionalFlags) { EXPECT_TRUE(load(make_kernel({.header_flags = 0x80000003}))); }

TEST_F(MultibootLoader, RefusesNonElf32Images) {
  auto raw = make_kernel({});
  raw[0] = 0;
  expect_refused(load(raw), "not an ELF file");
  expect_refused(load(make_kernel({.elf_class = 2})), "not a little-endian ELF32");
  expect_refused(load(make_kernel({.machine = 62})), "EM_386");
  expect_refused(load(make_kernel({.type = 3})), "not ET_EXEC");
}

TEST_F(MultibootLoader, RefusesBadProgramHeaderTables) {
  expect_refused(load(make_kernel({.phentsize = 56})), "program header size 56");
  expect_refused(load(make_kernel({.phnum = 0})), "0 program headers");
  expect_refused(load(make_kernel({.phnum = 65})), "65 program headers");
  expect_refused(load(make_kernel({.phoff = 0xfffffff0})), "program headers lie outside the file");
}

TEST_F(MultibootLoader, RefusesBadSegments) {
  auto with = [](Segment s) { return Kernel{.segments = {s}}; };
  const Segment base{.vaddr = 0x200000, .paddr = 0x200000, .filesz = 0x100, .memsz = 0x3000};
  Segment s = base;
  s.filesz = 0x4000;
  expect_refused(load(make_kernel(with(s))), "file size exceeds memory size");
  s = base;
  s.offset = 0x10000;
  expect_refused(load(make_kernel(with(s))), "file bytes lie outside the file");
  s = base;
  s.paddr = 0xfffff000;
  s.vaddr = 0xfffff000;
  s.memsz = 0x2000;
  expect_refused(load(make_kernel({.entry = 0xfffff000, .segments = {s}})), "ends above 4 GiB");
  s = base;
  s.paddr = s.vaddr = 0x7f0000;  // ends beyond the 8 MiB of RAM
  s.memsz = 0x20000;
  expect_refused(load(make_kernel({.entry = 0x7f0000, .segments = {s}})), "does not fit in RAM");
  s = base;
  s.paddr = s.vaddr = 0x7000;  // over the boot information area
  expect_refused(load(make_kernel({.entry = 0x7000, .segments = {s}})), "overlaps the boot information area");
  s = base;
  s.type = 4;  // PT_NOTE only
  expect_refused(load(make_kernel(with(s))), "no loadable segment");
  expect_refused(load(make_kernel({.entry = 0x100000})), "entry point is outside every loaded segment");
}

TEST_F(MultibootLoader, RefusesTooManyModules) {
  const std::vector<MultibootModule> modules(hv::vmm::kMaxMultibootModules + 1, MultibootModule{{}, "m"});
  expect_refused(load(make_kernel({}), "k", modules), "17 modules");
}

TEST_F(MultibootLoader, RefusesModulesBeyondRam) {
  const std::vector<std::uint8_t> big(kRam, 1);
  const MultibootModule modules[] = {{big, "big"}};
  expect_refused(load(make_kernel({}), "k", modules), "modules");
}

TEST_F(MultibootLoader, RefusesLongOrNulCommandLines) {
  expect_refused(load(make_kernel({}), std::string(hv::vmm::kMaxMultibootCmdline + 1, 'a')), "above 4096");
  expect_refused(load(make_kernel({}), std::string_view("a\0b", 3)), "NUL");
  const MultibootModule nul[] = {{{}, std::string_view("m\0", 2)}};
  expect_refused(load(make_kernel({}), "k", nul), "module 0's string contains a NUL");
}

TEST_F(MultibootLoader, RefusesStringsBeyondTheInformationArea) {
  const std::string long_string(4000, 'm');
  const std::vector<MultibootModule> modules(8, MultibootModule{{}, long_string});
  expect_refused(load(make_kernel({}), "k", modules), "boot information area holds");
}

TEST_F(MultibootLoader, PlanAgreesWithLoad) {
  auto plan = hv::vmm::plan_multiboot(make_kernel({}));
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->entry, 0x200000U);
  EXPECT_EQ(plan->highest, 0x202fffU);
  EXPECT_FALSE(hv::vmm::plan_multiboot(make_kernel({.header_flags = 0x7})));
}

}  // namespace
