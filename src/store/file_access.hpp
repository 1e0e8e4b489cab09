// Why this process cannot use the database files, in words a user can act on. SQLite reports an
// unreadable or unwritable file as "disk I/O error" or "unable to open", which reads like
// corruption; checked first, a permission problem is named as one (path, the user fox runs as,
// owner and mode, the fix) and the user is never told to throw a good database away.
#pragma once
#include <string>

namespace fox::store {

// "" when the process may read and write `file` (if it exists), its -wal file (if it exists) and
// create files in `dir`; otherwise one line describing the first problem.
std::string permission_problem(const std::string& dir, const std::string& file);

// A data directory that could not be created (`why` = the system's reason).
std::string cannot_create_dir(const std::string& dir, const std::string& why);

}  // namespace fox::store
