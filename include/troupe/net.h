/* troupe — network I/O: TCP for fibers, plain threads and actors.
 *
 * A socket is a value (tr_sock, like tr_pid): an index and a generation in
 * the runtime's socket table, looked up on every call, so a call on a
 * closed or never-existing socket gets TR_ECLOSED, never a crash. Sockets
 * are non-blocking and registered with the runtime's poller (epoll,
 * edge-triggered), which idle scheduler threads wait on, as Go's
 * netpoller: no thread per connection, and a socket's data is read on the
 * thread that then runs its owner.
 *
 * Three ways to use a socket, by who calls:
 *  - a fiber: accept, connect, recv and send park the fiber until the
 *    socket is ready (its scheduler thread runs other work meanwhile);
 *  - a plain thread: the same calls block the thread;
 *  - an actor: the socket is active (tr_tcp_active) and its data and
 *    events arrive as TR_MSG_INFO messages with the TR_TAG_TCP_* tags, with
 *    gen_tcp's {active, once} / {active, N} flow control. An actor never
 *    blocks: connect returns at once (TR_TAG_TCP_CONNECTED follows), send
 *    queues or returns TR_EAGAIN (TR_TAG_TCP_DRAINED follows), recv
 *    returns what is there or TR_EAGAIN, accept is refused (TR_EDEADLK: use
 *    an active listener).
 *
 * Each socket has a controlling process (its owner), as gen_tcp's port:
 * the active messages go to it, only it may hand the socket on
 * (tr_tcp_controlling_process), and when it exits, for any reason, its
 * sockets are closed. Output is copied into a bounded queue per socket
 * (send_max) and written as the socket becomes writable: a send never
 * waits for the kernel. tr_runtime_stop closes every socket.
 *
 * Semantics from Erlang/OTP's gen_tcp and inet (active modes, controlling
 * process, tcp_passive), Go's net package (blocking calls that park a
 * goroutine on the netpoller).
 */
#ifndef TROUPE_NET_H
#define TROUPE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <troupe/actor.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A socket: slot index and generation in the runtime's socket table.
 *  Passed by value; treat it as opaque. The id 0 is never a socket
 *  (TR_SOCK_NONE). */
typedef struct tr_sock {
    uint64_t id;
} tr_sock;

#define TR_SOCK_NONE ((tr_sock){0})

/** True for TR_SOCK_NONE. Thread-safety: pure, any thread. */
static inline bool tr_sock_is_none(tr_sock s) {
    return s.id == 0;
}
/** True when the two handles name the same socket. Pure, any thread. */
static inline bool tr_sock_eq(tr_sock a, tr_sock b) {
    return a.id == b.id;
}

/** Active modes (tr_tcp_opts.active, tr_tcp_active). */
#define TR_TCP_PASSIVE 0
#define TR_TCP_ACTIVE_ONCE 1
#define TR_TCP_ACTIVE_ALWAYS (-1)

/** Socket options. Zero-initialize, then set what you need; NULL opts
 *  means all defaults. */
typedef struct tr_tcp_opts {
    int backlog;       /* listen backlog; 0: 128 */
    bool no_reuseaddr; /* listen: SO_REUSEADDR is on unless this is set */
    bool nodelay;      /* TCP_NODELAY */
    bool keepalive;    /* SO_KEEPALIVE */
    bool ipv6_only;    /* IPV6_V6ONLY for a "::" listener */
    size_t send_max;   /* bound of the output queue, bytes; 0: 1 MiB */
    size_t recv_max;   /* most bytes per read / per TR_TAG_TCP_DATA message; 0: 64 KiB */
    int active;        /* initial mode of the sockets listen/accept/connect make (a
                          listener: its own mode and that of the sockets it accepts):
                          TR_TCP_PASSIVE (0), TR_TCP_ACTIVE_ONCE (1), N > 1 ({active, N}),
                          TR_TCP_ACTIVE_ALWAYS (-1) */
    tr_pid owner;      /* controlling process; none: the calling fiber or actor (no owner
                          from a plain thread) */
} tr_tcp_opts;

/* Message tags of the network (0xFFFF0500 - 0xFFFF05FF in actor.h's
 * table). Every TCP message is a TR_MSG_INFO to the socket's owner, with
 * no sender; tr_msg_sock(msg) names the socket it is about. */
#define TR_TAG_TCP_MIN 0xFFFF0500u
/** data/size: the bytes of one read (at most recv_max). */
#define TR_TAG_TCP_DATA 0xFFFF0501u
/** The peer closed its side (EOF) or the connection was reset; no more
 *  data follows. The socket stays open until closed (or its owner exits). */
#define TR_TAG_TCP_CLOSED 0xFFFF0502u
/** An error: status is the TR_E* code, tr_tcp_errno the errno. */
#define TR_TAG_TCP_ERROR 0xFFFF0503u
/** An {active, N} count reached 0: the socket is passive now. */
#define TR_TAG_TCP_PASSIVE 0xFFFF0504u
/** An active listener accepted a connection: tr_msg_sock is the NEW
 *  socket (owned by the listener's owner, in the mode the listener was
 *  made with); data holds the listener's tr_sock. */
#define TR_TAG_TCP_ACCEPTED 0xFFFF0505u
/** A connect started from an actor finished: status 0 (connected) ...
 *  (a failure comes as TR_TAG_TCP_ERROR instead). */
#define TR_TAG_TCP_CONNECTED 0xFFFF0506u
/** A send that returned TR_EAGAIN to an actor: the queue fell to half of
 *  send_max; send again. Goes to the process that got TR_EAGAIN. */
#define TR_TAG_TCP_DRAINED 0xFFFF0507u
#define TR_TAG_TCP_MAX 0xFFFF05FFu

/** tr_msg_sock: the socket a TCP message (TR_TAG_TCP_*) is about;
 *  TR_SOCK_NONE for NULL and for every other message. Never fails.
 *  Thread-safety: pure, any thread. */
TR_API tr_sock tr_msg_sock(const tr_msg *msg);

/* tr_tcp_listen, tr_tcp_accept and tr_tcp_connect set *out to
 * TR_SOCK_NONE on every error (out not NULL). */

/** tr_tcp_listen: a listening socket on host:port.
 *  Arguments: host NULL or "" = any address ("::" dual-stack when the
 *  machine has IPv6, else 0.0.0.0); a numeric address ("127.0.0.1",
 *  "::1") or a name (getaddrinfo: may block on the resolver, use numeric
 *  addresses from actors); port 0 = an ephemeral port (tr_tcp_local_port
 *  tells which); opts may be NULL. An active listener (opts->active != 0)
 *  sends TR_TAG_TCP_ACCEPTED for each connection to its owner, counting
 *  {active, N} as a socket's data does; a passive one is drained with
 *  tr_tcp_accept. Accepted sockets inherit nodelay, keepalive, send_max,
 *  recv_max and opts->active (the mode the listener was made with:
 *  tr_tcp_active on the listener changes only its own). An acceptor that
 *  hands each connection to another process listens with active 0, then
 *  makes the listener active with tr_tcp_active: its connections come
 *  passive, and no data reaches the acceptor before the handover.
 *  Errors: TR_EINVAL (rt or out NULL, bad option), TR_ENOTFOUND (host does
 *  not resolve), TR_EADDRINUSE, TR_EACCES, TR_ENOPROC (owner not alive),
 *  TR_EFULL (out of descriptors), TR_ENOMEM, TR_ECLOSED (runtime stopped),
 *  TR_EIO (another errno; a failed listen leaves no socket, so no
 *  tr_tcp_errno: the codes above cover bind's and listen's usual errnos).
 *  Thread-safety: any thread. Semantics: gen_tcp:listen/2. */
TR_API int tr_tcp_listen(tr_runtime *rt, const char *host, uint16_t port, const tr_tcp_opts *opts,
                         tr_sock *out);

/** tr_tcp_accept: the next connection on the passive listener ls, waiting
 *  up to timeout_ms (< 0: TR_INFINITY; 0: do not wait). The new socket is
 *  owned by the calling fiber (none from a plain thread).
 *  Errors: TR_ETIMEDOUT, TR_EDEADLK (inside an actor's callback or on a
 *  scheduler thread outside a fiber), TR_EINVAL (ls not a listener, ls
 *  active, out NULL), TR_ECLOSED (ls closed, before or while waiting),
 *  TR_EFULL (out of descriptors), TR_ENOMEM.
 *  Thread-safety: fibers (park) and plain threads (block).
 *  Semantics: gen_tcp:accept/2. */
TR_API int tr_tcp_accept(tr_runtime *rt, tr_sock ls, tr_duration_ms timeout_ms, tr_sock *out);

/** tr_tcp_connect: a connection to host:port.
 *  From a fiber or plain thread it waits up to timeout_ms (< 0: no limit
 *  but the kernel's) for the connection. From an actor's callback it
 *  starts the connect, sets *out at once and returns 0; the owner then
 *  gets TR_TAG_TCP_CONNECTED, or TR_TAG_TCP_ERROR with the error (a
 *  timeout included), and the socket is usable once CONNECTED came.
 *  Errors: TR_EINVAL, TR_ENOTFOUND (host), TR_ECONNREFUSED, TR_ETIMEDOUT,
 *  TR_EUNREACH (no route), TR_ENOPROC (owner), TR_EFULL, TR_ENOMEM,
 *  TR_ECLOSED, TR_EIO. Connects to the first address a name resolves to.
 *  Thread-safety: any thread. Semantics: gen_tcp:connect/4. */
TR_API int tr_tcp_connect(tr_runtime *rt, const char *host, uint16_t port, const tr_tcp_opts *opts,
                          tr_duration_ms timeout_ms, tr_sock *out);

/** tr_tcp_recv: reads at most cap bytes of a passive socket into buf
 *  (*got: how many). A fiber parks and a thread blocks up to timeout_ms
 *  for data (< 0: no limit; 0: do not wait); from an actor's callback it
 *  returns what is there now or TR_EAGAIN.
 *  Errors: TR_ECLOSED with *got 0 (the peer closed: EOF; or s closed),
 *  TR_EINVAL (s active or a listener, buf/got NULL, cap 0, buf not
 *  writable for min(cap, recv_max) bytes: the kernel's EFAULT), TR_EAGAIN
 *  (actor, nothing there), TR_ETIMEDOUT, TR_ECONNRESET and the other codes
 *  of tr_tcp_errno (errno kept).
 *  Thread-safety: any thread. Semantics: gen_tcp:recv/3. */
TR_API int tr_tcp_recv(tr_runtime *rt, tr_sock s, void *buf, size_t cap, tr_duration_ms timeout_ms,
                       size_t *got);

/** tr_tcp_send: copies len bytes into s's output queue, written as the
 *  socket becomes writable (the caller never waits for the kernel). When
 *  they do not fit under send_max: a fiber parks and a thread blocks up to
 *  timeout_ms until they fit (TR_ETIMEDOUT: nothing queued); an actor gets
 *  TR_EAGAIN with nothing queued, and TR_TAG_TCP_DRAINED once the queue
 *  fell to half of send_max. A send larger than send_max is taken when the
 *  queue is empty.
 *  Errors: TR_EINVAL (data NULL with len > 0, s a listener), TR_ECLOSED
 *  (s closed, or its write side shut), TR_EAGAIN, TR_ETIMEDOUT,
 *  TR_EPIPE / TR_ECONNRESET (an earlier write failed), TR_ENOMEM.
 *  Thread-safety: any thread. Semantics: gen_tcp:send/2 with a bounded
 *  queue (inet's high_watermark / low_watermark). */
TR_API int tr_tcp_send(tr_runtime *rt, tr_sock s, const void *data, size_t len,
                       tr_duration_ms timeout_ms);

/** tr_tcp_sendv: tr_tcp_send of the iovcnt pieces of iov, one after the
 *  other, as one send: all of it is queued or none (the bound applies to
 *  the sum). Arguments: iov may be NULL when iovcnt is 0; 0 <= iovcnt <=
 *  IOV_MAX; a piece with iov_len > 0 needs iov_base. Errors: as
 *  tr_tcp_send, and TR_EINVAL for a bad iovec. Thread-safety: any thread.
 *  Semantics: writev(2) on gen_tcp's queue (gen_tcp:send/2 of an iolist). */
TR_API int tr_tcp_sendv(tr_runtime *rt, tr_sock s, const struct iovec *iov, int iovcnt,
                        tr_duration_ms timeout_ms);

/** tr_tcp_active: sets s's mode (a listener's: whether it accepts and sends
 *  TR_TAG_TCP_ACCEPTED; not the mode of the sockets it accepts): 0 passive,
 *  1 once, N > 1 ({active, N}:
 *  adds N to the count left, as inet:setopts does), -1 always. When a
 *  count reaches 0 the owner gets TR_TAG_TCP_PASSIVE. Passive, data stays
 *  in the kernel, so TCP throttles the peer.
 *  Errors: TR_ECLOSED, TR_EINVAL (n < -1). Thread-safety: any thread.
 *  Semantics: inet:setopts(S, [{active, N}]). */
TR_API int tr_tcp_active(tr_runtime *rt, tr_sock s, int n);

/** tr_tcp_controlling_process: makes pid s's owner. Only the current
 *  owner may (any caller when s has none). Messages already in the old
 *  owner's mailbox stay there; the ones sent after go to pid (make s
 *  passive first to move a stream cleanly, as gen_tcp does internally).
 *  Errors: TR_ECLOSED, TR_EPERM (caller not the owner), TR_ENOPROC (pid not
 *  a live process of rt), TR_EINVAL. Thread-safety: any thread.
 *  Semantics: gen_tcp:controlling_process/2. */
TR_API int tr_tcp_controlling_process(tr_runtime *rt, tr_sock s, tr_pid pid);

/** tr_tcp_shutdown: how = SHUT_RD, SHUT_WR or SHUT_RDWR (sys/socket.h).
 *  The write side is shut after the output queue drained.
 *  Errors: TR_ECLOSED, TR_EINVAL. Thread-safety: any thread.
 *  Semantics: gen_tcp:shutdown/2. */
TR_API int tr_tcp_shutdown(tr_runtime *rt, tr_sock s, int how);

/** tr_tcp_close: the handle is dead at once (every call on it gets
 *  TR_ECLOSED, fibers and threads waiting on it wake with TR_ECLOSED);
 *  queued output is still written in the background for up to 5 s, then
 *  the descriptor is closed.
 *  Errors: TR_ECLOSED (already closed). Thread-safety: any thread.
 *  Semantics: gen_tcp:close/1. */
TR_API int tr_tcp_close(tr_runtime *rt, tr_sock s);

/** tr_tcp_setopts: sets nodelay, keepalive, send_max and recv_max from
 *  opts (the other fields are ignored).
 *  Errors: TR_ECLOSED, TR_EINVAL (opts NULL). Thread-safety: any thread.
 *  Semantics: inet:setopts/2. */
TR_API int tr_tcp_setopts(tr_runtime *rt, tr_sock s, const tr_tcp_opts *opts);

/** tr_tcp_errno: the errno of the last error on s (0: none; for a closed
 *  handle 0). Never fails. Thread-safety: any thread. */
TR_API int tr_tcp_errno(tr_runtime *rt, tr_sock s);

/** tr_tcp_local_port: the local port of s. Errors: TR_ECLOSED, TR_EINVAL.
 *  Thread-safety: any thread. Semantics: inet:port/1. */
TR_API int tr_tcp_local_port(tr_runtime *rt, tr_sock s, uint16_t *port);

/** tr_tcp_peername / tr_tcp_sockname: the remote / local address as text
 *  ("127.0.0.1", "::1"; into host, cap bytes, NUL-terminated; host may be
 *  NULL) and port (may be NULL).
 *  Errors: TR_ECLOSED, TR_EINVAL (cap too small: 46 bytes always fit),
 *  TR_ENOTCONN. Thread-safety: any thread. Semantics: inet:peername/1,
 *  inet:sockname/1. */
TR_API int tr_tcp_peername(tr_runtime *rt, tr_sock s, char *host, size_t cap, uint16_t *port);
TR_API int tr_tcp_sockname(tr_runtime *rt, tr_sock s, char *host, size_t cap, uint16_t *port);

#ifdef __cplusplus
}
#endif

#endif
