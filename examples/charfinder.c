/* SPDX-License-Identifier: MIT */
/*
 * examples/charfinder.c - the Unicode character finder of Fluent Python
 * as a TCP service.  At start it reads UnicodeData.txt (Debian's
 * unicode-data package) with corio's file reads and builds an inverted
 * index: each word of a character name maps to the code points whose name
 * has it.  Each client gets a "?> " prompt; a query's words are looked up
 * and the lists intersected; the answer is one line per character,
 * "U+XXXX<TAB>char<TAB>NAME", then a status line "N found".  An empty line
 * or a control character ends the session, and so do the idle and read
 * timeouts: a client that goes quiet, or sends its query a byte at a time,
 * does not hold its task forever.
 *
 *   charfinder [-f UnicodeData.txt] [-i SECONDS] [-r SECONDS] [host [port]]
 *                                  (default 127.0.0.1 2323)
 *   then:  nc 127.0.0.1 2323       ?> cat face
 */
#include <corio.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UCD_PATH "/usr/share/unicode/UnicodeData.txt"
#define MAX_WORDS 16
#define NS_PER_S 1000000000ull

/* ---- the inverted index --------------------------------------------------- */

struct posting {
	char *word;
	uint32_t *cps; /* code points, ascending (the file is sorted) */
	size_t n, cap;
};

struct index {
	struct posting *slots; /* open addressing, power-of-two size */
	size_t cap, used;
	char **names;          /* name by code point, for the answers */
	size_t nchars;
};

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static struct posting *slot(struct index *ix, const char *w, size_t n)
{
	for (size_t i = hash(w, n) & (ix->cap - 1);; i = (i + 1) & (ix->cap - 1)) {
		struct posting *p = &ix->slots[i];
		if (!p->word || (strlen(p->word) == n && !memcmp(p->word, w, n)))
			return p;
	}
}

static int add_word(struct index *ix, const char *w, size_t n, uint32_t cp)
{
	struct posting *p = slot(ix, w, n);
	if (!p->word) {
		if (!(p->word = strndup(w, n)))
			return -ENOMEM;
		ix->used++;
	}
	if (p->n && p->cps[p->n - 1] == cp)
		return 0; /* a word twice in one name */
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 4;
		uint32_t *v = realloc(p->cps, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->cps = v;
		p->cap = cap;
	}
	p->cps[p->n++] = cp;
	return 0;
}

/* Words are runs of letters and digits, as Python's \w+ on these names. */
static int index_name(struct index *ix, const char *name, uint32_t cp)
{
	for (const char *p = name; *p;) {
		while (*p && !isalnum((unsigned char)*p))
			p++;
		const char *w = p;
		while (isalnum((unsigned char)*p))
			p++;
		if (p > w && add_word(ix, w, (size_t)(p - w), cp))
			return -ENOMEM;
	}
	return 0;
}

/* One line of UnicodeData.txt: "0041;LATIN CAPITAL LETTER A;Lu;...". */
static int index_line(struct index *ix, char *line)
{
	char *semi = strchr(line, ';');
	if (!semi)
		return 0;
	uint32_t cp = (uint32_t)strtoul(line, NULL, 16);
	char *name = semi + 1, *end = strchr(name, ';');
	if (!end || *name == '<' || cp >= ix->nchars)
		return 0; /* <control>, <CJK Ideograph, First>, ...: no name to find */
	*end = 0;
	if (!(ix->names[cp] = strdup(name)))
		return -ENOMEM;
	return index_name(ix, name, cp);
}

/* ---- reading the file with corio ------------------------------------------ */

static int read_all(const char *path, char **data, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t cap = 1 << 21, n = 0;
	char *buf = malloc(cap + 1);
	ssize_t r = 0;
	while (buf && (r = corio_read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap) {
			char *b = realloc(buf, cap * 2 + 1);
			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
	}
	close(fd);
	if (!buf || r != 0) {
		free(buf);
		return r < 0 ? (int)r : -ENOMEM;
	}
	buf[n] = 0;
	*data = buf;
	*len = n;
	return 0;
}

static int build_index(struct index *ix, const char *path)
{
	char *data = NULL;
	size_t len = 0;
	int err = read_all(path, &data, &len);
	if (err)
		return err;
	ix->cap = 1 << 16;
	ix->nchars = 0x110000;
	ix->slots = calloc(ix->cap, sizeof(*ix->slots));
	ix->names = calloc(ix->nchars, sizeof(*ix->names));
	if (!ix->slots || !ix->names)
		err = -ENOMEM;
	for (char *line = data, *nl; !err && line < data + len; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = data + len;
		*nl = 0;
		err = index_line(ix, line);
	}
	free(data);
	return err;
}

/* ---- searching ------------------------------------------------------------- */

/* Code points whose names have every word of @query (upper-cased in
 * place); *@out is malloc'd.  Return: how many, or -ENOMEM. */
static ssize_t search(struct index *ix, char *query, uint32_t **out)
{
	struct posting *lists[MAX_WORDS];
	int nw = 0;
	for (char *p = query; *p && nw < MAX_WORDS;) {
		while (*p && !isalnum((unsigned char)*p))
			p++;
		char *w = p;
		for (; isalnum((unsigned char)*p); p++)
			*p = (char)toupper((unsigned char)*p);
		if (p == w)
			break;
		struct posting *l = slot(ix, w, (size_t)(p - w));
		if (!l->word)
			return 0; /* a word no name has */
		lists[nw++] = l;
	}
	if (!nw)
		return 0;
	uint32_t *res = malloc(lists[0]->n * sizeof(*res));
	if (!res)
		return -ENOMEM;
	size_t n = lists[0]->n;
	memcpy(res, lists[0]->cps, n * sizeof(*res));
	for (int k = 1; k < nw; k++) { /* intersect sorted lists */
		size_t i = 0, j = 0, m = 0;
		while (i < n && j < lists[k]->n) {
			if (res[i] < lists[k]->cps[j])
				i++;
			else if (res[i] > lists[k]->cps[j])
				j++;
			else
				res[m++] = res[i++], j++;
		}
		n = m;
	}
	*out = res;
	return (ssize_t)n;
}

static size_t utf8(uint32_t cp, char *out)
{
	if (cp < 0x80)
		return out[0] = (char)cp, 1;
	if (cp < 0x800)
		return out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f)), 2;
	if (cp < 0x10000)
		return out[0] = (char)(0xe0 | cp >> 12), out[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
		       out[2] = (char)(0x80 | (cp & 0x3f)), 3;
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Write the answer to @query; return how many characters matched. */
static ssize_t answer(corio_stream *s, struct index *ix, char *query)
{
	uint32_t *cps = NULL;
	ssize_t n = search(ix, query, &cps);
	if (n < 0)
		return n;
	char line[512], ch[5];
	for (ssize_t i = 0; i < n; i++) {
		size_t k = utf8(cps[i], ch);
		ch[k] = 0;
		int len = snprintf(line, sizeof(line), "U+%04X\t%s\t%s\r\n", (unsigned)cps[i], ch,
				   ix->names[cps[i]]);
		if (corio_stream_write(s, line, (size_t)len) < 0)
			break; /* writes block only at the high-water mark */
	}
	free(cps);
	int len = snprintf(line, sizeof(line), "%zd found\r\n", n);
	corio_stream_write(s, line, (size_t)len);
	return n;
}

/* ---- the service ------------------------------------------------------------ */

/* The query without its line end; NULL to end the session: end of
 * stream, an empty line, a control character (Ctrl-C or Ctrl-D from
 * telnet) or bytes that are not text. */
static char *query_of(const char *line, ssize_t n)
{
	if (n <= 0 || line[n - 1] != '\n')
		return NULL;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (n == 0 || (unsigned char)line[0] < 32 || (unsigned char)line[0] >= 0xf8)
		return NULL;
	return strndup(line, (size_t)n);
}

static void *finder(void *arg)
{
	corio_conn *c = arg;
	struct index *ix = c->arg;
	char who[NI_MAXHOST + NI_MAXSERV + 2], host[NI_MAXHOST], serv[NI_MAXSERV];
	if (getnameinfo((struct sockaddr *)&c->peer, c->peer_len, host, sizeof(host), serv,
			sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(who, sizeof(who), "?");
	else
		snprintf(who, sizeof(who), "%s:%s", host, serv);
	ssize_t n = 0;
	for (;;) {
		const char *line;
		if (corio_stream_write(c->stream, "?> ", 3) < 0 || corio_stream_flush(c->stream))
			break;
		n = corio_stream_readline(c->stream, &line);
		char *query = query_of(line, n);
		if (!query)
			break;
		printf("  From %s: '%s'\n", who, query);
		n = answer(c->stream, ix, query);
		free(query);
		if (n < 0 || corio_stream_flush(c->stream))
			break;
		printf("  To %s: %zd results.\n", who, n);
	}
	printf("Close %s%s.\n", who, n == -ETIMEDOUT ? " (timed out)" : "");
	return NULL;
}

struct args {
	const char *host, *port;
	const char *ucd_path;      /* UnicodeData.txt */
	uint64_t idle_ns, read_ns; /* the server's stream timeouts */
	struct index ix;
};

static void *supervisor(void *arg)
{
	struct args *a = arg;
	printf("Building index.\n");
	int err = build_index(&a->ix, a->ucd_path);
	if (err) {
		fprintf(stderr, "charfinder: %s: %s%s\n", a->ucd_path, corio_strerror(err),
			strcmp(a->ucd_path, UCD_PATH) ? "" : " (apt-get install unicode-data)");
		return CORIO_ERR_PTR(err);
	}
	int lfd = corio_tcp_listen(a->host, a->port, 128, 0);
	if (lfd < 0) {
		fprintf(stderr, "charfinder: cannot listen on %s:%s: %s\n", a->host, a->port,
			corio_strerror(lfd));
		return CORIO_ERR_PTR(lfd);
	}
	printf("Serving on %s:%d. Hit CTRL-C to stop.\n", a->host, corio_sock_port(lfd));
	corio_serve_options o = {
		.stop_signals = (const int[]){SIGINT, SIGTERM, 0},
		.grace_ns = 1000ull * 1000 * 1000,
		/* the idle timeout drops a silent client; a trickle of bytes is
		 * progress, so only the read timeout ends a line that never ends */
		.idle_timeout_ns = a->idle_ns,
		.read_timeout_ns = a->read_ns,
		.arg = &a->ix,
	};
	err = corio_serve(lfd, finder, &o);
	corio_close(lfd);
	return err ? CORIO_ERR_PTR(err) : NULL;
}

static void index_free(struct index *ix)
{
	for (size_t i = 0; ix->slots && i < ix->cap; i++) {
		free(ix->slots[i].word);
		free(ix->slots[i].cps);
	}
	for (size_t i = 0; ix->names && i < ix->nchars; i++)
		free(ix->names[i]);
	free(ix->slots);
	free(ix->names);
}

static void usage(FILE *f)
{
	fputs("usage: charfinder [-f FILE] [-i SECONDS] [-r SECONDS] [HOST [PORT]]\n"
	      "Serve Unicode character names to telnet or nc on HOST (default\n"
	      "127.0.0.1) and PORT (default 2323; 0 picks a free port, shown at\n"
	      "start).  Ctrl-C stops the server gracefully.\n"
	      "  -f, --file FILE             the names (default " UCD_PATH ")\n"
	      "  -i, --idle-timeout SECONDS  drop a client when nothing moves for\n"
	      "                              this long (default 60)\n"
	      "  -r, --read-timeout SECONDS  drop a client whose query line takes\n"
	      "                              longer than this (default 120)\n"
	      "  -h, --help                  show this help\n",
	      f);
}

/* @s seconds (> 0, at most a day) in *@ns; -1 if @s is not such a number. */
static int parse_timeout(const char *s, uint64_t *ns)
{
	char *end;
	double secs = strtod(s, &end);
	if (end == s || *end || !(secs > 0 && secs <= 86400))
		return -1;
	*ns = (uint64_t)(secs * (double)NS_PER_S);
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{"file", required_argument, NULL, 'f'},
		{"idle-timeout", required_argument, NULL, 'i'},
		{"read-timeout", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "f:i:r:h", longopts, NULL)) != -1) {
		if (opt == 'h')
			return usage(stdout), 0;
		if (opt == 'f') {
			a->ucd_path = optarg;
			continue;
		}
		uint64_t *to = opt == 'i' ? &a->idle_ns : opt == 'r' ? &a->read_ns : NULL;
		if (!to)
			return usage(stderr), 2;
		if (parse_timeout(optarg, to)) {
			fprintf(stderr, "charfinder: %s: not a number of seconds in (0, 86400]\n",
				optarg);
			return usage(stderr), 2;
		}
	}
	if (argc - optind > 2)
		return usage(stderr), 2;
	if (optind < argc)
		a->host = argv[optind];
	if (optind + 1 < argc)
		a->port = argv[optind + 1];
	return -1; /* go on and serve */
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct args a = {
		.host = "127.0.0.1",
		.port = "2323",
		.ucd_path = UCD_PATH,
		.idle_ns = 60 * NS_PER_S,
		.read_ns = 120 * NS_PER_S,
	};
	int status = parse_args(argc, argv, &a);
	if (status >= 0)
		return status;
	void *res = NULL;
	int err = corio_run(supervisor, &a, &res);
	index_free(&a.ix);
	if (err || corio_is_err(res))
		return 1;
	printf("\nServer shut down.\n");
	return 0;
}
