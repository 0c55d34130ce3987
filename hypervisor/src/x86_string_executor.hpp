#pragma once
// MOVS, STOS, LODS, CMPS and SCAS with and without REP/REPE/REPNE (internal to the executor).

#include <cstdint>

#include "hv/x86_emulator.hpp"
#include "x86_operand_access.hpp"

namespace hv::x86::detail {

// Performs up to `max_iterations` element operations (at least one) and reports whether the
// instruction finished; on an early stop RCX/RSI/RDI hold the progress and RIP must stay.
Result<Execution> execute_string(OperandAccess& access, std::uint32_t max_iterations);

}  // namespace hv::x86::detail
