// A minimal bridge to glibc's stub resolver configuration for Swift.
//
// res_ninit/res_nclose are macros and `struct __res_state` collides with the function of the same
// name when imported, so the whole call sequence lives in one inline C function with a plain
// signature. Disco reads only the configuration here (resolv.conf as glibc understands it, with
// RES_OPTIONS applied); the queries themselves go through Disco's own client and codec.
#ifndef DISCO_CRESOLV_SHIM_H
#define DISCO_CRESOLV_SHIM_H

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// The most name servers glibc uses (MAXNS).
#define DISCO_RES_MAX_SERVERS 3
/// The most search domains glibc keeps in its state (MAXDNSRCH).
#define DISCO_RES_MAX_SEARCH 6
/// Room for one search domain in text form (MAXDNAME plus the terminator).
#define DISCO_RES_SEARCH_LENGTH 1026

/// One configured name server as numeric text (`10.0.0.2`, `fe80::1%2`) and a port.
typedef struct disco_res_server {
    char host[INET6_ADDRSTRLEN + 16];
    unsigned short port;
} disco_res_server;

/// The stub resolver's configuration.
typedef struct disco_res_config {
    /// Name servers in resolv.conf order.
    int server_count;
    disco_res_server servers[DISCO_RES_MAX_SERVERS];
    /// `options timeout:` (seconds per try) and `options attempts:`.
    int timeout_seconds;
    int attempts;
    /// `search` (or `domain`) in order, and `options ndots:`.
    int search_count;
    char search[DISCO_RES_MAX_SEARCH][DISCO_RES_SEARCH_LENGTH];
    int ndots;
    /// 1 when `res_ninit` failed (no usable configuration); `system_error` then holds errno.
    int init_failed;
    int system_error;
} disco_res_config;

/// Reads the configuration with a private resolver state (`res_ninit`, then `res_nclose`).
/// IPv6 servers live in glibc's extension area (`_u._ext.nsaddrs`), IPv4 ones in `nsaddr_list`.
static inline void disco_res_read_config(disco_res_config *config) {
    memset(config, 0, sizeof(*config));
    struct __res_state *state = calloc(1, sizeof(struct __res_state));
    if (state == NULL) {
        config->init_failed = 1;
        config->system_error = ENOMEM;
        return;
    }
    if (res_ninit(state) != 0) {
        config->init_failed = 1;
        config->system_error = errno;
        free(state);
        return;
    }
    config->timeout_seconds = state->retrans;
    config->attempts = state->retry;
    config->ndots = state->ndots;
    for (int index = 0; index < MAXDNSRCH && state->dnsrch[index] != NULL && config->search_count < DISCO_RES_MAX_SEARCH; index++) {
        if (strlen(state->dnsrch[index]) >= DISCO_RES_SEARCH_LENGTH) continue;
        snprintf(config->search[config->search_count], DISCO_RES_SEARCH_LENGTH, "%s", state->dnsrch[index]);
        config->search_count++;
    }
    for (int index = 0; index < state->nscount && index < MAXNS && config->server_count < DISCO_RES_MAX_SERVERS; index++) {
        disco_res_server *server = &config->servers[config->server_count];
        const struct sockaddr_in *v4 = &state->nsaddr_list[index];
        const struct sockaddr_in6 *v6 = state->_u._ext.nsaddrs[index];
        if (v4->sin_family == AF_INET) {
            if (inet_ntop(AF_INET, &v4->sin_addr, server->host, sizeof(server->host)) == NULL) continue;
            server->port = ntohs(v4->sin_port);
        } else if (v6 != NULL && v6->sin6_family == AF_INET6) {
            char text[INET6_ADDRSTRLEN];
            if (inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text)) == NULL) continue;
            if (v6->sin6_scope_id != 0) {
                snprintf(server->host, sizeof(server->host), "%s%%%u", text, (unsigned)v6->sin6_scope_id);
            } else {
                snprintf(server->host, sizeof(server->host), "%s", text);
            }
            server->port = ntohs(v6->sin6_port);
        } else {
            continue;
        }
        config->server_count++;
    }
    res_nclose(state);
    free(state);
}

#endif
