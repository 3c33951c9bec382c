/* troupe — exit reasons: the constructors, the formatter, and the reason
 * carried by an EXIT or DOWN message. As Erlang's exit reasons: normal,
 * shutdown, kill (killed when it arrives), and {error, code, text}. */
#include <stdio.h>
#include <string.h>

#include "actor/core.h"

tr_reason tr_reason_normal(void) {
    return tr__reason_make(TR_EXIT_NORMAL);
}
tr_reason tr_reason_shutdown(void) {
    return tr__reason_make(TR_EXIT_SHUTDOWN);
}
tr_reason tr_reason_kill(void) {
    return tr__reason_make(TR_EXIT_KILL);
}
tr_reason tr_reason_error(int code, const char *text) {
    tr_reason r = tr__reason_make(TR_EXIT_ERROR);
    r.code = code;
    if (text) {
        strncpy(r.text, text, sizeof r.text - 1);
        r.text[sizeof r.text - 1] = '\0';
    }
    return r;
}
bool tr_reason_is_normal(const tr_reason *r) {
    return r && r->kind == TR_EXIT_NORMAL;
}

char *tr_reason_format(const tr_reason *r, char *buf, size_t size) {
    if (!buf || size == 0)
        return buf;
    if (!r) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    switch (r->kind) {
    case TR_EXIT_NORMAL:
        snprintf(buf, size, "normal");
        break;
    case TR_EXIT_SHUTDOWN:
        if (r->text[0]) /* why, e.g. a supervisor whose child could not start */
            snprintf(buf, size, "shutdown(%d): %.*s", (int)r->code, (int)sizeof r->text - 1,
                     r->text);
        else
            snprintf(buf, size, "shutdown");
        break;
    case TR_EXIT_KILL:
        snprintf(buf, size, "kill");
        break;
    case TR_EXIT_KILLED:
        snprintf(buf, size, "killed");
        break;
    case TR_EXIT_NOPROC:
        snprintf(buf, size, "noproc");
        break;
    case TR_EXIT_ERROR:
        snprintf(buf, size, "error(%d): %.*s", (int)r->code, (int)sizeof r->text - 1, r->text);
        break;
    default:
        snprintf(buf, size, "unknown(%d)", (int)r->kind);
        break;
    }
    return buf;
}

const tr_reason *tr_msg_reason(const tr_msg *msg) {
    if (!msg || (msg->kind != TR_MSG_EXIT && msg->kind != TR_MSG_DOWN) ||
        msg->size != sizeof(tr_reason))
        return NULL;
    return (const tr_reason *)msg->data;
}
