// decode() + execute() per instruction form, paired with the same instruction run natively on the
// host CPU (through the differential test's oracle, whose register load/store harness is included in
// the baseline). A "<form>/decode" run shows how the emulated figure splits.
#include <array>
#include <cstring>
#include <vector>

#include <benchmark/benchmark.h>

#include "hv/x86_emulator.hpp"
#include "paired_reporter.hpp"
#include "x86_native_oracle.hpp"

namespace {

using hv::x86::CpuMode;

// A 4 KiB page of RAM at the buffer's host address, as a VMM's RAM or device path would see it.
class PageMemory final : public hv::x86::LinearMemory {
 public:
  explicit PageMemory(std::uint8_t* page)
      : base_(reinterpret_cast<std::uint64_t>(page)), page_(page) {}  // bench: host page
  hv::Result<void> read(std::uint64_t linear, std::span<std::uint8_t> data) override {
    if (linear - base_ > 4096 - data.size()) return hv::fail(hv::ErrorKind::OutOfRange, "read", "outside");
    std::memcpy(data.data(), page_ + (linear - base_), data.size());
    return {};
  }
  hv::Result<void> write(std::uint64_t linear, std::span<const std::uint8_t> data) override {
    if (linear - base_ > 4096 - data.size()) return hv::fail(hv::ErrorKind::OutOfRange, "write", "outside");
    std::memcpy(page_ + (linear - base_), data.data(), data.size());
    return {};
  }

 private:
  std::uint64_t base_;
  std::uint8_t* page_;
};

struct Form {
  const char* name;
  std::vector<std::uint8_t> bytes;  // memory operands use [rbx+disp8]; strings RSI/RDI/RCX
};

const std::vector<Form>& forms() {
  static const std::vector<Form> f = {
      {"mov_store_dword", {0x89, 0x43, 0x10}},              // mov [rbx+0x10], eax
      {"mov_load_qword", {0x48, 0x8b, 0x43, 0x10}},         // mov rax, [rbx+0x10]
      {"mov_store_imm32", {0xc7, 0x43, 0x10, 1, 0, 0, 0}},  // mov dword [rbx+0x10], 1
      {"movzx_load_word", {0x0f, 0xb7, 0x43, 0x10}},        // movzx eax, word [rbx+0x10]
      {"add_mem_reg", {0x01, 0x43, 0x10}},                  // add [rbx+0x10], eax
      {"or_mem_imm8", {0x83, 0x4b, 0x10, 0x04}},            // or dword [rbx+0x10], 4
      {"lock_cmpxchg", {0xf0, 0x0f, 0xb1, 0x4b, 0x10}},     // lock cmpxchg [rbx+0x10], ecx
      {"lock_xadd", {0xf0, 0x0f, 0xc1, 0x43, 0x10}},        // lock xadd [rbx+0x10], eax
      {"bts_mem_imm", {0x0f, 0xba, 0x6b, 0x10, 0x05}},      // bts dword [rbx+0x10], 5
      {"sete_mem", {0x0f, 0x94, 0x43, 0x10}},               // sete [rbx+0x10]
      {"movsw_once", {0x66, 0xa5}},                         // movsw
      {"rep_movsb_64", {0xf3, 0xa4}},                       // rep movsb, RCX = 64
      {"rep_stosd_16", {0xf3, 0xab}},                       // rep stosd, RCX = 16
  };
  return f;
}

alignas(4096) std::array<std::uint8_t, 4096> g_page{};

hvtest::NativeState initial_state() {
  hvtest::NativeState s;
  const auto page = reinterpret_cast<std::uint64_t>(g_page.data());  // bench: the instructions address the page
  s.regs[0] = 7;                                                     // RAX
  s.regs[1] = 64;           // RCX: string count (and a register source elsewhere)
  s.regs[3] = page + 256;   // RBX
  s.regs[6] = page + 1024;  // RSI
  s.regs[7] = page + 2048;  // RDI
  s.rflags = 0x2;
  return s;
}

hv::GeneralRegisters to_general(const hvtest::NativeState& s) {
  hv::GeneralRegisters r;
  r.rax = s.regs[0];
  r.rcx = s.regs[1];
  r.rbx = s.regs[3];
  r.rsi = s.regs[6];
  r.rdi = s.regs[7];
  r.rflags = s.rflags;
  r.rip = 0x1000;
  return r;
}

void emulated(benchmark::State& state, const Form& form) {
  PageMemory memory(g_page.data());
  const hvtest::NativeState start = initial_state();
  std::uint64_t count = std::string_view(form.name) == "rep_stosd_16" ? 16 : 64;
  for (auto _ : state) {
    auto insn = hv::x86::decode(form.bytes, CpuMode::Long64);
    auto regs = to_general(start);
    regs.rcx = count;
    auto done = hv::x86::execute(*insn, CpuMode::Long64, {}, regs, memory);
    if (!done || !done->complete) {
      state.SkipWithError("execute failed");
      break;
    }
    benchmark::DoNotOptimize(regs);
  }
}

void decode_only(benchmark::State& state, const Form& form) {
  for (auto _ : state) {
    auto insn = hv::x86::decode(form.bytes, CpuMode::Long64);
    benchmark::DoNotOptimize(insn);
  }
}

void native(benchmark::State& state, const Form& form) {
  hvtest::NativeOracle oracle(form.bytes);
  const hvtest::NativeState start = initial_state();
  std::uint64_t count = std::string_view(form.name) == "rep_stosd_16" ? 16 : 64;
  for (auto _ : state) {
    hvtest::NativeState s = start;
    s.regs[1] = count;
    oracle.run(s);
    benchmark::DoNotOptimize(s);
  }
}

void register_all() {
  for (const auto& form : forms()) {
    const std::string base = form.name;
    benchmark::RegisterBenchmark((base + "/native").c_str(), native, form)->Repetitions(3);
    benchmark::RegisterBenchmark((base + "/hvkit").c_str(), emulated, form)->Repetitions(3);
    benchmark::RegisterBenchmark((base + "/decode").c_str(), decode_only, form)->Repetitions(3);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  hvbench::PairedReporter reporter("native", "instruction");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
