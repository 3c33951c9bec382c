/* kv_server — the supervision tree (see app.h). */
#include <stdio.h>
#include <stdlib.h>

#include "app.h"

typedef struct kv_tree {
    char (*shard_ids)[32];
    kv_shard_arg *shard_args;
    tr_child_spec *shard_specs;
    tr_sup_spec shards;
    tr_child_spec conn_template;
    tr_sup_spec conns;
    tr_child_spec top_children[2];
    tr_sup_spec top;
} kv_tree;

int kv_app_start(kv_app *app) {
    kv_tree *t = (kv_tree *)calloc(1, sizeof *t);
    if (!t)
        return TR_ENOMEM;
    app->tree = t;
    unsigned n = app->nshards;
    t->shard_ids = calloc(n, sizeof *t->shard_ids);
    t->shard_args = (kv_shard_arg *)calloc(n, sizeof *t->shard_args);
    t->shard_specs = (tr_child_spec *)calloc(n, sizeof *t->shard_specs);
    if (!t->shard_ids || !t->shard_args || !t->shard_specs)
        return TR_ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        kv_shard_name(i, t->shard_ids[i], sizeof t->shard_ids[i]);
        t->shard_args[i] = (kv_shard_arg){.app = app, .index = i};
        t->shard_specs[i] = (tr_child_spec){.id = t->shard_ids[i],
                                            .behaviour = kv_shard_behaviour(),
                                            .arg = &t->shard_args[i],
                                            .arg_size = sizeof(kv_shard_arg),
                                            .restart = TR_PERMANENT,
                                            .shutdown_ms = 5000};
    }
    /* Shards may crash on request (DEBUG SHARD-CRASH): allow many restarts
     * before the supervisor gives up (OTP's default is 1 in 5 s). */
    t->shards =
        (tr_sup_spec){.flags = {.strategy = TR_ONE_FOR_ONE, .intensity = 100, .period_ms = 10000},
                      .children = t->shard_specs,
                      .n_children = n};
    t->conn_template = (tr_child_spec){.id = "kv_conn",
                                       .behaviour = kv_conn_behaviour(),
                                       .restart = TR_TEMPORARY,
                                       .shutdown_ms = 5000};
    t->conns = (tr_sup_spec){.flags = {.strategy = TR_SIMPLE_ONE_FOR_ONE},
                             .children = &t->conn_template,
                             .n_children = 1};
    t->top_children[0] = (tr_child_spec){.id = "kv_shards",
                                         .behaviour = tr_supervisor_behaviour(),
                                         .arg = &t->shards,
                                         .restart = TR_PERMANENT,
                                         .type = TR_SUPERVISOR};
    t->top_children[1] = (tr_child_spec){.id = "kv_conns",
                                         .behaviour = tr_supervisor_behaviour(),
                                         .arg = &t->conns,
                                         .restart = TR_PERMANENT,
                                         .type = TR_SUPERVISOR};
    t->top =
        (tr_sup_spec){.flags = {.strategy = TR_ONE_FOR_ONE, .intensity = 10, .period_ms = 10000},
                      .children = t->top_children,
                      .n_children = 2};
    int err = tr_supervisor_start(app->rt, &t->top, &app->top);
    if (err)
        return err;
    /* The acceptor last, once the connections' supervisor runs (it asks
     * kv_top for it): supervisor:start_child on the running tree. */
    tr_child_spec acc = {.id = "kv_acceptor",
                         .fiber = kv_acceptor_main,
                         .arg = app,
                         .restart = TR_TRANSIENT,
                         .shutdown_ms = 2000};
    return tr_supervisor_start_child(app->rt, app->top, &acc, NULL);
}

void kv_app_free_tree(kv_app *app) {
    kv_tree *t = (kv_tree *)app->tree;
    if (!t)
        return;
    free(t->shard_ids);
    free(t->shard_args);
    free(t->shard_specs);
    free(t);
    app->tree = NULL;
}
