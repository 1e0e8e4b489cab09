// The schema of fox.db (tables in sqlite_schema.cpp) and its migrations.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace fox::store {

inline constexpr int kSchemaVersion = 2;

// Brings a database at schema `version` (0 = empty) up to kSchemaVersion, one transaction per
// step. False with `error` = one line naming the file.
bool migrate(sqlite3* db, const std::string& path, std::int64_t version, std::string* error);

}  // namespace fox::store
