// Linux APIs that the Glibc Swift module does not export: epoll, eventfd, and the GNU
// extensions accept4 and pthread_setname_np (declared here because they need _GNU_SOURCE).
#pragma once
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
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
