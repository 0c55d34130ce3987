// The Linux loader (issue #21) against synthetic kernels: a PVH vmlinux and a bzImage built here
// field by field, each refusal with the field at fault, and what a good image leaves in guest RAM.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "hv/vmm/e820.hpp"
#include "hv/vmm/linux_bzimage.hpp"
#include "hv/vmm/linux_loader.hpp"
#include "hv/vmm/linux_pvh.hpp"
#include "hv/vmm/mp_table.hpp"

namespace {

using hv::vmm::LinuxEntryProtocol;

constexpr std::uint64_t kRam = 64ULL << 20;

template <class T>
void put(std::vector<std::uint8_t>& f, std::size_t at, T v) {
  std::memcpy(f.data() + at, &v, sizeof v);
}
// Appends byte by byte: GCC 12's -Warray-bounds and -Wstringop-overread misread vector::insert here.
void append(std::vector<std::uint8_t>& to, const std::vector<std::uint8_t>& bytes) {
  for (const std::uint8_t b : bytes) to.push_back(b);
}
template <class T>
T get(const std::vector<std::uint8_t>& f, std::size_t at) {
  T v{};
  std::memcpy(&v, f.data() + at, sizeof v);
  return v;
}

std::vector<std::uint8_t> note(std::uint32_t type, std::string_view name, const std::vector<std::uint8_t>& desc,
                               std::uint32_t descsz_override = 0xffffffff) {
  auto align4 = [](std::size_t n) { return (n + 3) & ~std::size_t{3}; };
  const std::size_t name_bytes = align4(name.size() + 1);
  std::vector<std::uint8_t> n(12 + name_bytes + align4(desc.size()), 0);
  put<std::uint32_t>(n, 0, static_cast<std::uint32_t>(name.size() + 1));
  put<std::uint32_t>(n, 4, descsz_override != 0xffffffff ? descsz_override : static_cast<std::uint32_t>(desc.size()));
  put<std::uint32_t>(n, 8, type);
  for (std::size_t i = 0; i < name.size(); ++i) n[12 + i] = static_cast<std::uint8_t>(name[i]);
  for (std::size_t i = 0; i < desc.size(); ++i) n[12 + name_bytes + i] = desc[i];
  return n;
}

std::vector<std::uint8_t> entry_note(std::uint64_t entry, std::size_t bytes = 8) {
  std::vector<std::uint8_t> desc(bytes);
  std::memcpy(desc.data(), &entry, std::min<std::size_t>(bytes, 8));
  return note(18, "Xen", desc);
}

struct PvhSpec {
  std::uint64_t paddr = 0x100000;
  std::uint64_t memsz = 0x3000;
  std::vector<std::uint8_t> notes = entry_note(0x100000);
  std::uint64_t note_offset = 0;  // 0: where the notes are; else a PT_NOTE offset of its own
  std::uint64_t note_size = 0;    // 0: their size
};

// ELF64 header, a PT_LOAD (0x1000 bytes of 0x90 at paddr) and a PT_NOTE over the notes after it.
std::vector<std::uint8_t> make_pvh(const PvhSpec& s) {
  std::vector<std::uint8_t> f(0x2000, 0x90);
  std::fill(f.begin(), f.begin() + 0x1000, 0);
  append(f, s.notes);
  const std::uint8_t ident[] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  std::memcpy(f.data(), ident, sizeof ident);
  put<std::uint16_t>(f, 16, 2);   // ET_EXEC
  put<std::uint16_t>(f, 18, 62);  // EM_X86_64
  put<std::uint64_t>(f, 24, s.paddr);
  put<std::uint64_t>(f, 32, 64);
  put<std::uint16_t>(f, 54, 56);
  put<std::uint16_t>(f, 56, 2);
  put<std::uint32_t>(f, 64, 1);  // PT_LOAD
  put<std::uint64_t>(f, 64 + 8, 0x1000);
  put<std::uint64_t>(f, 64 + 16, s.paddr);
  put<std::uint64_t>(f, 64 + 24, s.paddr);
  put<std::uint64_t>(f, 64 + 32, 0x1000);
  put<std::uint64_t>(f, 64 + 40, s.memsz);
  put<std::uint32_t>(f, 120, 4);  // PT_NOTE
  put<std::uint64_t>(f, 120 + 8, s.note_offset != 0 ? s.note_offset : 0x2000);
  put<std::uint64_t>(f, 120 + 32, s.note_size != 0 ? s.note_size : s.notes.size());
  return f;
}

struct BzSpec {
  std::uint8_t setup_sects = 1;
  std::uint16_t version = 0x020f;
  std::uint8_t header_length = 0x6a;  // byte 0x201: header through 0x26c
  std::uint8_t loadflags = 1;
  std::uint16_t xloadflags = 1;
  std::uint8_t relocatable = 1;
  std::uint32_t alignment = 0x200000;
  std::uint64_t pref_address = 0x1000000;
  std::uint32_t init_size = 0x400000;
  std::uint32_t initrd_addr_max = 0x7fffffff;
  std::uint32_t cmdline_size = 255;
  std::size_t kernel_bytes = 0x1000;
};

std::vector<std::uint8_t> make_bzimage(const BzSpec& s) {
  std::vector<std::uint8_t> f((s.setup_sects + 1U) * 512U + s.kernel_bytes, 0xcc);
  std::fill(f.begin(), f.begin() + 0x400, 0);
  f[0x1f1] = s.setup_sects;
  put<std::uint16_t>(f, 0x1fe, 0xaa55);
  f[0x200] = 0xeb;
  f[0x201] = s.header_length;
  put<std::uint32_t>(f, 0x202, 0x53726448);
  put<std::uint16_t>(f, 0x206, s.version);
  f[0x211] = s.loadflags;
  put<std::uint32_t>(f, 0x22c, s.initrd_addr_max);
  put<std::uint32_t>(f, 0x230, s.alignment);
  f[0x234] = s.relocatable;
  put<std::uint16_t>(f, 0x236, s.xloadflags);
  put<std::uint32_t>(f, 0x238, s.cmdline_size);
  put<std::uint64_t>(f, 0x258, s.pref_address);
  put<std::uint32_t>(f, 0x260, s.init_size);
  return f;
}

std::string plan_error(const std::vector<std::uint8_t>& kernel, std::uint64_t initrd = 0, std::string_view cmdline = "",
                       std::uint64_t ram = kRam, std::uint32_t vcpus = 1) {
  auto plan = hv::vmm::plan_linux_boot(kernel, initrd, cmdline, ram, vcpus);
  return plan ? std::string("accepted") : std::string(plan.error().message());
}

hv::GuestMemory ram(std::uint64_t bytes = kRam) { return std::move(*hv::GuestMemory::create({{{0, bytes}}})); }

std::vector<std::uint8_t> read(const hv::GuestMemory& m, std::uint64_t gpa, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  EXPECT_TRUE(m.read(gpa, out));
  return out;
}

std::uint8_t byte_sum(const std::vector<std::uint8_t>& b, std::size_t from, std::size_t n) {
  return static_cast<std::uint8_t>(std::accumulate(b.begin() + static_cast<std::ptrdiff_t>(from),
                                                   b.begin() + static_cast<std::ptrdiff_t>(from + n), 0U));
}

// --- PVH --------------------------------------------------------------------------------------------

TEST(PvhNote, EntryFromAnEightOrFourByteDescriptor) {
  EXPECT_EQ(*hv::vmm::find_pvh_entry(make_pvh({})), 0x100000U);
  PvhSpec four;
  four.notes = entry_note(0x100010, 4);
  EXPECT_EQ(*hv::vmm::find_pvh_entry(make_pvh(four)), 0x100010U);
}

TEST(PvhNote, FoundAfterOtherNotes) {
  PvhSpec s;
  s.notes = note(1, "GNU", {1, 2, 3, 4, 5});
  auto xen_other = note(17, "Xen", {9, 9, 9, 9});  // another Xen note type
  auto entry = entry_note(0x100020);
  append(s.notes, xen_other);
  append(s.notes, entry);
  EXPECT_EQ(*hv::vmm::find_pvh_entry(make_pvh(s)), 0x100020U);
}

TEST(PvhNote, NoEntryNoteIsUnsupported) {
  PvhSpec s;
  s.notes = note(1, "GNU", {1, 2, 3, 4});
  auto r = hv::vmm::find_pvh_entry(make_pvh(s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), hv::ErrorKind::Unsupported);
  EXPECT_NE(plan_error(make_pvh(s)).find("no XEN_ELFNOTE_PHYS32_ENTRY note"), std::string::npos);
}

TEST(PvhNote, TruncatedHeaderIsRefused) {
  PvhSpec s;
  s.note_size = 8;  // the segment ends inside the first note's 12-byte header
  EXPECT_NE(plan_error(make_pvh(s)).find("truncated note header"), std::string::npos);
}

TEST(PvhNote, DescriptorPastTheSegmentIsRefused) {
  PvhSpec s;
  s.notes = note(18, "Xen", {0, 0, 0x10, 0}, 0x1000);  // descsz claims 4 KiB
  EXPECT_NE(plan_error(make_pvh(s)).find("runs past the segment"), std::string::npos);
  s.notes = note(18, "Xen", {}, 0);
  put<std::uint32_t>(s.notes, 0, 0xfffffff0);  // a namesz that would wrap 32-bit arithmetic
  EXPECT_NE(plan_error(make_pvh(s)).find("runs past the segment"), std::string::npos);
}

TEST(PvhNote, DescriptorOfTheWrongSizeIsRefused) {
  PvhSpec s;
  s.notes = note(18, "Xen", {0, 0});
  EXPECT_NE(plan_error(make_pvh(s)).find("descriptor of 2 bytes (4 or 8 expected)"), std::string::npos);
}

TEST(PvhNote, EntryAbove4GiBIsRefused) {
  PvhSpec s;
  s.notes = entry_note(0x100000000ULL);
  EXPECT_NE(plan_error(make_pvh(s)).find("PVH entry above 4 GiB"), std::string::npos);
}

TEST(PvhNote, SegmentOutsideTheFileIsRefused) {
  PvhSpec s;
  s.note_offset = 0x100000;
  EXPECT_NE(plan_error(make_pvh(s)).find("PT_NOTE segment 1 lies outside the file"), std::string::npos);
}

TEST(PvhNote, EndlessNotesAreBounded) {
  PvhSpec s;
  s.notes.clear();
  for (int i = 0; i < 300; ++i) {
    auto n = note(1, "", {});
    append(s.notes, n);
  }
  EXPECT_NE(plan_error(make_pvh(s)).find("more than 256 ELF notes"), std::string::npos);
}

TEST(PvhPlan, EntryOutsideTheSegmentsIsRefused) {
  PvhSpec s;
  s.notes = entry_note(0x200000);
  EXPECT_NE(plan_error(make_pvh(s)).find("the PVH entry 0x200000 is outside the kernel's segments"), std::string::npos);
}

TEST(PvhPlan, SegmentsBelow1MiBOrBeyondRamAreRefused) {
  PvhSpec low;
  low.paddr = 0x80000;
  low.notes = entry_note(0x80000);
  EXPECT_NE(plan_error(make_pvh(low)).find("starts below 1 MiB"), std::string::npos);
  PvhSpec high;
  high.paddr = kRam - 0x1000;
  high.notes = entry_note(kRam - 0x1000);
  EXPECT_NE(plan_error(make_pvh(high)).find("does not fit in RAM, which ends at 0x4000000"), std::string::npos);
}

TEST(PvhPlan, CommandLineBoundedAt2047BytesWithoutNul) {
  const auto kernel = make_pvh({});
  EXPECT_EQ(plan_error(kernel, 0, std::string(2047, 'x')), "accepted");
  EXPECT_NE(plan_error(kernel, 0, std::string(2048, 'x'))
                .find("the command line is 2048 bytes; this kernel takes at most 2047"),
            std::string::npos);
  EXPECT_NE(plan_error(kernel, 0, std::string("a\0b", 3)).find("contains a NUL byte"), std::string::npos);
}

TEST(PvhPlan, InitrdAtTheTopOfRamAndNeverOverTheKernel) {
  const auto kernel = make_pvh({});
  auto plan = hv::vmm::plan_linux_boot(kernel, 5000, "", kRam, 1);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->initrd_address, (kRam - 5000) & ~0xfffULL);
  // 0x103000 is the kernel's end (1 MiB + memsz): an initrd that would reach below it is refused.
  EXPECT_NE(plan_error(kernel, kRam - 0x103000 + 1).find("does not fit between the kernel's end 0x103000"),
            std::string::npos);
  EXPECT_EQ(plan_error(kernel, kRam - 0x103000), "accepted");
}

TEST(PvhLoad, StartInfoModuleMemoryMapCommandLineAndMpTable) {
  const auto memory = ram();
  hv::vmm::LinuxBoot boot{.kernel = make_pvh({}), .initrd = std::vector<std::uint8_t>(5000, 0xab)};
  auto entry = hv::vmm::load_linux(memory, boot, "console=ttyS0", kRam, 2);
  ASSERT_TRUE(entry) << entry.error().to_string();
  EXPECT_EQ(entry->protocol, LinuxEntryProtocol::Pvh);
  EXPECT_EQ(entry->entry, 0x100000U);
  EXPECT_EQ(entry->boot_info, hv::vmm::kLinuxStartInfo);
  const auto info = read(memory, hv::vmm::kLinuxStartInfo, hv::vmm::pvh_start_info_size(3));
  EXPECT_EQ(get<std::uint32_t>(info, 0), 0x336ec578U);
  EXPECT_EQ(get<std::uint32_t>(info, 4), 1U);
  EXPECT_EQ(get<std::uint32_t>(info, 12), 1U);
  const auto modlist = get<std::uint64_t>(info, 16);
  const auto module = read(memory, modlist, 16);
  const auto module_address = get<std::uint64_t>(module, 0);
  EXPECT_EQ(get<std::uint64_t>(module, 8), 5000U);
  EXPECT_EQ(read(memory, module_address, 5000), boot.initrd);
  const auto cmdline = read(memory, get<std::uint64_t>(info, 24), 14);
  EXPECT_EQ(std::string(cmdline.begin(), cmdline.end()), std::string("console=ttyS0\0", 14));
  EXPECT_EQ(get<std::uint32_t>(info, 48), 3U);
  const auto map = read(memory, get<std::uint64_t>(info, 40), 3 * 24);
  EXPECT_EQ(get<std::uint64_t>(map, 48), 0x100000U);
  EXPECT_EQ(get<std::uint64_t>(map, 48 + 8), kRam - 0x100000);
  EXPECT_EQ(get<std::uint32_t>(map, 24 + 16), 2U);  // the EBDA-to-1-MiB hole is reserved
  EXPECT_EQ(read(memory, 0x100000, 4), std::vector<std::uint8_t>(4, 0x90));
  const auto mp = read(memory, hv::vmm::kLinuxMpTable, hv::vmm::mp_table_size(2));
  EXPECT_EQ(std::string(mp.begin(), mp.begin() + 4), "_MP_");
  EXPECT_EQ(byte_sum(mp, 0, 16), 0);
}

// --- bzImage ------------------------------------------------------------------------------------------

TEST(BzImage, GoodHeaderPlan) {
  auto plan = hv::vmm::plan_linux_boot(make_bzimage({}), 0, "", kRam, 1);
  ASSERT_TRUE(plan) << plan.error().to_string();
  EXPECT_EQ(plan->protocol, LinuxEntryProtocol::BzImage64);
  EXPECT_EQ(plan->entry, 0x1000200U);
  EXPECT_EQ(plan->kernel_start, 0x1000000U);
  EXPECT_EQ(plan->kernel_end, 0x1400000U);  // init_size, not the file's size
  EXPECT_EQ(plan->max_cmdline, 255U);
}

TEST(BzImage, BadMagicIsNeitherFormat) {
  auto f = make_bzimage({});
  f[0x202] = 'X';
  EXPECT_NE(plan_error(f).find("neither an ELF64 vmlinux nor a bzImage"), std::string::npos);
  f = make_bzimage({});
  put<std::uint16_t>(f, 0x1fe, 0);
  EXPECT_NE(plan_error(f).find("neither an ELF64 vmlinux nor a bzImage"), std::string::npos);
}

TEST(BzImage, ProtocolBefore2_12IsUnsupported) {
  BzSpec s;
  s.version = 0x020b;
  EXPECT_NE(plan_error(make_bzimage(s)).find("boot protocol 2.11 is older than 2.12"), std::string::npos);
  s.version = 0x020c;
  EXPECT_EQ(plan_error(make_bzimage(s)), "accepted");
}

TEST(BzImage, SetupSectsBeyondTheFileOrTheLimitAreRefused) {
  BzSpec s;
  s.setup_sects = 65;
  EXPECT_NE(plan_error(make_bzimage(s)).find("setup_sects 65 is above 64"), std::string::npos);
  auto f = make_bzimage({});
  f[0x1f1] = 40;  // 41 * 512 bytes of setup in a 5 KiB file
  EXPECT_NE(plan_error(f).find("setup_sects 40: the setup code (20992 bytes) leaves nothing"), std::string::npos);
}

TEST(BzImage, HeaderLengthOutsideBoundsIsRefused) {
  BzSpec s;
  s.header_length = 0x10;
  EXPECT_NE(plan_error(make_bzimage(s)).find("setup header length 0x212"), std::string::npos);
  s.header_length = 0x90;
  EXPECT_NE(plan_error(make_bzimage(s)).find("setup header length 0x292"), std::string::npos);
}

TEST(BzImage, TruncatedHeaderIsRefused) {
  auto f = make_bzimage({});
  f.resize(0x240);
  EXPECT_NE(plan_error(f).find("ends inside the setup header"), std::string::npos);
}

TEST(BzImage, No64BitEntryOrZImageIsUnsupported) {
  BzSpec s;
  s.xloadflags = 0;
  EXPECT_NE(plan_error(make_bzimage(s)).find("XLF_KERNEL_64 unset"), std::string::npos);
  s = {};
  s.loadflags = 0;
  EXPECT_NE(plan_error(make_bzimage(s)).find("LOADED_HIGH unset"), std::string::npos);
}

TEST(BzImage, AlignmentAndPrefAddressAreChecked) {
  BzSpec s;
  s.alignment = 0x300000;
  EXPECT_NE(plan_error(make_bzimage(s)).find("kernel_alignment 0x300000 is not a power of two"), std::string::npos);
  s = {};
  s.pref_address = 0x1100000;
  EXPECT_NE(plan_error(make_bzimage(s)).find("pref_address 0x1100000 is not a multiple of kernel_alignment"),
            std::string::npos);
  s = {};
  s.relocatable = 0;
  s.pref_address = 0x1000800;
  EXPECT_NE(plan_error(make_bzimage(s)).find("not page-aligned"), std::string::npos);
  s = {};
  s.pref_address = 0x80000;
  s.alignment = 0x1000;
  EXPECT_NE(plan_error(make_bzimage(s)).find("starts below 1 MiB"), std::string::npos);
  s = {};
  s.pref_address = 0xffffffffff000000ULL;
  EXPECT_NE(plan_error(make_bzimage(s)).find("beyond any RAM"), std::string::npos);
}

TEST(BzImage, InitSizeBeyondRamIsRefused) {
  BzSpec s;
  s.init_size = 0x3000000;  // 16 MiB + 48 MiB = the end of 64 MiB exactly: fits
  EXPECT_EQ(plan_error(make_bzimage(s)), "accepted");
  s.init_size = 0x3001000;
  EXPECT_NE(plan_error(make_bzimage(s)).find("does not fit in RAM"), std::string::npos);
}

TEST(BzImage, CommandLineBoundedByCmdlineSize) {
  BzSpec s;
  s.cmdline_size = 10;
  EXPECT_EQ(plan_error(make_bzimage(s), 0, "0123456789"), "accepted");
  EXPECT_NE(plan_error(make_bzimage(s), 0, "0123456789a").find("11 bytes; this kernel takes at most 10"),
            std::string::npos);
  s.cmdline_size = 0xffffffff;  // the kernel's word is bounded by hvkit's 4 KiB area
  EXPECT_NE(plan_error(make_bzimage(s), 0, std::string(4096, 'x')).find("at most 4095"), std::string::npos);
}

TEST(BzImage, InitrdBelowInitrdAddrMaxAndAboveTheKernel) {
  BzSpec s;
  s.initrd_addr_max = 0x2ffffff;
  auto plan = hv::vmm::plan_linux_boot(make_bzimage(s), 0x2000, "", kRam, 1);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->initrd_address, 0x3000000U - 0x2000);
  // The kernel ends at 0x1400000 (pref_address + init_size): an initrd reaching below it is refused.
  EXPECT_NE(plan_error(make_bzimage(s), 0x3000000 - 0x1400000 + 1).find("does not fit between"), std::string::npos);
  s.initrd_addr_max = 0;
  EXPECT_NE(plan_error(make_bzimage(s), 1).find("does not fit between"), std::string::npos);
}

TEST(BzImage, BootParamsCarryTheHeaderCommandLineInitrdAndE820) {
  const auto memory = ram();
  hv::vmm::LinuxBoot boot{.kernel = make_bzimage({}), .initrd = std::vector<std::uint8_t>(100, 0x5a)};
  auto entry = hv::vmm::load_linux(memory, boot, "quiet", kRam, 1);
  ASSERT_TRUE(entry) << entry.error().to_string();
  EXPECT_EQ(entry->protocol, LinuxEntryProtocol::BzImage64);
  EXPECT_EQ(entry->entry, 0x1000200U);
  const auto zp = read(memory, entry->boot_info, hv::vmm::kBootParamsSize);
  EXPECT_EQ(get<std::uint32_t>(zp, 0x202), 0x53726448U);
  EXPECT_EQ(get<std::uint16_t>(zp, 0x206), 0x020fU);
  EXPECT_EQ(zp[0x210], 0xff);
  EXPECT_EQ(get<std::uint32_t>(zp, 0x228), hv::vmm::kLinuxCmdline);
  const auto line = read(memory, hv::vmm::kLinuxCmdline, 6);
  EXPECT_EQ(std::string(line.begin(), line.end()), std::string("quiet\0", 6));
  const auto initrd = get<std::uint32_t>(zp, 0x218);
  EXPECT_EQ(get<std::uint32_t>(zp, 0x21c), 100U);
  EXPECT_EQ(read(memory, initrd, 100), boot.initrd);
  EXPECT_EQ(zp[0x1e8], 3);
  EXPECT_EQ(get<std::uint64_t>(zp, 0x2d0 + 40), 0x100000U);
  EXPECT_EQ(get<std::uint64_t>(zp, 0x2d0 + 48), kRam - 0x100000);
  // The protected-mode part (after the two setup sectors) at pref_address, nothing of the setup.
  EXPECT_EQ(read(memory, 0x1000000, 4), std::vector<std::uint8_t>(4, 0xcc));
}

// --- the machine and the MP table -------------------------------------------------------------------

TEST(LinuxPlan, MachineLimits) {
  const auto kernel = make_pvh({});
  EXPECT_NE(plan_error(kernel, 0, "", kRam, 0).find("1 to 254 vCPUs"), std::string::npos);
  EXPECT_NE(plan_error(kernel, 0, "", kRam, 255).find("1 to 254 vCPUs"), std::string::npos);
  EXPECT_EQ(plan_error(kernel, 0, "", kRam, 254), "accepted");
  EXPECT_NE(plan_error(kernel, 0, "", 0xc0001000).find("end at or below 0xc0000000"), std::string::npos);
  EXPECT_NE(plan_error(kernel, 0, "", 0x100000).find("more than 1 MiB"), std::string::npos);
}

TEST(MpTable, ChecksumsProcessorsAndIoApic) {
  auto t = hv::vmm::build_mp_table(0x9fc00, 4);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->size(), hv::vmm::mp_table_size(4));
  EXPECT_EQ(byte_sum(*t, 0, 16), 0);
  EXPECT_EQ(get<std::uint32_t>(*t, 4), 0x9fc10U);
  EXPECT_EQ(std::string(t->begin() + 16, t->begin() + 20), "PCMP");
  const auto length = get<std::uint16_t>(*t, 16 + 4);
  EXPECT_EQ(length, t->size() - 16);
  EXPECT_EQ(byte_sum(*t, 16, length), 0);
  EXPECT_EQ(get<std::uint32_t>(*t, 16 + 36), 0xfee00000U);
  EXPECT_EQ(get<std::uint16_t>(*t, 16 + 34), 4 + 1 + 1 + 24 + 2);
  for (std::size_t cpu = 0; cpu < 4; ++cpu) {
    const std::size_t e = 60 + cpu * 20;
    EXPECT_EQ((*t)[e], 0);
    EXPECT_EQ((*t)[e + 1], cpu);
    EXPECT_EQ((*t)[e + 3], cpu == 0 ? 3 : 1);  // enabled, and the bootstrap processor
  }
  const std::size_t ioapic = 60 + 4 * 20 + 8;
  EXPECT_EQ((*t)[ioapic], 2);
  EXPECT_EQ((*t)[ioapic + 1], 4);  // the id after the last APIC id
  EXPECT_EQ(get<std::uint32_t>(*t, ioapic + 4), 0xfec00000U);
}

TEST(MpTable, Refusals) {
  EXPECT_FALSE(hv::vmm::build_mp_table(0x9fc00, 0));
  EXPECT_FALSE(hv::vmm::build_mp_table(0x9fc00, 255));
  EXPECT_FALSE(hv::vmm::build_mp_table(0x9fc08, 1));    // not 16-byte aligned
  EXPECT_FALSE(hv::vmm::build_mp_table(0xfff00, 254));  // would run past 1 MiB
  EXPECT_TRUE(hv::vmm::build_mp_table(0x9fc00, 254));
}

}  // namespace
