#include "hv/exit.hpp"

#include <type_traits>

namespace hv {

namespace {
struct ExitNamer {
  std::string_view operator()(const HaltExit&) const noexcept { return "halt"; }
  std::string_view operator()(const ShutdownExit&) const noexcept { return "shutdown"; }
  std::string_view operator()(const InterruptedExit&) const noexcept { return "interrupted"; }
  std::string_view operator()(const SystemEventExit&) const noexcept { return "system-event"; }
  std::string_view operator()(const InternalErrorExit&) const noexcept { return "internal-error"; }
  std::string_view operator()(const UnknownExit&) const noexcept { return "unknown"; }
};
}  // namespace

// std::visit throws only on a valueless variant, and an Exit cannot become one: every alternative is
// nothrow-movable and nothrow-copyable, so no assignment can fail part-way.
static_assert([]<class... E>(std::variant<E...>*) {
  return (std::is_nothrow_move_constructible_v<E> && ...) && (std::is_nothrow_copy_constructible_v<E> && ...);
}(static_cast<Exit*>(nullptr)));

// NOLINTNEXTLINE(bugprone-exception-escape): never valueless (static_assert above), so visit cannot throw.
std::string_view exit_name(const Exit& exit) noexcept { return std::visit(ExitNamer{}, exit); }

}  // namespace hv
