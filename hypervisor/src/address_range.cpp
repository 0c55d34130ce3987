#include "hv/address_range.hpp"

#include <limits>
#include <string>

namespace hv {

Result<AddressRange> AddressRange::make(std::uint64_t start, std::uint64_t size, const char* operation) {
  if (size == 0) return fail(ErrorKind::InvalidArgument, operation, "zero-length range");
  if (size - 1 > std::numeric_limits<std::uint64_t>::max() - start) {
    return fail(ErrorKind::OutOfRange, operation,
                "range at " + std::to_string(start) + " of " + std::to_string(size) + " bytes wraps past 2^64");
  }
  return AddressRange(start, size);
}

}  // namespace hv
