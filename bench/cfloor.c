/* The floor no binding can beat: the synchronous and pipelined RPC
 * workloads of worker.py, written directly against libflux-core.
 *
 *     cfloor sync_rpc|pipelined_rpc N
 *
 * Prints {"rate": ops per second, ...} like worker.py (best of three).
 * Built and run by run.py at run time (cc ... -lflux-core).
 */
#include <flux/core.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die (const char *what)
{
    perror (what);
    exit (1);
}

static void sync_rpc (flux_t *h, int n)
{
    for (int i = 0; i < n; i++) {
        flux_future_t *f;
        const char *payload;
        if (!(f = flux_rpc_pack (h, "broker.ping", FLUX_NODEID_ANY, 0,
                                 "{s:i}", "seq", i)))
            die ("flux_rpc_pack");
        /* get the JSON text, as a binding's get() would before parsing */
        if (flux_rpc_get (f, &payload) < 0 || !payload)
            die ("flux_rpc_get");
        flux_future_destroy (f);
    }
}

struct pipeline {
    int done;
    int target;
};

static flux_t *handle;

static void on_response_stop (flux_future_t *f, void *arg)
{
    struct pipeline *p = arg;
    const char *payload;
    if (flux_rpc_get (f, &payload) < 0 || !payload)
        die ("flux_rpc_get");
    flux_future_destroy (f);
    if (++p->done == p->target)
        flux_reactor_stop (flux_get_reactor (handle));
}

static void pipelined_rpc (flux_t *h, int n)
{
    struct pipeline p = { 0, n };
    for (int i = 0; i < n; i++) {
        flux_future_t *f;
        if (!(f = flux_rpc_pack (h, "broker.ping", FLUX_NODEID_ANY, 0,
                                 "{s:i}", "seq", i)))
            die ("flux_rpc_pack");
        if (flux_future_then (f, -1., on_response_stop, &p) < 0)
            die ("flux_future_then");
    }
    if (flux_reactor_run (flux_get_reactor (h), 0) < 0)
        die ("flux_reactor_run");
    if (p.done != n) {
        fprintf (stderr, "only %d of %d responses\n", p.done, n);
        exit (1);
    }
}

int main (int argc, char *argv[])
{
    void (*fn) (flux_t *, int);
    int n, warm;
    double t0, dt, best = 0.;

    if (argc != 3) {
        fprintf (stderr, "usage: cfloor sync_rpc|pipelined_rpc N\n");
        return 2;
    }
    if (!strcmp (argv[1], "sync_rpc"))
        fn = sync_rpc;
    else if (!strcmp (argv[1], "pipelined_rpc"))
        fn = pipelined_rpc;
    else {
        fprintf (stderr, "cfloor: unknown workload %s\n", argv[1]);
        return 2;
    }
    n = atoi (argv[2]);
    if (!(handle = flux_open (NULL, 0)))
        die ("flux_open");
    warm = n / 20 > 50 ? n / 20 : 50;
    fn (handle, warm);
    /* best of three timed runs, as worker.py does */
    for (int rep = 0; rep < 3; rep++) {
        double rate;
        t0 = now ();
        fn (handle, n);
        dt = now () - t0;
        rate = n / dt;
        if (rate > best)
            best = rate;
    }
    printf ("{\"rate\": %f, \"n\": %d, \"binding\": \"c\", "
            "\"workload\": \"%s\"}\n", best, n, argv[1]);
    flux_close (handle);
    return 0;
}
