/* troupe — error codes: tr_strerror and tr_err_name from one table. */
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
        return "unknown error";
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
