#include "hv/exit.hpp"

namespace hv {

namespace {
struct ExitNamer {
  std::string_view operator()(const IoExit&) const noexcept { return "io"; }
  std::string_view operator()(const MmioExit&) const noexcept { return "mmio"; }
  std::string_view operator()(const HaltExit&) const noexcept { return "halt"; }
  std::string_view operator()(const ShutdownExit&) const noexcept { return "shutdown"; }
  std::string_view operator()(const InterruptedExit&) const noexcept { return "interrupted"; }
  std::string_view operator()(const SystemEventExit&) const noexcept { return "system-event"; }
  std::string_view operator()(const InternalErrorExit&) const noexcept { return "internal-error"; }
  std::string_view operator()(const UnknownExit&) const noexcept { return "unknown"; }
};
}  // namespace

std::string_view exit_name(const Exit& exit) noexcept { return std::visit(ExitNamer{}, exit); }

}  // namespace hv
