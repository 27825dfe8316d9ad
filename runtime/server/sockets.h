// The sockets cpp-httplib 0.11.4 (Debian 12) keeps to itself, found in /proc/self/fd (Linux only).
//
// PeerWatch: whether the client of an HTTP request is still connected, for a request whose
// response has not started (a non-streaming completion while it is generated). cpp-httplib gives
// a handler neither its socket nor a "connection closed" test; the request does carry both TCP
// endpoints, and exactly one socket of the process has them: PeerWatch finds it and polls it.
// Elsewhere than Linux (or when no socket matches) closed() is always false and the request runs
// to its end, as before.
#pragma once

#include <string>

namespace ingot::server {

class PeerWatch {
 public:
  // The connection whose local end is local_addr:local_port and peer end remote_addr:remote_port
  // (numeric addresses, as cpp-httplib writes them).
  PeerWatch(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port);
  // True once the peer has closed its side (or the connection failed). A client that shut down
  // only its sending side also counts as gone: an HTTP/1.1 client keeps its side open until it
  // has read the response (cpp-httplib's later is_connection_closed() judges it the same way).
  bool closed() const;

 private:
  int fd_ = -1;  // not owned: the HTTP thread serving the request closes it after the handler
};

// Sets the accept queue of the socket listening on `port` to `backlog` connections (listen()
// again on a listening socket only changes its backlog). cpp-httplib listens with a backlog of 5:
// 16 clients connecting at once overflowed it, and the dropped SYNs came back after the kernel's
// 1 s retransmission (time to first token p99 > 1 s in bench/serve-load.py) or as resets. False
// when no such socket is found (then the server runs with httplib's backlog).
bool set_listen_backlog(int port, int backlog);

}  // namespace ingot::server
