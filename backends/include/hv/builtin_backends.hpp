#pragma once
// hvkit::backends: the thin aggregator that knows every backend this build of hvkit contains.
// Link it (as hvctl does) to discover all of them; link a single backend library to get only that one.

namespace hv {

// Registers every built-in backend with hv::register_backend(). Safe to call more than once.
void register_builtin_backends();

}  // namespace hv
