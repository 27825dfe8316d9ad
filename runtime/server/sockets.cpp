#include "server/sockets.h"

#if defined(__linux__)
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#endif

namespace ingot::server {

#if defined(__linux__)
namespace {

// addr:port as a socket address; false when addr is not a numeric IPv4 or IPv6 address.
bool endpoint(const std::string& addr, int port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (port < 0 || port > 65535) return false;
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(uint16_t(port));
    return true;
  }
  return false;
}

// The same address family, address and port (IPv6 scope and flow labels ignored).
bool same(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto &x = reinterpret_cast<const sockaddr_in&>(a), &y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  const auto &x = reinterpret_cast<const sockaddr_in6&>(a), &y = reinterpret_cast<const sockaddr_in6&>(b);
  return x.sin6_port == y.sin6_port && std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
}

// Calls f(fd) for each socket the process holds until f returns true; returns that fd or -1.
template <class F>
int find_socket(F f) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (const dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir)) continue;
    struct stat st;
    if (fstat(int(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    if (f(int(fd))) {
      found = int(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

int local_port(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return -1;
}

}  // namespace

PeerWatch::PeerWatch(const std::string& local_addr, int local_port, const std::string& remote_addr,
                     int remote_port) {
  sockaddr_storage want_local, want_peer;
  if (!endpoint(local_addr, local_port, &want_local) || !endpoint(remote_addr, remote_port, &want_peer)) return;
  fd_ = find_socket([&](int fd) {
    sockaddr_storage local, peer;
    socklen_t nl = sizeof local, np = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &nl) != 0) return false;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &np) != 0) return false;
    return same(local, want_local) && same(peer, want_peer);
  });
}

bool PeerWatch::closed() const {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

bool set_listen_backlog(int port, int backlog) {
  const int fd = find_socket([&](int fd) {
    int listening = 0;
    socklen_t n = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &n) != 0 || !listening) return false;
    sockaddr_storage local;
    socklen_t nl = sizeof local;
    return getsockname(fd, reinterpret_cast<sockaddr*>(&local), &nl) == 0 && local_port(local) == port;
  });
  return fd >= 0 && listen(fd, backlog) == 0;
}

#else

PeerWatch::PeerWatch(const std::string&, int, const std::string&, int) {}
bool PeerWatch::closed() const { return false; }
bool set_listen_backlog(int, int) { return false; }

#endif

}  // namespace ingot::server
