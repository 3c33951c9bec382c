/* troupe — error codes.
 *
 * Every troupe call that can fail returns an int: 0 (TR_OK) on success or
 * one of the negative codes below. One X-macro table drives the enum,
 * tr_strerror() and tr_err_name(), as libuv's UV_ERRNO_MAP does.
 * Rule (as libuv): if a call that takes a callback fails, the callback is
 * never called.
 */
#ifndef TROUPE_ERRORS_H
#define TROUPE_ERRORS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TROUPE_BUILDING) && defined(__GNUC__)
#define TR_API __attribute__((visibility("default")))
#else
#define TR_API
#endif

/* A function that never returns, in C11 and in C++ (the headers compile
 * as both). */
#ifdef __cplusplus
#define TR_NORETURN [[noreturn]]
#else
#define TR_NORETURN _Noreturn
#endif

#define TR_ERRNO_MAP(X)                                                                            \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(ENOPROC, -3, "no such actor (dead or never existed)")                                        \
    X(ETIMEDOUT, -4, "timed out")                                                                  \
    X(EEXITED, -5, "the server exited before replying")                                            \
    X(EDEADLK, -6, "blocking call in a callback or on a scheduler thread")                         \
    X(ECLOSED, -7, "closed: runtime shut down or shutting down, or channel closed")                \
    X(EEXIST, -8, "name or id already taken")                                                      \
    X(ENOTFOUND, -9, "no such name, id or timer")                                                  \
    X(EINIT, -10, "init callback failed")                                                          \
    X(ECRASHED, -11, "the worker handling the request crashed")                                    \
    X(EFULL, -12, "queue or table is full")                                                        \
    X(EBUSY, -13, "resource busy (operation already in progress)")                                 \
    X(ERUNNING, -14, "child is running")                                                           \
    X(ESHUTDOWN, -15, "target is shutting down")                                                   \
    X(ETOOBIG, -16, "message or buffer too large")                                                 \
    X(EREMOTE, -17, "the server replied with an error")                                            \
    X(ECANCELED, -18, "operation canceled")                                                        \
    X(EKILLED, -19, "the calling actor was killed: nothing was sent")                              \
    X(EAGAIN, -20, "would block: try again")                                                       \
    X(EPERM, -21, "not permitted: the caller does not own it")                                     \
    X(ECONNREFUSED, -22, "connection refused")                                                     \
    X(ECONNRESET, -23, "connection reset by the peer")                                             \
    X(EADDRINUSE, -24, "address already in use")                                                   \
    X(EPIPE, -25, "broken pipe: the peer closed the connection")                                   \
    X(EUNREACH, -26, "network or host unreachable")                                                \
    X(EACCES, -27, "permission denied (a privileged port?)")                                       \
    X(ENOTCONN, -28, "socket not connected")                                                       \
    X(EIO, -29, "input/output error (the errno is kept: tr_tcp_errno)")

/** Error codes. 0 is success; all errors are negative. */
typedef enum tr_err {
    TR_OK = 0,
#define TR__ERR_ENUM(name, val, text) TR_##name = (val),
    TR_ERRNO_MAP(TR__ERR_ENUM)
#undef TR__ERR_ENUM
} tr_err;

/** tr_strerror: human-readable text for an error code.
 *  Arguments: err, a value returned by a troupe call (0 or TR_E*). The
 *  space is closed: no troupe call returns anything else (an application's
 *  code travels in tr_buf.code / tr_msg.code beside TR_EREMOTE).
 *  Returns a static string (never NULL, never to be freed); a code outside
 *  the table gives "not a troupe error code (an application's code? it
 *  belongs in tr_buf.code / tr_msg.code)", and a positive value "not an
 *  error (a positive value)".
 *  Thread-safety: any thread.  Semantics: as libuv uv_strerror(). */
TR_API const char *tr_strerror(int err);

/** tr_err_name: the symbolic name of an error code ("TR_ETIMEDOUT").
 *  Returns a static string (never NULL); a code outside the table gives
 *  "TR_UNKNOWN" (tr_err_describe prints its value).
 *  Thread-safety: any thread.  Semantics: as libuv uv_err_name(). */
TR_API const char *tr_err_name(int err);

/** tr_err_describe: writes "NAME (VALUE): TEXT" for err into buf, e.g.
 *  "TR_ETIMEDOUT (-4): timed out", and for a code outside the table
 *  "TR_UNKNOWN (-1000): not a troupe error code (...)", so a log line
 *  shows every value (size bytes, always NUL-terminated when size > 0).
 *  Returns buf (NULL and size 0 write nothing). Thread-safety: any
 *  thread. */
TR_API char *tr_err_describe(int err, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
