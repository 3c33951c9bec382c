/* troupe — error codes: tr_strerror and tr_err_name from one table. */
#include <stdio.h>

#include <troupe/errors.h>

const char *tr_strerror(int err) {
    switch (err) {
    case TR_OK:
        return "success";
#define TR__ERR_TEXT(name, val, text)                                                              \
    case TR_##name:                                                                                \
        return text;
        TR_ERRNO_MAP(TR__ERR_TEXT)
#undef TR__ERR_TEXT
    default:
        return err > 0 ? "not an error (a positive value)"
                       : "not a troupe error code (an application's code? it belongs in "
                         "tr_buf.code / tr_msg.code)";
    }
}

const char *tr_err_name(int err) {
    switch (err) {
    case TR_OK:
        return "TR_OK";
#define TR__ERR_NAME(name, val, text)                                                              \
    case TR_##name:                                                                                \
        return "TR_" #name;
        TR_ERRNO_MAP(TR__ERR_NAME)
#undef TR__ERR_NAME
    default:
        return "TR_UNKNOWN";
    }
}

char *tr_err_describe(int err, char *buf, size_t size) {
    if (buf && size > 0)
        snprintf(buf, size, "%s (%d): %s", tr_err_name(err), err, tr_strerror(err));
    return buf;
}
