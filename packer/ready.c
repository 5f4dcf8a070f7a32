/*
 * ready.c - `--train-ready SPEC`: parsing it (tcp:PORT, tcp:HOST:PORT,
 * http:URL, log:REGEX) and probing a server for it. The log: kind is
 * matched on the training run's output (trainrun.c).
 */
#define _GNU_SOURCE
#include "hpk_build.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

int hpk_ready_parse(const char *spec, struct hpk_ready *r)
{
    struct hpk_ready tmp;
    if (!r) r = &tmp;
    memset(r, 0, sizeof *r);
    if (!strncmp(spec, "tcp:", 4)) {
        /* tcp:PORT (on 127.0.0.1) or tcp:HOST:PORT */
        const char *hp = spec + 4, *colon = strrchr(hp, ':');
        char *end;
        long port = strtol(colon ? colon + 1 : hp, &end, 10);
        if (*end || end == (colon ? colon + 1 : hp) || port <= 0 || port > 65535) return -1;
        if (colon && (colon == hp || (size_t)(colon - hp) >= sizeof r->host)) return -1;
        r->kind = READY_TCP;
        r->port = (int)port;
        snprintf(r->host, sizeof r->host, "%.*s", colon ? (int)(colon - hp) : 9, colon ? hp : "127.0.0.1");
        if (!strcmp(r->host, "localhost")) snprintf(r->host, sizeof r->host, "127.0.0.1");
        return 0;
    }
    if (!strncmp(spec, "http:", 5)) {
        /* http:URL as documented (http:http://127.0.0.1:8080/health), the
         * bare URL (http://127.0.0.1:8080/health) and http:HOST:PORT/PATH */
        const char *u = spec + 5;
        if (!strncasecmp(u, "http://", 7)) u += 7;
        else if (!strncmp(u, "//", 2)) u += 2;
        const char *slash = strchr(u, '/');
        size_t hl = slash ? (size_t)(slash - u) : strlen(u);
        if (hl == 0 || hl >= sizeof r->host) return -1;
        snprintf(r->host, sizeof r->host, "%.*s", (int)hl, u);
        snprintf(r->path, sizeof r->path, "%s", slash ? slash : "/");
        char *colon = strrchr(r->host, ':');
        r->port = 80;
        if (colon) {
            char *end;
            long port = strtol(colon + 1, &end, 10);
            if (*end || port <= 0 || port > 65535) return -1;
            r->port = (int)port;
            *colon = 0;
        }
        if (!r->host[0]) return -1; /* http://:8080/: no host to probe */
        if (!strcmp(r->host, "localhost")) snprintf(r->host, sizeof r->host, "127.0.0.1");
        r->kind = READY_HTTP;
        return 0;
    }
    if (!strncmp(spec, "log:", 4) && spec[4]) {
        regex_t re;
        if (regcomp(&re, spec + 4, REG_EXTENDED | REG_NOSUB) != 0) return -1;
        regfree(&re);
        r->kind = READY_LOG;
        snprintf(r->regex, sizeof r->regex, "%s", spec + 4);
        return 0;
    }
    return -1;
}

int hpk_ready_probe(const struct hpk_ready *r)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port)};
    if (inet_pton(AF_INET, r->host, &sa.sin_addr) != 1) {
        struct hostent *h = gethostbyname(r->host);
        if (!h || h->h_addrtype != AF_INET) return 0;
        memcpy(&sa.sin_addr, h->h_addr_list[0], 4);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (ok && r->kind == READY_HTTP) {
        char req[1400], resp[64] = {0};
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", r->path, r->host);
        ok = write(fd, req, (size_t)n) == n && read(fd, resp, sizeof resp - 1) > 12 && !strncmp(resp, "HTTP/", 5);
        if (ok) {
            const char *sp = strchr(resp, ' ');
            ok = sp && (sp[1] == '2' || sp[1] == '3');
        }
    }
    close(fd);
    return ok;
}
