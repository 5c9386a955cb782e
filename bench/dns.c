/* SPDX-License-Identifier: MIT */
/*
 * bench/dns.c - name lookups per second: corio_getaddrinfo() on one loop
 * against glibc's getaddrinfo() in a pool of 8 threads (what asyncio's
 * loop.getaddrinfo does) and called sequentially, in the same run, each
 * resolving 10 000 distinct names per round from the same local dnsmasq.
 *
 * glibc reads its server from /etc/resolv.conf and only ever talks to port
 * 53, so the program (as root) moves into a private mount and network
 * namespace: loopback comes up empty, dnsmasq listens on 127.0.0.1:53,
 * and a resolv.conf saying "nameserver 127.0.0.1" is bind-mounted over
 * /etc/resolv.conf.  corio reads the same file, so both sides use the same
 * server, the same /etc/hosts and /etc/nsswitch.conf, and the machine's
 * own resolver configuration is untouched.  Every name exists (A and AAAA
 * from a dnsmasq wildcard) and every answer is checked.
 *
 * corio runs in two shapes, each on both backends (io_uring, epoll): 64
 * tasks taking names from the list as the 8 threads do (64 is the
 * resolver's default number of lookups in flight), and one task per name,
 * all 10 000 spawned at once (the cost of 10 000 stacks then shows).  Each
 * round runs the six contenders in an order that rotates.  One
 * machine-readable line per figure (bench.h), then a Markdown table.
 *
 *   bench-dns [--quick|--full] [--rounds N] [--names N] [--threads N] [--tasks N]
 */
#include <corio.h>

#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUNDS 15
#define TARGET_VS_POOL 3.0

struct cfg {
	int rounds, names, threads;
	int tasks; /* corio tasks sharing the list */
	bool quick;
};

/* ---- the private network ------------------------------------------------ */

static void loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		bench_die("reading lo's flags", errno);
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		bench_die("bringing lo up", errno);
	close(s);
}

static void private_network(char *dir)
{
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0)
		bench_die("unshare(CLONE_NEWNS | CLONE_NEWNET) (run as root)", errno);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		bench_die("making mounts private", errno);
	loopback_up();
	char path[96];
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		bench_die("writing resolv.conf", errno);
	fputs("nameserver 127.0.0.1\n", f);
	fclose(f);
	if (mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
		bench_die("bind-mounting /etc/resolv.conf", errno);
}

static pid_t start_dnsmasq(const char *dir)
{
	char pid[96];
	snprintf(pid, sizeof(pid), "--pid-file=%s/pid", dir);
	char *argv[] = {"dnsmasq", "-k", "--conf-file=/dev/null", "--user=root", "--no-resolv",
			"--no-hosts", "--local=/#/", "--listen-address=127.0.0.1",
			"--bind-interfaces", "--port=53", "--log-facility=-", pid,
			"--address=/bench.test/127.0.0.2", "--address=/bench.test/::1", NULL};
	pid_t p = fork();
	if (p < 0)
		bench_die("fork", errno);
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execv("/usr/sbin/dnsmasq", argv);
		execvp("dnsmasq", argv);
		_exit(127);
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	for (int i = 0; i < 600; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(s);
		if (ok)
			return p;
		if (waitpid(p, NULL, WNOHANG) == p)
			bench_die("dnsmasq exited (is dnsmasq-base installed?)", ECHILD);
		usleep(5000);
	}
	bench_die("dnsmasq did not come up", ETIMEDOUT);
	return -1;
}

/* ---- names and answers ---------------------------------------------------- */

static char **make_names(int n, const char *prefix, int round)
{
	char **v = malloc((size_t)n * sizeof(*v));
	if (!v)
		bench_die("malloc", ENOMEM);
	for (int i = 0; i < n; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%s%d-%d.bench.test", prefix, round, i);
		if (!(v[i] = strdup(buf)))
			bench_die("strdup", ENOMEM);
	}
	return v;
}

static void free_names(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};

/* Both families came back, and nothing else. */
static bool answer_ok(const struct addrinfo *res)
{
	int v4 = 0, v6 = 0;
	for (const struct addrinfo *p = res; p; p = p->ai_next) {
		if (p->ai_family == AF_INET &&
		    ((struct sockaddr_in *)p->ai_addr)->sin_addr.s_addr == htonl(0x7f000002))
			v4++;
		else if (p->ai_family == AF_INET6 &&
			 IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr))
			v6++;
		else
			return false;
	}
	return v4 == 1 && v6 == 1;
}

/* ---- contenders: each returns lookups per second ------------------------- */

struct job {
	char **names;
	int n;
	atomic_int next;
	atomic_int failed;
	int first_err;
};

static void *corio_one(void *arg)
{
	struct job *j = arg;
	int i = atomic_fetch_add(&j->next, 1);
	struct addrinfo *res = NULL;
	int err = corio_getaddrinfo(j->names[i], "80", &hints, &res);
	if (err || !answer_ok(res)) {
		if (!atomic_fetch_add(&j->failed, 1))
			j->first_err = err;
	}
	corio_freeaddrinfo(res);
	return NULL;
}

static void *corio_worker(void *arg)
{
	struct job *j = arg;
	while (atomic_load(&j->next) < j->n)
		corio_one(j);
	return NULL;
}

struct corio_run {
	struct job *job;
	int tasks; /* 0: one per name */
};

static void *corio_main(void *arg)
{
	struct corio_run *r = arg;
	int n = r->tasks ? r->tasks : r->job->n;
	for (int i = 0; i < n; i++)
		if (corio_spawn(NULL, r->tasks ? corio_worker : corio_one, r->job))
			bench_die("corio_spawn", ENOMEM);
	return NULL;
}

/* A fresh loop on backend @b with default options otherwise, timed from
 * its creation until it is freed (stacks and resolver included). */
static double run_corio(int b, char **names, int n, int tasks)
{
	struct job j = {.names = names, .n = n};
	struct corio_run r = {.job = &j, .tasks = tasks};
	uint64_t t0 = bench_now_ns();
	int err = bench_run_on(b, NULL, corio_main, &r, NULL);
	if (err)
		bench_die("running the loop", err);
	double s = (double)(bench_now_ns() - t0) / 1e9;
	if (j.failed) {
		fprintf(stderr, "bench-dns: corio: %d lookups failed, first: %s\n", j.failed,
			corio_strerror(j.first_err));
		exit(1);
	}
	return n / s;
}

static void glibc_one(struct job *j, int i)
{
	struct addrinfo *res = NULL;
	int err = getaddrinfo(j->names[i], "80", &hints, &res);
	if (err || !answer_ok(res)) {
		if (!atomic_fetch_add(&j->failed, 1))
			j->first_err = err;
	}
	if (!err)
		freeaddrinfo(res);
}

static void *pool_worker(void *arg)
{
	struct job *j = arg;
	int i;
	while ((i = atomic_fetch_add(&j->next, 1)) < j->n)
		glibc_one(j, i);
	return NULL;
}

static void check_glibc(const struct job *j, const char *who)
{
	if (j->failed) {
		fprintf(stderr, "bench-dns: %s: %d lookups failed, first: %s\n", who, j->failed,
			gai_strerror(j->first_err));
		exit(1);
	}
}

static double run_pool(char **names, int n, int threads)
{
	struct job j = {.names = names, .n = n};
	pthread_t tid[64];
	uint64_t t0 = bench_now_ns();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, pool_worker, &j))
			bench_die("pthread_create", EAGAIN);
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	double s = (double)(bench_now_ns() - t0) / 1e9;
	check_glibc(&j, "thread pool");
	return n / s;
}

static double run_sequential(char **names, int n)
{
	struct job j = {.names = names, .n = n};
	uint64_t t0 = bench_now_ns();
	for (int i = 0; i < n; i++)
		glibc_one(&j, i);
	double s = (double)(bench_now_ns() - t0) / 1e9;
	check_glibc(&j, "sequential");
	return n / s;
}

/* ---- report ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];
	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The contenders: corio in each shape on each backend, then glibc. */
enum { SHAPE_TASKS, SHAPE_EACH, NSHAPES };
enum { POOL = NSHAPES * BENCH_NBACKENDS, SEQ, NCONT };

static int corio_contender(int shape, int b)
{
	return shape * BENCH_NBACKENDS + b;
}

struct rounds {
	double v[NCONT][MAX_ROUNDS]; /* lookups/s per contender and round */
	int n;
};

static double med(const struct rounds *rs, int who)
{
	return median(rs->v[who], rs->n);
}

static void print_rounds(const char *who, const double *v, int n)
{
	printf(" %s=[", who);
	for (int i = 0; i < n; i++)
		printf("%s%.0f", i ? "," : "", v[i]);
	printf("]");
}

/* " min:WHO=V max:WHO=V": the spread of @who's rounds (bench/report.py). */
static void print_spread(const char *who, const double *v, int n)
{
	double lo = v[0], hi = v[0];
	for (int i = 1; i < n; i++) {
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	printf(" min:%s=%.0f max:%s=%.0f", who, lo, who, hi);
}

/* The verdict of backend @b in @shape against the pool's target. */
static const char *verdict(const struct rounds *rs, int shape, int b)
{
	if (shape != SHAPE_TASKS)
		return "INFO";
	return med(rs, corio_contender(shape, b)) / med(rs, POOL) >= TARGET_VS_POOL ? "PASS"
										    : "FAIL";
}

/* One line per shape (bench.h), its rounds below. */
static void print_line(const struct cfg *c, const struct rounds *rs, int shape)
{
	const char *peer[2];
	char pool_key[32];
	snprintf(pool_key, sizeof(pool_key), "gai_pool%d", c->threads);
	peer[0] = pool_key;
	peer[1] = "gai_sequential";
	int u = corio_contender(shape, BENCH_URING), e = corio_contender(shape, BENCH_EPOLL);
	printf("dns.getaddrinfo_per_s names=%d tasks=", c->names);
	if (shape == SHAPE_TASKS)
		printf("%d", c->tasks);
	else
		printf("each");
	printf(" unit=lookups/s better=higher corio_uring=%.0f corio_epoll=%.0f %s=%.0f %s=%.0f",
	       med(rs, u), med(rs, e), peer[0], med(rs, POOL), peer[1], med(rs, SEQ));
	for (int k = 0; k < 2; k++)
		printf(" uring:%s=%.2f epoll:%s=%.2f", peer[k], med(rs, u) / med(rs, POOL + k),
		       peer[k], med(rs, e) / med(rs, POOL + k));
	printf(" uring:epoll=%.2f", med(rs, u) / med(rs, e));
	if (shape == SHAPE_TASKS)
		printf(" target:%s>=%g uring=%s epoll=%s", peer[0], TARGET_VS_POOL,
		       verdict(rs, shape, BENCH_URING), verdict(rs, shape, BENCH_EPOLL));
	print_spread("corio_uring", rs->v[u], rs->n);
	print_spread("corio_epoll", rs->v[e], rs->n);
	print_spread(peer[0], rs->v[POOL], rs->n);
	print_spread(peer[1], rs->v[SEQ], rs->n);
	printf("\n#  rounds:");
	print_rounds("corio_uring", rs->v[u], rs->n);
	print_rounds("corio_epoll", rs->v[e], rs->n);
	print_rounds(peer[0], rs->v[POOL], rs->n);
	print_rounds(peer[1], rs->v[SEQ], rs->n);
	printf("\n");
	fflush(stdout);
}

static void parse_args(int argc, char **argv, struct cfg *c)
{
	*c = (struct cfg){.rounds = 5, .names = 10000, .threads = 8, .tasks = 64, .quick = true};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quick")) {
			c->quick = true;
		} else if (!strcmp(a, "--full")) {
			c->quick = false;
		} else if (!strcmp(a, "--rounds") && v) {
			c->rounds = atoi(v), i++;
		} else if (!strcmp(a, "--names") && v) {
			c->names = atoi(v), i++;
		} else if (!strcmp(a, "--tasks") && v) {
			c->tasks = atoi(v), i++;
		} else if (!strcmp(a, "--threads") && v) {
			c->threads = atoi(v), i++;
		} else {
			fprintf(stderr, "usage: bench-dns [--quick|--full] [--rounds N] "
					"[--names N] [--threads N] [--tasks N]\n");
			exit(2);
		}
	}
	if (c->rounds < 1 || c->rounds > MAX_ROUNDS || c->names < 1 || c->threads < 1 ||
	    c->threads > 64 || c->tasks < 1) {
		fprintf(stderr, "bench-dns: rounds 1..%d, names >= 1, threads 1..64, tasks >= 1\n",
			MAX_ROUNDS);
		exit(2);
	}
}

/* Contender @who resolves @names once; lookups per second. */
static double run_contender(const struct cfg *c, int who, char **names)
{
	if (who == POOL)
		return run_pool(names, c->names, c->threads);
	if (who == SEQ)
		return run_sequential(names, c->names);
	int tasks = who / BENCH_NBACKENDS == SHAPE_TASKS ? c->tasks : 0;
	return run_corio(who % BENCH_NBACKENDS, names, c->names, tasks);
}

/* One round: every contender once, on names of its own, in an order that
 * rotates with the round (the machine is shared and noisy). */
static void round_once(const struct cfg *c, struct rounds *rs)
{
	int r = rs->n;
	for (int k = 0; k < NCONT; k++) {
		int who = (k + r) % NCONT;
		char prefix[8];
		snprintf(prefix, sizeof(prefix), "c%d-", who);
		char **names = make_names(c->names, prefix, r);
		rs->v[who][r] = run_contender(c, who, names);
		free_names(names, c->names);
	}
	rs->n = r + 1;
}

static void report(const struct cfg *c, const struct rounds *rs)
{
	for (int shape = 0; shape < NSHAPES; shape++)
		print_line(c, rs, shape);
	printf("\n| figure | unit | corio io_uring | corio epoll | glibc getaddrinfo, %d threads "
	       "| glibc getaddrinfo, sequential | io_uring vs epoll | vs %d threads (io_uring / "
	       "epoll) | vs sequential (io_uring / epoll) | target vs %d threads | result "
	       "(io_uring/epoll) |\n",
	       c->threads, c->threads, c->threads);
	printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (int shape = 0; shape < NSHAPES; shape++) {
		int u = corio_contender(shape, BENCH_URING), e = corio_contender(shape, BENCH_EPOLL);
		char what[96], tgt[32] = "-";
		if (shape == SHAPE_TASKS) {
			snprintf(what, sizeof(what), "%d names, %d corio tasks", c->names, c->tasks);
			snprintf(tgt, sizeof(tgt), ">= %g", TARGET_VS_POOL);
		} else {
			snprintf(what, sizeof(what), "%d names, a corio task each", c->names);
		}
		printf("| %s | lookups/s | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f / %.2f | "
		       "%.2f / %.2f | %s | %s/%s |\n",
		       what, med(rs, u), med(rs, e), med(rs, POOL), med(rs, SEQ),
		       med(rs, u) / med(rs, e), med(rs, u) / med(rs, POOL),
		       med(rs, e) / med(rs, POOL), med(rs, u) / med(rs, SEQ),
		       med(rs, e) / med(rs, SEQ), tgt, verdict(rs, shape, BENCH_URING),
		       verdict(rs, shape, BENCH_EPOLL));
	}
	printf("\nMedians of %d rounds; each round every contender resolves %d distinct names "
	       "(A and AAAA) from one dnsmasq on 127.0.0.1:53 in a private network namespace. "
	       "corio: one loop per run, on the backend named, default resolver options "
	       "otherwise; both sides read the same bind-mounted /etc/resolv.conf, /etc/hosts "
	       "and /etc/nsswitch.conf. \"A vs B\" is A's lookups/s over B's: above 1, A is "
	       "better.\n",
	       c->rounds, c->names);
}

static void cleanup(pid_t dnsmasq, const char *dir)
{
	kill(dnsmasq, SIGTERM);
	waitpid(dnsmasq, NULL, 0);
	umount("/etc/resolv.conf");
	char path[96];
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/pid", dir);
	unlink(path);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	struct cfg c;
	parse_args(argc, argv, &c);
	if (geteuid() != 0) {
		fprintf(stderr, "bench-dns: needs root for a private network namespace "
				"(glibc only talks to port 53 from /etc/resolv.conf); skipped\n");
		return 77;
	}
	char dir[] = "/tmp/corio-bench-dns-XXXXXX";
	if (!mkdtemp(dir))
		bench_die("mkdtemp", errno);
	private_network(dir);
	pid_t dnsmasq = start_dnsmasq(dir);
	char **warm = make_names(300, "w", 0); /* first lookups read files, load NSS */
	run_corio(BENCH_URING, warm, 100, c.tasks);
	run_corio(BENCH_EPOLL, warm + 100, 100, c.tasks);
	run_pool(warm + 200, 100, c.threads);
	free_names(warm, 300);
	printf("# bench-dns: %s mode, %d rounds, %d names per contender and round, "
	       "glibc pool of %d threads, %d corio tasks, nproc %ld\n",
	       c.quick ? "quick" : "full", c.rounds, c.names, c.threads, c.tasks,
	       sysconf(_SC_NPROCESSORS_ONLN));
	static struct rounds rs;
	while (rs.n < c.rounds)
		round_once(&c, &rs);
	report(&c, &rs);
	cleanup(dnsmasq, dir);
	return 0;
}
