#include "runtime/io/Files.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sl::io {

namespace {
// What a path that is no regular file is instead, for messages.
std::string notAFile(const struct stat &st) {
  return S_ISDIR(st.st_mode) ? ": is a directory, not a file" : ": not a regular file";
}
}  // namespace

Status checkRegularFile(const std::string &path, std::string_view what) {
  const std::string where = std::string(what) + " " + path;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    return Status::error(where + (err == ENOENT ? std::string(": no such file")
                                                : ": cannot be read (" +
                                                      std::string(std::strerror(err)) + ")"));
  }
  if (!S_ISREG(st.st_mode))
    return Status::error(where + notAFile(st));
  return Status::success();
}

StatusOr<std::vector<uint8_t>> readWholeFile(const std::string &path, std::string_view what) {
  const std::string where = std::string(what) + " " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(where + ": cannot be opened (" + std::strerror(errno) + ")");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::error(where + ": cannot be read (" + std::strerror(err) + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(where + notAFile(st));
  }
  std::vector<uint8_t> bytes(size_t(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      int err = got < 0 ? errno : 0;
      ::close(fd);
      return Status::error(where + ": cannot be read (" +
                           (err ? std::string(std::strerror(err))
                                : "the file shrank while it was read") +
                           ")");
    }
    done += size_t(got);
  }
  ::close(fd);
  return bytes;
}

}  // namespace sl::io
