/* SPDX-License-Identifier: MIT */
/*
 * probe.c - the domain probe from Fluent Python's asyncio chapter, in C:
 * for every C keyword of at most four letters, look up "<keyword>.dev",
 * all at once, one task each, and print "+ name" for those that resolve
 * and "  name" for those that don't, in the order the answers come back.
 * Each task reads like the blocking code it replaces: corio_getaddrinfo()
 * suspends only the task that called it.
 *
 * "Doesn't resolve" is an answer; a server that timed out, refused or
 * could not be reached gave none.  Such a lookup is reported on stderr,
 * saying which, and the exit status tells a script (see USAGE).
 *
 * The README shows how to run it offline against a local dnsmasq.
 */
#include <corio.h>

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYWORD_LEN 4
#define DEFAULT_TIMEOUT_S 10
#define MAX_TIMEOUT_S 3600

enum { STATUS_OK = 0, STATUS_NO_ANSWER = 1, STATUS_USAGE = 2 };

#define USAGE                                                                          \
	"usage: probe [--server LIST] [--timeout SECONDS]\n"                           \
	"Look up <keyword>.dev for each C keyword of up to four letters, all at\n"     \
	"once; print \"+ name\" for those that resolve, \"  name\" for those that\n"   \
	"don't.\n"                                                                     \
	"  --server LIST      DNS servers, e.g. 127.0.0.1:5353 or [::1]:53,1.1.1.1\n" \
	"                     (default: $CORIO_DNS_SERVERS, else /etc/resolv.conf)\n"  \
	"  --timeout SECONDS  give up on a name after this long (default 10)\n"        \
	"  -h, --help         this text\n"                                             \
	"Exit status: 0 every name got an answer (it resolves or it doesn't);\n"       \
	"1 some lookup got none: the server timed out, refused, or could not be\n"     \
	"reached (each is said on stderr), or the loop could not start;\n"             \
	"2 bad command line or server list.\n"

static const char *const keywords[] = {
	"auto", "break", "case", "char", "const", "continue", "default", "do",
	"double", "else", "enum", "extern", "float", "for", "goto", "if",
	"inline", "int", "long", "register", "restrict", "return", "short",
	"signed", "sizeof", "static", "struct", "switch", "typedef", "union",
	"unsigned", "void", "volatile", "while",
};
#define NKEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

struct config {
	const char *server;  /* --server, or NULL */
	unsigned timeout_s;  /* --timeout */
	size_t failed;       /* lookups that got no answer */
	bool bad_server;     /* the server list was refused */
};

struct probe {
	char domain[32];
	struct config *cfg;
};

/* The name exists, or the server said it doesn't. */
static bool answered(int err)
{
	return err == 0 || err == CORIO_ENOTFOUND || err == CORIO_ENODATA;
}

/* What happened to a lookup that got no answer, in a word. */
static const char *what_happened(int err)
{
	switch (err) {
	case CORIO_ETIMEOUT:
	case -ETIMEDOUT: return "timed out";
	case CORIO_EREFUSED: return "refused";
	case CORIO_ECONNECTION: return "unreachable";
	default: return "failed";
	}
}

/* Look one domain up; print it the moment the answer is known. */
static void *probe(void *arg)
{
	struct probe *p = arg;
	struct addrinfo *res = NULL;
	corio_scope deadline; /* a name no server answers for ends too */
	corio_timeout_push(&deadline, corio_now() + p->cfg->timeout_s * 1000000000ull);
	int err = corio_getaddrinfo(p->domain, NULL, NULL, &res);
	corio_timeout_pop(&deadline);
	corio_freeaddrinfo(res);
	if (answered(err)) {
		printf("%c %s\n", err ? ' ' : '+', p->domain);
		fflush(stdout);
	} else {
		fprintf(stderr, "probe: %s: %s (%s)\n", p->domain, what_happened(err),
			err == -ETIMEDOUT ? "no answer in time" : corio_strerror(err));
		p->cfg->failed++;
	}
	return NULL;
}

static void *main_task(void *arg)
{
	struct config *cfg = arg;
	if (cfg->server) {
		int err = corio_dns_set_servers(corio_current_loop(), cfg->server);
		if (err) {
			fprintf(stderr, "probe: --server %s: %s\n", cfg->server,
				corio_strerror(err));
			cfg->bad_server = err == -EINVAL;
			return CORIO_ERR_PTR(err);
		}
	}
	static struct probe probes[NKEYWORDS];
	corio_task *tasks[NKEYWORDS];
	size_t n = 0, names = 0;
	for (size_t i = 0; i < NKEYWORDS; i++) {
		if (strlen(keywords[i]) > MAX_KEYWORD_LEN)
			continue;
		struct probe *p = &probes[n];
		snprintf(p->domain, sizeof(p->domain), "%s.dev", keywords[i]);
		p->cfg = cfg;
		names++;
		int err = corio_spawn(&tasks[n], probe, p);
		if (!err) {
			n++;
		} else {
			fprintf(stderr, "probe: %s: %s\n", p->domain, corio_strerror(err));
			cfg->failed++;
		}
	}
	for (size_t i = 0; i < n; i++)
		corio_join(tasks[i], NULL);
	if (cfg->failed)
		fprintf(stderr, "probe: %zu of %zu lookups got no answer\n", cfg->failed,
			names);
	return NULL;
}

/* 1..MAX_TIMEOUT_S in decimal digits, or 0. */
static unsigned parse_seconds(const char *s)
{
	char *end;
	if (*s < '0' || *s > '9')
		return 0;
	unsigned long v = strtoul(s, &end, 10);
	return *end || v > MAX_TIMEOUT_S ? 0 : (unsigned)v;
}

/* 0, 1 for --help, or -1 (said why on stderr). */
static int parse_args(int argc, char **argv, struct config *cfg)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		if (strcmp(a, "--server") && strcmp(a, "--timeout")) {
			fprintf(stderr, "probe: unknown option %s\n", a);
			return -1;
		}
		if (!value) {
			fprintf(stderr, "probe: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--server")) {
			cfg->server = value;
		} else if (!(cfg->timeout_s = parse_seconds(value))) {
			fprintf(stderr, "probe: --timeout %s: not 1..%d seconds\n", value,
				MAX_TIMEOUT_S);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg = {.timeout_s = DEFAULT_TIMEOUT_S};
	int r = parse_args(argc, argv, &cfg);
	if (r) {
		fputs(USAGE, r > 0 ? stdout : stderr);
		return r > 0 ? STATUS_OK : STATUS_USAGE;
	}
	void *result = NULL;
	int err = corio_run(main_task, &cfg, &result);
	if (err) {
		fprintf(stderr, "probe: %s\n", corio_strerror(err));
		return STATUS_NO_ANSWER;
	}
	if (cfg.bad_server)
		return STATUS_USAGE;
	return corio_is_err(result) || cfg.failed ? STATUS_NO_ANSWER : STATUS_OK;
}
