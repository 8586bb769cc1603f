/* net/data/egress.c: this process's PULL egress policy (core/netpolicy.h), built once at start
 * from --pull-allow and the --listen address: the addresses the listen host stands for are
 * the server's own; when it listens on a wildcard address (0.0.0.0, ::), every address of the
 * machine's interfaces at start is its own (an address added later is not seen; it is still
 * refused if it is loopback, private, ...). Start-up only: the lookups here may block. */
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "net/data/plane.h"

/* Adds the address of sa to the own list (once); true if it is a wildcard address. */
static bool add_self(netpolicy_t *np, const struct sockaddr *sa) {
    np_addr_t a;
    if (!sa) return false;
    if (sa->sa_family == AF_INET)
        np_addr_from_bytes(&a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6)
        np_addr_from_bytes(&a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    else
        return false;
    if (np_classify(&a) == NP_UNSPECIFIED) return true;
    for (size_t i = 0; i < np->nself; i++)
        if (memcmp(&np->self[i], &a, sizeof(a)) == 0) return false;
    if (np->nself < NP_SELF_MAX) np->self[np->nself++] = a;
    return false;
}

int egress_policy_init(netpolicy_t *np, const data_config_t *cfg) {
    memset(np, 0, sizeof(*np));
    if (cfg->pull_allow_n > NP_ALLOW_MAX) return C_ERR;
    for (size_t i = 0; i < cfg->pull_allow_n; i++) np->allow[i] = cfg->pull_allow[i];
    np->nallow = cfg->pull_allow_n;
    np->self_port = cfg->listen_port;

    const char *host = cfg->listen_host;
    bool any = !host || !host[0] || strcmp(host, "*") == 0;
    if (!any) {
        /* As http_server_listen resolves it (it binds the first; all are taken as ours). */
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE};
        struct addrinfo *res = NULL;
        int rc = getaddrinfo(host, NULL, &hints, &res);
        if (rc != 0) {
            fprintf(stderr, "update-sessiond: PULL egress policy: cannot resolve --listen host "
                            "%s: %s\n", host, gai_strerror(rc));
            return C_ERR;
        }
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
            if (add_self(np, ai->ai_addr)) any = true;
        freeaddrinfo(res);
    }
    if (any) {
        np->self_any = true;
        struct ifaddrs *ifs = NULL;
        if (getifaddrs(&ifs) != 0) {
            fprintf(stderr, "update-sessiond: PULL egress policy: cannot list the interfaces' "
                            "addresses\n");
            return C_ERR;
        }
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) add_self(np, i->ifa_addr);
        freeifaddrs(ifs);
    }
    return C_OK;
}
