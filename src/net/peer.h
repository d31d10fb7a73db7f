// net/peer.h: whether a client connection comes from this machine. The gateway routes cluster-local services
// (and hosts of the svc.cluster.local form) for such clients only, on its HTTP and its gRPC port.
//
// Contract:
// - IsLoopbackAddress(family, addr): `addr` points at an in_addr (AF_INET) or an in6_addr (AF_INET6). True for
//   127.0.0.0/8, ::1 and ::ffff:127.x.y.z (an IPv4 client of a dual-stack socket); false for anything else.
// - PeerIsLocal(fd): one getpeername(2) on a connected socket. True for a Unix-domain peer or a loopback
//   address; false when the peer cannot be read or is anything else (a client that cannot be placed counts as
//   external). Any thread.
#pragma once

namespace inferd::net {

bool IsLoopbackAddress(int family, const void* addr);
bool PeerIsLocal(int fd);

}  // namespace inferd::net
