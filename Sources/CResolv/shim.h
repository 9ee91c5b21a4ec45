// A minimal bridge to glibc's stub resolver for Swift.
//
// res_ninit/res_nclose are macros and `struct __res_state` collides with the function of the same
// name when imported, so the whole call sequence lives in one inline C function with a plain
// signature. The answer bytes are parsed by Disco's own DNS codec.
#ifndef DISCO_CRESOLV_SHIM_H
#define DISCO_CRESOLV_SHIM_H

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

/// Result details of one `disco_res_query` call.
typedef struct disco_res_outcome {
    /// `h_errno` of the resolver state: HOST_NOT_FOUND, NO_DATA, TRY_AGAIN, NO_RECOVERY, ...
    int h_error;
    /// `errno` right after the query (ETIMEDOUT, ECONNREFUSED, ...).
    int system_error;
    /// 1 when `res_ninit` failed (no usable resolver configuration).
    int init_failed;
} disco_res_outcome;

/// Runs `res_nquery` (no search list) for `name`/`type` in class IN with a private resolver state.
///
/// `timeout_seconds` and `attempts` override `retrans`/`retry` when positive. When
/// `ipv4_nameserver` is not NULL, the state's server list is replaced by that single IPv4
/// address and `port` (glibc then uses the application's list instead of resolv.conf).
/// Returns the answer length, or -1 with `outcome` filled in. The answer buffer is zeroed first,
/// so after a failure a set QR bit shows that a response (for example NXDOMAIN) was received.
static inline int disco_res_query(const char *name, int type, unsigned char *answer, int answer_length,
                                  int timeout_seconds, int attempts, const char *ipv4_nameserver,
                                  unsigned short port, disco_res_outcome *outcome) {
    memset(outcome, 0, sizeof(*outcome));
    memset(answer, 0, (size_t)answer_length);
    struct __res_state *state = calloc(1, sizeof(struct __res_state));
    if (state == NULL) {
        outcome->init_failed = 1;
        outcome->system_error = ENOMEM;
        return -1;
    }
    if (res_ninit(state) != 0) {
        outcome->init_failed = 1;
        outcome->system_error = errno;
        free(state);
        return -1;
    }
    if (timeout_seconds > 0) state->retrans = timeout_seconds;
    if (attempts > 0) state->retry = attempts;
    if (ipv4_nameserver != NULL) {
        struct sockaddr_in address;
        memset(&address, 0, sizeof(address));
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        if (inet_pton(AF_INET, ipv4_nameserver, &address.sin_addr) != 1) {
            outcome->init_failed = 1;
            outcome->system_error = EINVAL;
            res_nclose(state);
            free(state);
            return -1;
        }
        state->nscount = 1;
        state->nsaddr_list[0] = address;
    }
    errno = 0;
    int length = res_nquery(state, name, ns_c_in, type, answer, answer_length);
    outcome->system_error = errno;
    outcome->h_error = state->res_h_errno;
    res_nclose(state);
    free(state);
    return length;
}

#endif
