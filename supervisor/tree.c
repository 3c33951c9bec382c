/* troupe — the supervision-tree dump (include/troupe/introspect.h):
 * supervisor:which_children/1 applied down the tree, as observer's
 * application view, written as indented text or as JSON. Built on the
 * public API (which_children, tr_process_info) plus one question to the
 * core: is this pid a supervisor (tr__behaviour_of), so that no other
 * actor is sent a supervisor's request. */
#include <stdio.h>
#include <string.h>

#include <troupe/introspect.h>
#include <troupe/supervisor.h>

#include "actor/internal.h"
#include "base/alloc.h"
#include "supervisor/sup_internal.h"

typedef struct tree {
    tr_runtime *rt;
    FILE *o;
    tr_format f;
    int err;
} tree;

static bool is_supervisor(tr_runtime *rt, tr_pid pid) {
    const tr_behaviour *b = tr__behaviour_of(rt, pid);
    return b && (b == tr_supervisor_behaviour() || b == tr__supervisor_owned_behaviour());
}

/* A JSON string (RFC 8259: quote, backslash and control characters
 * escaped). */
static void json_str(FILE *o, const char *s) {
    fputc('"', o);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(o, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(o, "\\u%04x", ch);
        else
            fputc(ch, o);
    }
    fputc('"', o);
}

static const char *restart_name(int r) {
    return r == TR_PERMANENT ? "permanent" : r == TR_TRANSIENT ? "transient" : "temporary";
}

static void write_node(tree *t, const char *id, tr_pid pid, bool sup, int restart, bool has_restart,
                       uint32_t restarts, int depth, bool first);

/* The children of supervisor sup, each a node one level down. */
static void write_children(tree *t, tr_pid sup, int depth) {
    size_t n = 0;
    int rc = tr_supervisor_which_children(t->rt, sup, NULL, 0, &n);
    if (rc || n == 0)
        return; /* exited meanwhile, or none: no children shown */
    tr_child_info *kids = (tr_child_info *)tr__malloc(sizeof(tr_child_info) * n);
    if (!kids) {
        t->err = TR_ENOMEM;
        return;
    }
    size_t got = 0;
    rc = tr_supervisor_which_children(t->rt, sup, kids, n, &got);
    if (rc == 0) {
        if (got > n)
            got = n;
        for (size_t i = 0; i < got; i++) {
            const tr_child_info *c = &kids[i];
            bool child_sup =
                c->type == TR_SUPERVISOR && !tr_pid_is_none(c->pid) && is_supervisor(t->rt, c->pid);
            write_node(t, c->id, c->pid, child_sup, c->restart, true, c->restarts, depth, i == 0);
        }
    }
    tr__free(kids);
}

static void write_node(tree *t, const char *id, tr_pid pid, bool sup, int restart, bool has_restart,
                       uint32_t restarts, int depth, bool first) {
    char p[40];
    tr_proc_info *info = (tr_proc_info *)tr__malloc(sizeof *info);
    if (!info) {
        t->err = TR_ENOMEM;
        return;
    }
    bool alive = !tr_pid_is_none(pid) && tr_process_info(t->rt, pid, info) == TR_OK;
    const char *name = alive && info->n_names ? info->names[0] : "";
    const char *type = sup ? "supervisor" : "worker";
    FILE *o = t->o;
    if (t->f == TR_FORMAT_TEXT) {
        fprintf(o, "%*s%s %s %s", depth * 2, "", id,
                tr_pid_is_none(pid) ? "-" : tr_pid_format(pid, p, sizeof p), type);
        if (has_restart)
            fprintf(o, " %s restarts=%u", restart_name(restart), restarts);
        if (alive) {
            fprintf(o, " behaviour=%s", info->behaviour[0] ? info->behaviour : "-");
            if (name[0])
                fprintf(o, " name=%s", name);
            fprintf(o, " mailbox=%zu", info->mailbox_len);
        }
        fputc('\n', o);
        if (sup)
            write_children(t, pid, depth + 1);
    } else {
        fprintf(o, "%s{\"id\": ", first ? "" : ", ");
        json_str(o, id);
        fprintf(o, ", \"pid\": ");
        if (tr_pid_is_none(pid))
            fprintf(o, "null");
        else
            json_str(o, tr_pid_format(pid, p, sizeof p));
        fprintf(o, ", \"type\": \"%s\"", type);
        if (has_restart)
            fprintf(o, ", \"restart\": \"%s\", \"restarts\": %u", restart_name(restart), restarts);
        if (alive) {
            fprintf(o, ", \"behaviour\": ");
            json_str(o, info->behaviour);
            fprintf(o, ", \"name\": ");
            if (name[0])
                json_str(o, name);
            else
                fprintf(o, "null");
            fprintf(o, ", \"mailbox\": %zu", info->mailbox_len);
        }
        if (sup) {
            fprintf(o, ", \"children\": [");
            write_children(t, pid, depth + 1);
            fprintf(o, "]");
        }
        fprintf(o, "}");
    }
    tr__free(info);
}

/* A top-level node: named by its registered name, if any. */
static void write_root(tree *t, tr_pid pid, bool first) {
    char name[TR_NAME_MAX + 1];
    if (tr_name_of(t->rt, pid, name, sizeof name) != TR_OK)
        snprintf(name, sizeof name, "%s", "supervisor");
    write_node(t, name, pid, true, 0, false, 0, 0, first);
}

int tr_supervision_tree_write(tr_runtime *rt, tr_pid root, FILE *out, tr_format format) {
    if (!rt || !out || (format != TR_FORMAT_TEXT && format != TR_FORMAT_JSON))
        return TR_EINVAL;
    if (tr__blocking_refused(rt))
        return TR_EDEADLK;
    tree t = {rt, out, format, TR_OK};
    if (!tr_pid_is_none(root)) {
        if (!tr_is_alive(rt, root))
            return TR_ENOPROC;
        if (!is_supervisor(rt, root))
            return TR_EINVAL;
    }
    if (format == TR_FORMAT_JSON)
        fprintf(out, "{\"supervisors\": [");
    if (!tr_pid_is_none(root)) {
        write_root(&t, root, true);
    } else {
        tr_proc_iter *it;
        int rc = tr_processes_open(rt, &it);
        if (rc)
            return rc;
        tr_pid pid;
        bool first = true;
        while (tr_processes_next(it, &pid) && t.err == TR_OK) {
            if (!is_supervisor(rt, pid))
                continue;
            tr_proc_info *info = (tr_proc_info *)tr__malloc(sizeof *info);
            if (!info) {
                t.err = TR_ENOMEM;
                break;
            }
            bool top = tr_process_info(rt, pid, info) == TR_OK && tr_pid_is_none(info->parent);
            tr__free(info);
            if (!top)
                continue;
            write_root(&t, pid, first);
            first = false;
        }
        tr_processes_close(it);
    }
    if (format == TR_FORMAT_JSON)
        fprintf(out, "]}\n");
    if (t.err)
        return t.err;
    return ferror(out) ? TR_EIO : TR_OK;
}
