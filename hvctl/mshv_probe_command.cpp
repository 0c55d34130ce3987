#include "mshv_probe_command.hpp"

#include <cstdio>
#include <string>

#include "hv/mshv/mshv.hpp"
#include "hv/mshv/probe.hpp"
#include "hv/mshv/simulator.hpp"
#include "json_writer.hpp"

namespace hvctl {

namespace {

const char* const kUsage =
    "usage: hvctl mshv-probe [--backend mshv|mshv-sim] [--json]\n"
    "Runs a short scripted session on MSHV through the /dev/mshv ABI directly (not through hvkit's\n"
    "backend) and prints what the hypervisor said: one IO intercept and one memory intercept (the raw\n"
    "256-byte messages in hex, RIP/RAX/RFLAGS right after each and after the probe completed it), an\n"
    "HLT (the RIP in the HALT message beside the HLT's address, and RIP after it), and dirty-page\n"
    "tracking (the first bitmap after enabling, the bitmap after one guest store, whether turning it\n"
    "off works directly or only after marking every page dirty), and the VP register page (whether it\n"
    "maps; isvalid and RIP at each intercept and after a SET_VP_REGISTERS). --backend mshv (the default) is\n"
    "/dev/mshv on a Hyper-V root partition; mshv-sim is hvkit's simulator, for comparison.\n"
    "Exit status: 0 when the whole script ran; 1 when it stopped early (what it saw is printed, with\n"
    "the error); 2 on a usage error; 5 when the backend is unavailable here (nothing ran).\n";

std::string hex_bytes(const std::vector<std::uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

std::string hex_number(std::uint64_t v) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(v));
  return text;
}

void write_registers(JsonWriter& w, const hv::mshv::NamedValues& values) {
  w.begin_object();
  for (const auto& [name, value] : values) w.key(name).value(hex_number(value));
  w.end_object();
}

std::string to_json(const std::string& backend, const hv::mshv::ProbeReport& r) {
  JsonWriter w;
  w.begin_object().key("backend").value(backend).key("system").value(r.system);
  w.key("complete").value(r.error.empty());
  if (!r.error.empty()) w.key("error").value(r.error);
  w.key("intercepts").begin_array();
  for (const auto& i : r.intercepts) {
    w.begin_object().key("step").value(i.step).key("message_type").value(i.message_type);
    w.key("instruction_address").value(hex_number(i.instruction_address));
    w.key("header_rip").value(hex_number(i.header_rip));
    w.key("header_rip_is_instruction").value(i.header_rip == i.instruction_address);
    w.key("instruction_length").value(std::uint64_t{i.instruction_length});
    w.key("registers_at_intercept");
    write_registers(w, i.registers_at_intercept);
    if (!i.registers_after.empty()) {
      w.key("registers_after_completion");
      write_registers(w, i.registers_after);
    }
    w.key("message").value(hex_bytes(i.message));
    w.end_object();
  }
  w.end_array();
  w.key("device_translations").begin_array();
  for (const auto& t : r.device_translations) {
    w.begin_object().key("gva").value(hex_number(t.gva)).key("flags").value(t.flags).key("status").value(t.status);
    w.key("result_code").value(std::uint64_t{t.result_code}).key("gpa_page").value(hex_number(t.gpa_page));
    w.end_object();
  }
  w.end_array();
  const auto& d = r.dirty_log;
  w.key("dirty_log").begin_object().key("pages").value(d.pages).key("enable").value(d.enable);
  w.key("first_bitmap").value(d.first_bitmap_error.empty() ? hex_bytes(d.first_bitmap) : d.first_bitmap_error);
  w.key("stored_page").value(d.stored_page);
  w.key("after_run_bitmap")
      .value(d.after_run_bitmap_error.empty() ? hex_bytes(d.after_run_bitmap) : d.after_run_bitmap_error);
  w.key("disable_directly").value(d.disable_directly);
  w.key("set_all_dirty").value(d.set_all_dirty);
  w.key("disable_after_set").value(d.disable_after_set);
  w.end_object();
  w.key("register_page").begin_object().key("mapping").value(r.register_page.mapping);
  w.key("samples").begin_array();
  for (const auto& p : r.register_page.samples) {
    w.begin_object().key("step").value(p.step);
    w.key("isvalid").value(std::uint64_t{p.isvalid}).key("rip").value(hex_number(p.rip));
    if (p.after_set) {
      w.key("isvalid_after_set_vp_registers").value(std::uint64_t{p.isvalid_after_set});
      w.key("rip_after_set_vp_registers").value(hex_number(p.rip_after_set));
    }
    w.end_object();
  }
  w.end_array().end_object().end_object();
  return w.str();
}

void print_text(const std::string& backend, const hv::mshv::ProbeReport& r) {
  std::printf("mshv-probe on %s (%s): %s\n", backend.c_str(), r.system.c_str(),
              r.error.empty() ? "complete" : ("stopped: " + r.error).c_str());
  for (const auto& i : r.intercepts) {
    std::printf("%s: %s, header RIP %s (instruction at %s), length %u\n", i.step.c_str(), i.message_type.c_str(),
                hex_number(i.header_rip).c_str(), hex_number(i.instruction_address).c_str(),
                static_cast<unsigned>(i.instruction_length));
    for (const auto& [name, value] : i.registers_at_intercept)
      std::printf("  at intercept %s = %s\n", name.c_str(), hex_number(value).c_str());
  }
  for (const auto& t : r.device_translations) {
    std::printf("translate device page %s (%s): %s, result %u, GPA page %s\n", hex_number(t.gva).c_str(),
                t.flags.c_str(), t.status.c_str(), static_cast<unsigned>(t.result_code),
                hex_number(t.gpa_page).c_str());
  }
  const auto& d = r.dirty_log;
  std::printf(
      "dirty log: enable %s; first bitmap %s; after the store to page %llu: %s; disable %s; "
      "set all dirty %s; disable after %s\n",
      d.enable.c_str(), d.first_bitmap_error.empty() ? hex_bytes(d.first_bitmap).c_str() : d.first_bitmap_error.c_str(),
      static_cast<unsigned long long>(d.stored_page),
      d.after_run_bitmap_error.empty() ? hex_bytes(d.after_run_bitmap).c_str() : d.after_run_bitmap_error.c_str(),
      d.disable_directly.c_str(), d.set_all_dirty.c_str(), d.disable_after_set.c_str());
  std::printf("register page: %s\n", r.register_page.mapping.c_str());
  for (const auto& p : r.register_page.samples) {
    std::printf("  at %s: isvalid %u, RIP %s", p.step.c_str(), static_cast<unsigned>(p.isvalid),
                hex_number(p.rip).c_str());
    if (p.after_set) {
      std::printf("; after SET_VP_REGISTERS(RIP): isvalid %u, RIP %s", static_cast<unsigned>(p.isvalid_after_set),
                  hex_number(p.rip_after_set).c_str());
    }
    std::printf("\n");
  }
  std::printf("(--json adds the raw messages)\n");
}

}  // namespace

int mshv_probe_command(std::span<const std::string_view> args) {
  bool json = false;
  std::string backend = "mshv";
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--backend" && i + 1 < args.size()) {
      backend = std::string(args[++i]);
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "hvctl mshv-probe: unknown option '%.*s'\n", static_cast<int>(args[i].size()),
                   args[i].data());
      std::fputs(kUsage, stderr);
      return 2;
    }
  }
  std::shared_ptr<hv::mshv::MshvSystem> system;
  if (backend == "mshv") {
    const auto available = hv::mshv::probe();
    if (!available.available) {
      std::fprintf(stderr, "hvctl mshv-probe: nothing ran: backend 'mshv' is unavailable: %s\n",
                   available.reason.c_str());
      return 5;
    }
    system = hv::mshv::real_system();
  } else if (backend == "mshv-sim") {
    auto sim = hv::mshv::make_simulator();
    if (!sim) {
      std::fprintf(stderr, "hvctl mshv-probe: nothing ran: backend 'mshv-sim' is unavailable: %s\n",
                   sim.error().to_string().c_str());
      return 5;
    }
    system = *sim;
  } else {
    std::fprintf(stderr, "hvctl mshv-probe: --backend takes mshv or mshv-sim, not '%s'\n", backend.c_str());
    return 2;
  }
  auto report = hv::mshv::run_probe(system);
  if (!report) {
    std::fprintf(stderr, "hvctl mshv-probe: nothing ran: %s\n", report.error().to_string().c_str());
    return 5;
  }
  if (json) {
    std::printf("%s\n", to_json(backend, *report).c_str());
  } else {
    print_text(backend, *report);
  }
  if (!report->error.empty()) {
    std::fprintf(stderr, "hvctl mshv-probe: the script stopped: %s\n", report->error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace hvctl
