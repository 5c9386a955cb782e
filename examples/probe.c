/* SPDX-License-Identifier: MIT */
/*
 * probe.c - the domain probe from Fluent Python's asyncio chapter, in C:
 * for every C keyword of at most four letters, look up "<keyword>.dev",
 * all at once, one task each, and print "+ name" for those that resolve
 * and "  name" for those that don't, in the order the answers come back.
 * Each task reads like the blocking code it replaces: corio_getaddrinfo()
 * suspends only the task that called it.
 *
 *   probe [--server HOST:PORT]   e.g. --server 127.0.0.1:5353
 *
 * The README shows how to run it offline against a local dnsmasq.
 */
#include <corio.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYWORD_LEN 4
#define PROBE_TIMEOUT_NS (10 * 1000000000ull)

static const char *const keywords[] = {
	"auto", "break", "case", "char", "const", "continue", "default", "do",
	"double", "else", "enum", "extern", "float", "for", "goto", "if",
	"inline", "int", "long", "register", "restrict", "return", "short",
	"signed", "sizeof", "static", "struct", "switch", "typedef", "union",
	"unsigned", "void", "volatile", "while",
};
#define NKEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

struct probe {
	char domain[32];
};

/* Look one domain up; print it the moment the answer is known. */
static void *probe(void *arg)
{
	struct probe *p = arg;
	struct addrinfo *res = NULL;
	corio_scope deadline; /* a name no server answers for ends too */
	corio_timeout_push(&deadline, corio_now() + PROBE_TIMEOUT_NS);
	int err = corio_getaddrinfo(p->domain, NULL, NULL, &res);
	corio_timeout_pop(&deadline);
	printf("%c %s\n", err ? ' ' : '+', p->domain);
	fflush(stdout);
	corio_freeaddrinfo(res);
	return NULL;
}

static void *main_task(void *arg)
{
	const char *server = arg;
	if (server) {
		int err = corio_dns_set_servers(corio_current_loop(), server);
		if (err) {
			fprintf(stderr, "probe: --server %s: %s\n", server, corio_strerror(err));
			return CORIO_ERR_PTR(err);
		}
	}
	static struct probe probes[NKEYWORDS];
	corio_task *tasks[NKEYWORDS];
	size_t n = 0;
	for (size_t i = 0; i < NKEYWORDS; i++) {
		if (strlen(keywords[i]) > MAX_KEYWORD_LEN)
			continue;
		snprintf(probes[n].domain, sizeof(probes[n].domain), "%s.dev", keywords[i]);
		if (corio_spawn(&tasks[n], probe, &probes[n]) == 0)
			n++;
	}
	for (size_t i = 0; i < n; i++)
		corio_join(tasks[i], NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *server = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--server") && i + 1 < argc) {
			server = argv[++i];
		} else {
			fprintf(stderr, "usage: probe [--server HOST:PORT]\n");
			return 2;
		}
	}
	void *result = NULL;
	int err = corio_run(main_task, (void *)server, &result);
	if (err) {
		fprintf(stderr, "probe: %s\n", corio_strerror(err));
		return 1;
	}
	return corio_is_err(result) ? 1 : 0;
}
