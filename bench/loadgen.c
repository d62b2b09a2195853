/* The registration load of bench/registration.py (b), in C.

   The client shares the server's two cores, so its CPU is part of what (b) measures:
   the asyncio client cost ~0.2 ms of CPU per request under (b)'s load (mostly its
   wake-ups), about 1.6 % of the machine. This one does the same work for a fraction of
   that. It is a load generator, not the product: compiled by the bench with the
   machine's gcc; the bench falls back to its Python client without it.

   One registration, exactly as the Python client does it, on one of CONCURRENCY
   keep-alive connections to 127.0.0.1:PORT (requests on a connection are sequential):
     GET  /embed/POOL/register                      -> flow_id, csrf_token, flow_ticket
     POST /embed/POOL/register  (HX-Request: true)  email=bench-RUN-I@example.com,
                                                    password=16 random URL-safe characters
   It counts as ok if the POST answers 200 with data-state="code".

     loadgen PORT POOL TOTAL CONCURRENCY TIMEOUT_S MAX_SECONDS RUN_ID

   Output, one line each: "G seconds" per GET and "P seconds" per POST (latency),
   "F reason" per failure, and last "R ok failed seconds timed_out". */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { IDLE, GET_SENT, POST_SENT };

typedef struct {
    int fd;
    int state;
    long index;        /* the registration this connection is doing */
    double started;    /* when the current request was sent */
    double deadline;   /* of the current request */
    char *buf;
    size_t len, cap;
} Conn;

static int port, total, concurrency;
static double timeout_s, max_seconds;
static const char *pool, *run_id;
static char path[256];
static long next_index, ok, failed;
static int timed_out;
static double phase_deadline;
static int epfd;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *why) {
    failed++;
    printf("F %s\n", why);
}

/* Connected at once on loopback (blocking), then non-blocking for the responses. */
static int connect_fd(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void drop_connection(Conn *c) {
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->len = 0;
}

/* Write all of it: a request is a few hundred bytes, so the socket buffer (empty,
   requests being sequential) takes it at once; anything else is a failure. */
static int send_all(Conn *c, const char *data, size_t n) {
    while (n) {
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

static int ensure_connected(Conn *c) {
    if (c->fd >= 0) return 0;
    c->fd = connect_fd();
    if (c->fd < 0) return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

static void start_next(Conn *c);

static void send_get(Conn *c) {
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (ensure_connected(c) == 0 && send_all(c, req, (size_t)n) == 0) {
            c->state = GET_SENT;
            c->started = now();
            c->deadline = c->started + timeout_s;
            return;
        }
        drop_connection(c);
    }
    fail("connect/send failed");
    c->state = IDLE;
    start_next(c);
}

static void start_next(Conn *c) {
    for (;;) {
        if (next_index >= total) { c->state = IDLE; return; }
        if (now() > phase_deadline) { timed_out = 1; c->state = IDLE; return; }
        c->index = next_index++;
        send_get(c);
        if (c->state != IDLE) return;
    }
}

/* The value of the hidden input NAME in the page, or NULL; *len gets its length. */
static const char *hidden(const char *body, size_t body_len, const char *name, size_t *len) {
    char needle[64];
    int n = snprintf(needle, sizeof needle, "name=\"%s\" value=\"", name);
    const char *at = memmem(body, body_len, needle, (size_t)n);
    if (!at) return NULL;
    at += n;
    const char *end = memchr(at, '"', body_len - (size_t)(at - body));
    if (!end || end == at) return NULL;
    *len = (size_t)(end - at);
    return at;
}

static void password(char out[17]) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != sizeof raw) abort();
    for (int i = 0; i < 16; i++) out[i] = alphabet[raw[i] & 63];
    out[16] = 0;
}

static void send_post(Conn *c, const char *body, size_t body_len) {
    size_t flen = 0, clen = 0, tlen = 0;
    const char *flow = hidden(body, body_len, "flow_id", &flen);
    const char *csrf = hidden(body, body_len, "csrf_token", &clen);
    const char *ticket = hidden(body, body_len, "flow_ticket", &tlen);
    if (!flow || !csrf || flen > 200 || clen > 200 || tlen > 1000) {
        fail("GET form: 200");
        start_next(c);
        return;
    }
    char pw[17];
    password(pw);
    char form[2048];
    int fn = snprintf(form, sizeof form,
                      "flow_id=%.*s&csrf_token=%.*s%s%.*s&email=bench-%s-%ld%%40example.com"
                      "&password=%s",
                      (int)flen, flow, (int)clen, csrf, ticket ? "&flow_ticket=" : "",
                      (int)tlen, ticket ? ticket : "", run_id, c->index, pw);
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nHX-Request: true\r\n"
                     "Content-Length: %d\r\n\r\n%s",
                     path, port, fn, form);
    if (send_all(c, req, (size_t)n) != 0) {
        drop_connection(c);
        fail("POST: send failed");
        start_next(c);
        return;
    }
    c->state = POST_SENT;
    c->started = now();
    c->deadline = c->started + timeout_s;
}

/* A complete response at the front of the buffer: 1 (status, body set, *used = its
   length), 0 if more bytes are needed, -1 if it cannot be read. */
static int parse(Conn *c, int *status, const char **body, size_t *body_len, size_t *used,
                 int *closing) {
    const char *head_end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!head_end) return 0;
    size_t head_len = (size_t)(head_end - c->buf) + 4;
    if (c->len < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0) return -1;
    *status = atoi(c->buf + 9);
    long content_length = -1;
    *closing = 0;
    const char *line = memchr(c->buf, '\n', head_len) + 1;
    while (line < head_end) {
        const char *eol = memmem(line, (size_t)(head_end + 2 - line), "\r\n", 2);
        if (!eol) break;
        if ((size_t)(eol - line) > 15 && strncasecmp(line, "content-length:", 15) == 0)
            content_length = atol(line + 15);
        if ((size_t)(eol - line) >= 17 && strncasecmp(line, "connection: close", 17) == 0)
            *closing = 1;
        line = eol + 2;
    }
    if (content_length < 0) return -1; /* the server always sends Content-Length */
    if (c->len < head_len + (size_t)content_length) return 0;
    *body = c->buf + head_len;
    *body_len = (size_t)content_length;
    *used = head_len + (size_t)content_length;
    return 1;
}

static void on_readable(Conn *c) {
    for (;;) {
        if (c->cap - c->len < 65536) {
            c->cap = c->cap ? c->cap * 2 : 262144;
            c->buf = realloc(c->buf, c->cap);
            if (!c->buf) abort();
        }
        ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (r > 0) { c->len += (size_t)r; continue; }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) break;
        /* closed by the server (or an error) before the response was complete */
        int state = c->state;
        drop_connection(c);
        if (state != IDLE) {
            fail(state == GET_SENT ? "GET: connection closed" : "POST: connection closed");
            start_next(c);
        }
        return;
    }
    int status, closing;
    const char *body;
    size_t body_len, used;
    int got = parse(c, &status, &body, &body_len, &used, &closing);
    if (got == 0) return;
    double latency = now() - c->started;
    if (got < 0) {
        drop_connection(c);
        fail("unreadable response");
        start_next(c);
        return;
    }
    if (c->state == GET_SENT) {
        printf("G %.6f\n", latency);
        if (status != 200) {
            char why[64];
            snprintf(why, sizeof why, "GET form: %d", status);
            fail(why);
            start_next(c);
        } else {
            /* The POST is built from the page before the buffer is reused. */
            char *page = malloc(body_len);
            memcpy(page, body, body_len);
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            if (closing) drop_connection(c);
            if (closing && ensure_connected(c) != 0) {
                free(page);
                fail("connect failed");
                start_next(c);
                return;
            }
            send_post(c, page, body_len);
            free(page);
        }
        return;
    }
    printf("P %.6f\n", latency);
    if (status == 200 && memmem(body, body_len, "data-state=\"code\"", 17)) {
        ok++;
    } else if (status == 503) {
        fail("POST 503 (hash pool overloaded)");
    } else {
        char why[96];
        if (memmem(body, body_len, "data-state=\"form\"", 17))
            snprintf(why, sizeof why, "POST %d: form shown again (validation/flow error)", status);
        else
            snprintf(why, sizeof why, "POST %d", status);
        fail(why);
    }
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    if (closing) drop_connection(c);
    start_next(c);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s PORT POOL TOTAL CONCURRENCY TIMEOUT_S MAX_SECONDS RUN_ID\n",
                argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    pool = argv[2];
    total = atoi(argv[3]);
    concurrency = atoi(argv[4]);
    timeout_s = atof(argv[5]);
    max_seconds = atof(argv[6]);
    run_id = argv[7];
    snprintf(path, sizeof path, "/embed/%s/register", pool);
    if (concurrency > total) concurrency = total;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    Conn *conns = calloc((size_t)(concurrency > 0 ? concurrency : 1), sizeof(Conn));
    double t0 = now();
    phase_deadline = t0 + max_seconds;
    for (int i = 0; i < concurrency; i++) {
        conns[i].fd = -1;
        start_next(&conns[i]);
    }
    struct epoll_event events[256];
    for (;;) {
        int busy = 0;
        double soonest = 0;
        for (int i = 0; i < concurrency; i++) {
            if (conns[i].state == IDLE) continue;
            if (!busy || conns[i].deadline < soonest) soonest = conns[i].deadline;
            busy = 1;
        }
        if (!busy) break;
        int wait_ms = (int)((soonest - now()) * 1000) + 1;
        int n = epoll_wait(epfd, events, 256, wait_ms > 0 ? wait_ms : 0);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            Conn *c = events[i].data.ptr;
            if (c->fd >= 0) on_readable(c);
        }
        double t = now();
        for (int i = 0; i < concurrency; i++) {
            Conn *c = &conns[i];
            if (c->state != IDLE && t > c->deadline) {
                drop_connection(c);
                fail("timeout");
                start_next(c);
            }
        }
    }
    printf("R %ld %ld %.6f %d\n", ok, failed, now() - t0, timed_out);
    return 0;
}
