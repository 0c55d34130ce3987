#pragma once
// Who the daemon runs as once it is confined: --user's uid and gid when started as root, and no
// capabilities in any set (effective, permitted, inheritable, ambient, and the bounding set where the
// process may change it), by raw capset(2) and prctl(2): no libcap.

#include <string>
#include <sys/types.h>

#include "hv/error.hpp"

namespace hvd {

struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
};

// --user NAME|UID[:GROUP|GID]: a user's name or number; the group defaults to the user's own (from the
// password database; a UID it does not know needs :GID).
hv::Result<Identity> parse_user(const std::string& spec);

// Becomes `who` for good: no supplementary groups, real/effective/saved ids all set, and checked that
// root cannot be regained. Needs root (CAP_SETUID and CAP_SETGID).
hv::Result<void> switch_user(const Identity& who);

// Empties the bounding set and locks the securebits that would give root its capabilities back on
// execve, when the process holds CAP_SETPCAP (root); true if it did. Without CAP_SETPCAP the bounding
// set stays as inherited: nothing can be gained from it without execve, which the filter forbids.
// Before switch_user, which loses CAP_SETPCAP.
hv::Result<bool> drop_bounding_set();

// Empties the ambient, inheritable, permitted and effective sets.
hv::Result<void> clear_capabilities();

hv::Result<void> set_no_new_privs();

}  // namespace hvd
