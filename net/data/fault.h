/* net/data/fault.h: named crash points for the data plane's fault-injection tests. Compiled in
 * only with -DUSD_FAULTS (the SANITIZE=1 build that `make test` runs); elsewhere FAULT_POINT
 * is nothing. With USD_FAULT=<point>[:<n>] in the environment at start, the process kills
 * itself with SIGKILL the n-th time (default: the first) it passes <point>, as a crash there
 * would: no cleanup, no flush, nothing answered. Points (grep FAULT_POINT): after_link,
 * after_publish, before_unlink, mid_upload, mid_pull, in_janitor. */
#ifndef NET_DATA_FAULT_H
#define NET_DATA_FAULT_H

#ifdef USD_FAULTS
void fault_point(const char *name);
#define FAULT_POINT(name) fault_point(name)
#else
#define FAULT_POINT(name) ((void)0)
#endif

#endif
