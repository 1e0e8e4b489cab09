#include "store/file_access.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string_view>

namespace fox::store {
namespace {

// A user name from /etc/passwd, read directly: a static binary has no NSS (getpwuid).
std::string user_name(uid_t uid) {
  const std::string id = std::to_string(uid);
  std::FILE* f = std::fopen("/etc/passwd", "re");
  char buf[1024];
  std::string name;
  while (f && name.empty() && std::fgets(buf, sizeof buf, f)) {
    // name:password:uid:...
    std::string_view line(buf);
    auto c1 = line.find(':');
    auto c2 = c1 == line.npos ? line.npos : line.find(':', c1 + 1);
    auto c3 = c2 == line.npos ? line.npos : line.find(':', c2 + 1);
    if (c3 != line.npos && line.substr(c2 + 1, c3 - c2 - 1) == id) name = line.substr(0, c1);
  }
  if (f) std::fclose(f);
  return name.empty() ? "uid " + id : name;
}

std::string who(uid_t uid) {
  std::string name = user_name(uid);
  return name.rfind("uid ", 0) == 0 ? name : name + " (uid " + std::to_string(uid) + ")";
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string problem(const std::string& path, const char* cannot, const struct stat& st,
                    const std::string& dir) {
  const uid_t me = geteuid();
  return path + ": permission denied: fox runs as " + who(me) + " and cannot " + cannot +
         " (owner " + who(st.st_uid) + ", mode " + mode_text(st.st_mode) +
         "). The database is not damaged: give that user access (e.g. chown -R " + user_name(me) +
         " " + dir + ") or run fox as the owner.";
}

// The nearest existing directory on the way to `path` that this process may not enter, or "".
std::string unsearchable_ancestor(const std::string& path, struct stat* st) {
  std::string prefix;
  std::size_t start = path[0] == '/' ? 1 : 0;
  if (start == 1) prefix = "/";
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) {
      if (!prefix.empty() && prefix.back() != '/') prefix += '/';
      prefix += path.substr(start, end - start);
      if (stat(prefix.c_str(), st) != 0) return {};   // missing (or hidden by the one before)
      if (S_ISDIR(st->st_mode) && access(prefix.c_str(), X_OK) != 0) return prefix;
    }
    start = end + 1;
  }
  return {};
}

}  // namespace

std::string permission_problem(const std::string& dir, const std::string& file) {
  struct stat st {};
  if (std::string blocked = unsearchable_ancestor(dir, &st); !blocked.empty()) {
    return problem(blocked, "enter this directory", st, blocked);
  }
  if (stat(dir.c_str(), &st) == 0 && access(dir.c_str(), W_OK | X_OK) != 0) {
    return problem(dir, "create files in this directory (SQLite needs its -wal file there)", st,
                   dir);
  }
  for (const std::string& path : {file, file + "-wal"}) {
    if (stat(path.c_str(), &st) != 0) {
      // A directory fox may not even search hides its files: that is the problem then.
      if (errno == EACCES && stat(dir.c_str(), &st) == 0) {
        return problem(dir, "open files in this directory", st, dir);
      }
      continue;
    }
    if (access(path.c_str(), R_OK | W_OK) != 0) return problem(path, "read and write it", st, dir);
  }
  return {};
}

std::string cannot_create_dir(const std::string& dir, const std::string& why) {
  struct stat st {};
  if (std::string blocked = unsearchable_ancestor(dir, &st); !blocked.empty()) {
    return problem(blocked, "enter this directory", st, blocked);
  }
  return "cannot create the data directory " + dir + " as " + who(geteuid()) + ": " + why +
         " (give that user a directory it may write, e.g. --data DIR)";
}

}  // namespace fox::store
