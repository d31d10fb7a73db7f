#include "net/peer.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

namespace inferd::net {

bool IsLoopbackAddress(int family, const void* addr) {
  if (family == AF_INET) return static_cast<const unsigned char*>(addr)[0] == 127;  // network byte order
  if (family != AF_INET6) return false;
  const auto* a = static_cast<const unsigned char*>(addr);
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, a)) return a[12] == 127;
  return std::all_of(a, a + 15, [](unsigned char b) { return b == 0; }) && a[15] == 1;
}

bool PeerIsLocal(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  switch (ss.ss_family) {
    case AF_UNIX:
      return true;
    case AF_INET:
      return IsLoopbackAddress(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr);
    case AF_INET6:
      return IsLoopbackAddress(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr);
    default:
      return false;
  }
}

}  // namespace inferd::net
