/* The people of bench/burst.py, in C: PEOPLE sign-ups that start at the same moment
   and wait in line the way static/widget.js does.

   The client shares the server's two cores, so its CPU counts against what the burst
   measures; this costs a fraction of the asyncio client's (which burst.py keeps for
   --python-client). Compiled by the bench with the machine's gcc into its temp dir.

   One person, on a keep-alive connection of their own to 127.0.0.1:PORT:
     GET  /embed/POOL/register                      -> flow_id, csrf_token, flow_ticket
     POST /embed/POOL/register  (HX-Request: true)  email=burst-RUN-I@example.com,
                                                    password=16 random URL-safe characters
   200 with data-state="code": registered. 503: wait Retry-After, plus a random 0-10 %
   of it, plus up to 1 s (widget.js's jitter), and send the same POST again (on a new
   connection if the server closed the idle one meanwhile); at most MAX_ATTEMPTS POSTs.
   Anything else: a failure. Every person starts at once: all connections are opened and
   all GETs sent before the first response is read.

     burstgen PORT POOL PEOPLE TIMEOUT_S MAX_SECONDS MAX_ATTEMPTS RUN_ID

   Output, one line each: "G s" per form GET, "P s" per POST that registered, "X s n" per
   refusal (latency, Retry-After), "S s i" per registration (seconds since the start,
   the person's number),
   "F reason" per person who did not register, "N n" per person (refusals), and last
   "R ok failed seconds". */

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

enum { GET_SENT, POST_SENT, WAITING, DONE };

typedef struct {
    int fd;
    int state;
    int reused;       /* the request went out on a connection that had been idle */
    int attempts;     /* POSTs sent */
    int refusals;
    long index;
    double started;   /* when the current request was sent */
    double deadline;  /* of the current request, or when to send again (WAITING) */
    char *request;    /* the POST, kept for sending again */
    size_t request_len;
    char *buf;
    size_t len, cap;
} Person;

static int port, people, max_attempts;
static double timeout_s, t0, end_by;
static const char *pool, *run_id;
static char path[256];
static long ok, failed;
static int epfd;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void done(Person *p, const char *why) {
    if (why) {
        failed++;
        printf("F %s\n", why);
    }
    printf("N %d\n", p->refusals);
    if (p->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
        close(p->fd);
    }
    p->fd = -1;
    p->state = DONE;
    free(p->request);
    free(p->buf);
    p->request = p->buf = NULL;
}

static void drop_connection(Person *p) {
    if (p->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, p->fd, NULL);
        close(p->fd);
    }
    p->fd = -1;
    p->len = 0;
}

/* Connected at once on loopback (the kernel completes it from the listen backlog),
   then non-blocking for the responses. */
static int connect_person(Person *p) {
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
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    p->fd = fd;
    return 0;
}

/* Write all of it: a request is a few hundred bytes and the socket buffer is empty
   (requests are sequential), so it goes at once; anything else is a failure. */
static int send_all(int fd, const char *data, size_t n) {
    while (n) {
        ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Send on the person's connection, or a new one if there is none (or the kept one
   turns out closed). */
static int send_request(Person *p, const char *data, size_t n) {
    for (int attempt = 0; attempt < 2; attempt++) {
        p->reused = p->fd >= 0;
        if (p->fd < 0 && connect_person(p) != 0) return -1;
        if (send_all(p->fd, data, n) == 0) {
            p->started = now();
            p->deadline = p->started + timeout_s;
            return 0;
        }
        drop_connection(p);
    }
    return -1;
}

static void send_get(Person *p) {
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
    if (send_request(p, req, (size_t)n) != 0) {
        done(p, "connect/send failed");
        return;
    }
    p->state = GET_SENT;
}

static void send_post(Person *p) {
    if (p->attempts >= max_attempts) {
        done(p, "attempts bound (MAX_ATTEMPTS)");
        return;
    }
    if (send_request(p, p->request, p->request_len) != 0) {
        done(p, "POST: connect/send failed");
        return;
    }
    p->attempts++;
    p->state = POST_SENT;
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

/* The person's POST, built once from the form page and sent as often as needed. */
static int build_post(Person *p, const char *body, size_t body_len) {
    size_t flen = 0, clen = 0, tlen = 0;
    const char *flow = hidden(body, body_len, "flow_id", &flen);
    const char *csrf = hidden(body, body_len, "csrf_token", &clen);
    const char *ticket = hidden(body, body_len, "flow_ticket", &tlen);
    if (!flow || !csrf || flen > 200 || clen > 200 || tlen > 1000) return -1;
    char pw[17];
    password(pw);
    char form[2048];
    int fn = snprintf(form, sizeof form,
                      "flow_id=%.*s&csrf_token=%.*s%s%.*s&email=burst-%s-%ld%%40example.com"
                      "&password=%s",
                      (int)flen, flow, (int)clen, csrf, ticket ? "&flow_ticket=" : "",
                      (int)tlen, ticket ? ticket : "", run_id, p->index, pw);
    p->request = malloc(4096);
    if (!p->request) abort();
    int n = snprintf(p->request, 4096,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nHX-Request: true\r\n"
                     "Content-Length: %d\r\n\r\n%s",
                     path, port, fn, form);
    p->request_len = (size_t)n;
    return 0;
}

/* A complete response at the front of the buffer: 1 (status, body, header values set,
   *used = its length), 0 if more bytes are needed, -1 if it cannot be read. */
static int parse(Person *p, int *status, const char **body, size_t *body_len, size_t *used,
                 int *closing, long *retry_after) {
    const char *head_end = memmem(p->buf, p->len, "\r\n\r\n", 4);
    if (!head_end) return 0;
    size_t head_len = (size_t)(head_end - p->buf) + 4;
    if (p->len < 12 || memcmp(p->buf, "HTTP/1.", 7) != 0) return -1;
    *status = atoi(p->buf + 9);
    long content_length = -1;
    *closing = 0;
    *retry_after = -1;
    const char *line = memchr(p->buf, '\n', head_len) + 1;
    while (line < head_end) {
        const char *eol = memmem(line, (size_t)(head_end + 2 - line), "\r\n", 2);
        if (!eol) break;
        size_t n = (size_t)(eol - line);
        if (n > 15 && strncasecmp(line, "content-length:", 15) == 0)
            content_length = atol(line + 15);
        if (n >= 17 && strncasecmp(line, "connection: close", 17) == 0) *closing = 1;
        if (n > 12 && strncasecmp(line, "retry-after:", 12) == 0) *retry_after = atol(line + 12);
        line = eol + 2;
    }
    if (content_length < 0) return -1; /* the server always sends Content-Length */
    if (p->len < head_len + (size_t)content_length) return 0;
    *body = p->buf + head_len;
    *body_len = (size_t)content_length;
    *used = head_len + (size_t)content_length;
    return 1;
}

static void on_response(Person *p, int status, const char *body, size_t body_len,
                        long retry_after) {
    double latency = now() - p->started;
    if (p->state == GET_SENT) {
        printf("G %.6f\n", latency);
        if (status != 200 || build_post(p, body, body_len) != 0) {
            char why[64];
            snprintf(why, sizeof why, "GET form: %d", status);
            done(p, why);
            return;
        }
        send_post(p);
        return;
    }
    if (status == 200 && memmem(body, body_len, "data-state=\"code\"", 17)) {
        ok++;
        printf("P %.6f\nS %.6f %ld\n", latency, now() - t0, p->index);
        done(p, NULL);
        return;
    }
    if (status == 503 && retry_after >= 0) {
        p->refusals++;
        printf("X %.6f %ld\n", latency, retry_after);
        double pause = retry_after * (1 + drand48() * 0.1) + drand48();
        if (now() + pause > end_by) {
            done(p, "time bound (MAX_SECONDS)");
            return;
        }
        p->state = WAITING;
        p->deadline = now() + pause;
        return;
    }
    char why[96];
    if (memmem(body, body_len, "data-state=\"form\"", 17))
        snprintf(why, sizeof why, "POST %d (form shown again)", status);
    else
        snprintf(why, sizeof why, "POST %d", status);
    done(p, why);
}

static void on_readable(Person *p) {
    for (;;) {
        if (p->cap - p->len < 65536) {
            p->cap = p->cap ? p->cap * 2 : 131072;
            p->buf = realloc(p->buf, p->cap);
            if (!p->buf) abort();
        }
        ssize_t r = recv(p->fd, p->buf + p->len, p->cap - p->len, 0);
        if (r > 0) { p->len += (size_t)r; continue; }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) break;
        /* Closed: while waiting, the server's keep-alive timeout (a new connection
           carries the next POST); a request sent on a connection that had been idle,
           once more on a new one; anything else is a failure. */
        drop_connection(p);
        if (p->state == WAITING) return;
        if (p->reused) {
            if (p->state == POST_SENT) p->attempts--;
            if (p->state == GET_SENT) send_get(p); else send_post(p);
            return;
        }
        done(p, p->state == GET_SENT ? "GET: connection closed" : "POST: connection closed");
        return;
    }
    int status, closing;
    long retry_after;
    const char *body;
    size_t body_len, used;
    int got = parse(p, &status, &body, &body_len, &used, &closing, &retry_after);
    if (got == 0) return;
    if (got < 0) {
        done(p, "unreadable response");
        return;
    }
    if (p->state == WAITING) return; /* nothing was asked */
    /* The body is read before the buffer is reused: copy it out. */
    char *copy = malloc(body_len + 1);
    if (!copy) abort();
    memcpy(copy, body, body_len);
    memmove(p->buf, p->buf + used, p->len - used);
    p->len -= used;
    if (closing) drop_connection(p);
    on_response(p, status, copy, body_len, retry_after);
    free(copy);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr,
                "usage: %s PORT POOL PEOPLE TIMEOUT_S MAX_SECONDS MAX_ATTEMPTS RUN_ID\n",
                argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    pool = argv[2];
    people = atoi(argv[3]);
    timeout_s = atof(argv[4]);
    double max_seconds = atof(argv[5]);
    max_attempts = atoi(argv[6]);
    run_id = argv[7];
    snprintf(path, sizeof path, "/embed/%s/register", pool);
    unsigned short seed[3];
    if (getrandom(seed, sizeof seed, 0) != sizeof seed) abort();
    seed48(seed);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    Person *all = calloc((size_t)(people > 0 ? people : 1), sizeof(Person));
    if (!all) abort();
    t0 = now();
    end_by = t0 + max_seconds;
    for (int i = 0; i < people; i++) {
        all[i].fd = -1;
        all[i].index = i;
        send_get(&all[i]);
    }
    struct epoll_event events[512];
    for (;;) {
        int busy = 0;
        double soonest = 0;
        for (int i = 0; i < people; i++) {
            if (all[i].state == DONE) continue;
            if (!busy || all[i].deadline < soonest) soonest = all[i].deadline;
            busy = 1;
        }
        if (!busy) break;
        int wait_ms = (int)((soonest - now()) * 1000) + 1;
        int n = epoll_wait(epfd, events, 512, wait_ms > 0 ? wait_ms : 0);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            Person *p = events[i].data.ptr;
            if (p->fd >= 0 && p->state != DONE) on_readable(p);
        }
        double t = now();
        for (int i = 0; i < people; i++) {
            Person *p = &all[i];
            if (p->state == DONE || t < p->deadline) continue;
            if (p->state == WAITING) send_post(p);
            else done(p, "timeout");
        }
    }
    printf("R %ld %ld %.6f\n", ok, failed, now() - t0);
    return 0;
}
