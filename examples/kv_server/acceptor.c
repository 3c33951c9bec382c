/* kv_server — the acceptor: a fiber (a transient child of kv_top) that
 * accepts connections on the passive listener and starts a connection
 * process for each (supervisor:start_child on kv_conns, from the fiber:
 * the call parks only the fiber). The accepted socket is passive and
 * owned by the acceptor; it is handed to the new process
 * (tr_tcp_controlling_process), which is then told KV_TAG_GO and makes it
 * active. When the listener is closed (shutdown), accept returns
 * TR_ECLOSED and the fiber ends normally (transient: not restarted). */
#include <string.h>

#include "app.h"

/* The pid of kv_conns, from kv_top's children (it changes if it restarts). */
static tr_pid find_conn_sup(kv_app *app) {
    tr_child_info info[4];
    size_t n = 0;
    if (tr_supervisor_which_children(app->rt, app->top, info, 4, &n) != 0)
        return TR_PID_NONE;
    for (size_t i = 0; i < n && i < 4; i++)
        if (strcmp(info[i].id, "kv_conns") == 0)
            return info[i].pid;
    return TR_PID_NONE;
}

int kv_acceptor_main(tr_self *self, void *arg) {
    kv_app *app = (kv_app *)arg;
    tr_runtime *rt = app->rt;
    tr_pid conn_sup = TR_PID_NONE;
    for (;;) {
        tr_sock s;
        int err = tr_tcp_accept(rt, app->listener, TR_INFINITY, &s);
        if (err == TR_ECLOSED)
            return 0; /* the listener was closed: shutting down */
        if (err) {
            /* out of descriptors or memory: the pending connection waits in
             * the backlog; try again a little later */
            tr_sleep(self, 50);
            continue;
        }
        kv_conn_arg a = {.app = app, .sock = s};
        tr_child_spec spec = {.arg = &a, .arg_size = sizeof a};
        tr_pid pid = TR_PID_NONE;
        err = TR_ENOPROC;
        for (int attempt = 0; attempt < 2 && (err == TR_ENOPROC || err == TR_EEXITED); attempt++) {
            if (tr_pid_is_none(conn_sup))
                conn_sup = find_conn_sup(app);
            err = tr_supervisor_start_child(rt, conn_sup, &spec, &pid);
            if (err == TR_ENOPROC || err == TR_EEXITED)
                conn_sup = TR_PID_NONE;
        }
        if (err) {
            tr_tcp_close(rt, s);
            continue;
        }
        if (tr_tcp_controlling_process(rt, s, pid) != 0) {
            tr_tcp_close(rt, s);
            tr_exit(rt, pid, tr_reason_shutdown());
            continue;
        }
        tr_send(rt, pid, KV_TAG_GO, NULL, 0);
    }
}
