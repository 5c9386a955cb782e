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
 * corio runs twice: 64 tasks taking names from the list as the 8 threads
 * do (64 is the resolver's default number of lookups in flight), and one
 * task per name, all 10 000 spawned at once (the cost of 10 000 stacks
 * then shows).  Contenders alternate their order each round.
 *
 *   bench-dns [--quick|--full] [--rounds N] [--names N] [--threads N] [--tasks N]
 */
#include <corio.h>

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

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench-dns: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* ---- the private network ------------------------------------------------ */

static void loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("reading lo's flags", errno);
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("bringing lo up", errno);
	close(s);
}

static void private_network(char *dir)
{
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0)
		die("unshare(CLONE_NEWNS | CLONE_NEWNET) (run as root)", errno);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("making mounts private", errno);
	loopback_up();
	char path[96];
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		die("writing resolv.conf", errno);
	fputs("nameserver 127.0.0.1\n", f);
	fclose(f);
	if (mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
		die("bind-mounting /etc/resolv.conf", errno);
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
		die("fork", errno);
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
			die("dnsmasq exited (is dnsmasq-base installed?)", ECHILD);
		usleep(5000);
	}
	die("dnsmasq did not come up", ETIMEDOUT);
	return -1;
}

/* ---- names and answers ---------------------------------------------------- */

static char **make_names(int n, const char *prefix, int round)
{
	char **v = malloc((size_t)n * sizeof(*v));
	if (!v)
		die("malloc", ENOMEM);
	for (int i = 0; i < n; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%s%d-%d.bench.test", prefix, round, i);
		if (!(v[i] = strdup(buf)))
			die("strdup", ENOMEM);
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
			die("corio_spawn", ENOMEM);
	return NULL;
}

/* A fresh loop with default options, timed from its first spawn until
 * it is freed (stacks and resolver included). */
static double run_corio(char **names, int n, int tasks)
{
	struct job j = {.names = names, .n = n};
	struct corio_run r = {.job = &j, .tasks = tasks};
	corio_loop *l;
	uint64_t t0 = now_ns();
	int err = corio_loop_new(&l, NULL);
	if (err)
		die("corio_loop_new", err);
	if ((err = corio_spawn_ex(l, NULL, corio_main, &r, NULL)) || (err = corio_loop_run(l)) ||
	    (err = corio_loop_free(l)))
		die("running the loop", err);
	double s = (double)(now_ns() - t0) / 1e9;
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
	uint64_t t0 = now_ns();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, pool_worker, &j))
			die("pthread_create", EAGAIN);
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	double s = (double)(now_ns() - t0) / 1e9;
	check_glibc(&j, "thread pool");
	return n / s;
}

static double run_sequential(char **names, int n)
{
	struct job j = {.names = names, .n = n};
	uint64_t t0 = now_ns();
	for (int i = 0; i < n; i++)
		glibc_one(&j, i);
	double s = (double)(now_ns() - t0) / 1e9;
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

static void print_rounds(const char *who, const double *v, int n)
{
	printf(" %s=[", who);
	for (int i = 0; i < n; i++)
		printf("%s%.0f", i ? "," : "", v[i]);
	printf("]");
}

static const char *figure(const char *key, const double *corio, const double *peer, int n,
			  double target)
{
	double c = median(corio, n), p = median(peer, n), r = c / p;
	const char *verdict = !target ? "INFO" : r >= target ? "PASS" : "FAIL";
	printf("%s corio=%.0f peer=%.0f ratio=%.2f", key, c, p, r);
	if (target)
		printf(" target>=%g", target);
	printf(" %s\n#  rounds:", verdict);
	print_rounds("corio", corio, n);
	print_rounds("peer", peer, n);
	printf("\n");
	fflush(stdout);
	return verdict;
}

static void parse_args(int argc, char **argv, struct cfg *c)
{
	*c = (struct cfg){.rounds = 3, .names = 10000, .threads = 8, .tasks = 64, .quick = true};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quick")) {
			c->quick = true;
		} else if (!strcmp(a, "--full")) {
			c->quick = false;
			c->rounds = 5;
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

/* One round: every contender once, on names of its own, in an order that
 * rotates with the round (the machine is shared and noisy). */
static void round_once(const struct cfg *c, int r, double *co, double *each, double *pool,
		       double *seq)
{
	char **names[4] = {make_names(c->names, "c", r), make_names(c->names, "e", r),
			   make_names(c->names, "p", r), make_names(c->names, "s", r)};
	for (int k = 0; k < 4; k++) {
		switch ((k + r) % 4) {
		case 0: co[r] = run_corio(names[0], c->names, c->tasks); break;
		case 1: each[r] = run_corio(names[1], c->names, 0); break;
		case 2: pool[r] = run_pool(names[2], c->names, c->threads); break;
		case 3: seq[r] = run_sequential(names[3], c->names); break;
		}
	}
	for (int k = 0; k < 4; k++)
		free_names(names[k], c->names);
}

static void table_row(const char *what, const double *corio, const double *peer, int n,
		      const char *peer_is, double target, const char *verdict)
{
	char tgt[32] = "-";
	if (target)
		snprintf(tgt, sizeof(tgt), ">= %g", target);
	printf("| %s | lookups/s | %.0f | %.0f | %s | %.2fx | %s | %s |\n", what, median(corio, n),
	       median(peer, n), peer_is, median(corio, n) / median(peer, n), tgt, verdict);
}

static void report(const struct cfg *c, const double *co, const double *each,
		   const double *pool, const double *seq)
{
	char key[64], what[96], peer[64];
	snprintf(key, sizeof(key), "dns.getaddrinfo_vs_pool%d", c->threads);
	const char *v1 = figure(key, co, pool, c->rounds, TARGET_VS_POOL);
	snprintf(key, sizeof(key), "dns.getaddrinfo_task_each_vs_pool%d", c->threads);
	const char *v2 = figure(key, each, pool, c->rounds, 0);
	const char *v3 = figure("dns.getaddrinfo_vs_sequential", co, seq, c->rounds, 0);
	printf("\n| figure | unit | corio | peer | peer is | corio advantage | target | result |\n");
	printf("|---|---|---:|---:|---|---:|---:|---|\n");
	snprintf(peer, sizeof(peer), "glibc getaddrinfo, %d threads", c->threads);
	snprintf(what, sizeof(what), "%d names, %d corio tasks", c->names, c->tasks);
	table_row(what, co, pool, c->rounds, peer, TARGET_VS_POOL, v1);
	snprintf(what, sizeof(what), "%d names, a corio task each", c->names);
	table_row(what, each, pool, c->rounds, peer, 0, v2);
	snprintf(what, sizeof(what), "%d names, %d corio tasks", c->names, c->tasks);
	table_row(what, co, seq, c->rounds, "glibc getaddrinfo, sequential", 0, v3);
	printf("\nMedians of %d rounds; each round every contender resolves %d distinct names "
	       "(A and AAAA) from one dnsmasq on 127.0.0.1:53 in a private network namespace. "
	       "corio: one loop, default resolver options; both sides read the same "
	       "bind-mounted /etc/resolv.conf, /etc/hosts and /etc/nsswitch.conf.\n",
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
		die("mkdtemp", errno);
	private_network(dir);
	pid_t dnsmasq = start_dnsmasq(dir);
	char **warm = make_names(200, "w", 0); /* first lookups read files, load NSS */
	run_corio(warm, 100, c.tasks);
	run_pool(warm + 100, 100, c.threads);
	free_names(warm, 200);
	printf("# bench-dns: %s mode, %d rounds, %d names per contender and round, "
	       "glibc pool of %d threads, %d corio tasks, nproc %ld\n",
	       c.quick ? "quick" : "full", c.rounds, c.names, c.threads, c.tasks,
	       sysconf(_SC_NPROCESSORS_ONLN));
	double co[MAX_ROUNDS], each[MAX_ROUNDS], pool[MAX_ROUNDS], seq[MAX_ROUNDS];
	for (int r = 0; r < c.rounds; r++)
		round_once(&c, r, co, each, pool, seq);
	report(&c, co, each, pool, seq);
	cleanup(dnsmasq, dir);
	return 0;
}
