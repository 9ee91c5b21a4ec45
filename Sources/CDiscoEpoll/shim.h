// Linux APIs that the Glibc Swift module does not export: epoll, eventfd, the GNU extensions
// accept4 and pthread_setname_np (declared here because they need _GNU_SOURCE), and the
// control messages (CMSG_* macros) of IP_PKTINFO and IPV6_PKTINFO.
#pragma once
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <string.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
extern int pthread_setname_np(pthread_t thread, const char *name);

static inline int disco_accept4(int fd, int flags) { return accept4(fd, 0, 0, flags); }
static inline int disco_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

// recv(2) and send(2) on a non-blocking socket as plain system calls: libc's wrappers are
// cancellation points, which cost two extra calls around each system call; the event loop's
// threads are never cancelled. recvfrom, not read: a socket read through read(2) also takes the
// file layer's position lock and checks, which a socket has no use for. -1 with errno set on
// failure, as the wrappers.
static inline long disco_receive(int fd, void *buffer, size_t count) {
    return syscall(SYS_recvfrom, fd, buffer, count, 0, (void *)0, (void *)0);
}
static inline long disco_send(int fd, const void *buffer, size_t count, int flags) {
    return syscall(SYS_sendto, fd, buffer, count, flags, (void *)0, 0);
}

// recvmmsg/sendmmsg (GNU extensions): many datagrams per system call, for the UDP responder.
#ifndef __USE_GNU
struct mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};
extern int recvmmsg(int fd, struct mmsghdr *vmessages, unsigned int vlen, int flags, struct timespec *tmo);
extern int sendmmsg(int fd, struct mmsghdr *vmessages, unsigned int vlen, int flags);
#endif

// MARK: Answering from the address a datagram was sent to

// A UDP socket bound to 0.0.0.0 or :: sends from whichever local address the route to the peer
// prefers, which need not be the address the query went to (another address on the same
// interface, a loopback alias, a service address): clients drop such answers. With
// IP_PKTINFO / IPV6_RECVPKTINFO each datagram carries its destination, and the answer's control
// message names it as the source.

// struct in6_pktinfo is declared only with _GNU_SOURCE; the kernel's layout.
struct disco_in6_pktinfo {
    struct in6_addr addr;
    unsigned int ifindex;
};

// Control buffer room for one datagram's IP_PKTINFO or IPV6_PKTINFO (either direction).
static inline size_t disco_pktinfo_space(void) {
    size_t v4 = CMSG_SPACE(sizeof(struct in_pktinfo)), v6 = CMSG_SPACE(sizeof(struct disco_in6_pktinfo));
    return v4 > v6 ? v4 : v6;
}

// Asks for every datagram's destination address; 0, or -1 with errno set.
static inline int disco_enable_pktinfo(int fd, int ipv6) {
    int on = 1;
    return ipv6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on)
                : setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
}

// Writes into `out` (`capacity` bytes, aligned for a cmsghdr) the control message that sends an
// answer to `received` from the address it was sent to; returns its length, 0 when `received`
// names no destination (or an IPv6 multicast group). The interface is left to the route, except
// for an IPv6 link-local address, which means nothing without it.
static inline size_t disco_reply_source(struct msghdr *received, void *out, size_t capacity) {
    if (capacity < disco_pktinfo_space()) return 0;
    for (struct cmsghdr *message = CMSG_FIRSTHDR(received); message; message = CMSG_NXTHDR(received, message)) {
        struct cmsghdr *reply = (struct cmsghdr *)out;
        memset(out, 0, disco_pktinfo_space());
        if (message->cmsg_level == IPPROTO_IP && message->cmsg_type == IP_PKTINFO
            && message->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
            struct in_pktinfo info, source;
            memcpy(&info, CMSG_DATA(message), sizeof info);
            memset(&source, 0, sizeof source);
            source.ipi_spec_dst = info.ipi_spec_dst;
            reply->cmsg_level = IPPROTO_IP;
            reply->cmsg_type = IP_PKTINFO;
            reply->cmsg_len = CMSG_LEN(sizeof source);
            memcpy(CMSG_DATA(reply), &source, sizeof source);
            return CMSG_SPACE(sizeof source);
        }
        if (message->cmsg_level == IPPROTO_IPV6 && message->cmsg_type == IPV6_PKTINFO
            && message->cmsg_len >= CMSG_LEN(sizeof(struct disco_in6_pktinfo))) {
            struct disco_in6_pktinfo info, source;
            memcpy(&info, CMSG_DATA(message), sizeof info);
            // A multicast group is no source: leave the choice to the route.
            if (IN6_IS_ADDR_MULTICAST(&info.addr) || (IN6_IS_ADDR_V4MAPPED(&info.addr) && (info.addr.s6_addr[12] & 0xF0) == 0xE0)) return 0;
            memset(&source, 0, sizeof source);
            source.addr = info.addr;
            if (IN6_IS_ADDR_LINKLOCAL(&info.addr)) source.ifindex = info.ifindex;
            reply->cmsg_level = IPPROTO_IPV6;
            reply->cmsg_type = IPV6_PKTINFO;
            reply->cmsg_len = CMSG_LEN(sizeof source);
            memcpy(CMSG_DATA(reply), &source, sizeof source);
            return CMSG_SPACE(sizeof source);
        }
    }
    return 0;
}
