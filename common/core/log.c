/*
 * Structured logging: every line is one JSON object written to stderr with
 * a single write(2). Responders run as many processes sharing one stderr
 * (a pipe or a file opened O_APPEND), and one write per line is what keeps
 * their lines whole; a line no longer than PIPE_BUF is atomic on a pipe.
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/core/json.h"
#include "common/core/log.h"
#include "common/core/util.h"

static enum sbx_log_level log_level = SBX_LOG_INFO;

/*
 * The request being served. Both come from the client in the end (nginx
 * passes X-Request-Id on), so they are copied into bounded buffers and
 * made valid UTF-8 before they reach a log line.
 */
static char log_request_id[128];
static char log_route[256];

static const char *const level_names[SBX_LOG__MAX] = {
	[SBX_LOG_DEBUG] = "debug",
	[SBX_LOG_INFO] = "info",
	[SBX_LOG_WARN] = "warn",
	[SBX_LOG_ERROR] = "error",
};

/* Written when the line itself cannot be built: better than silence. */
static const char oom_line[] =
    "{\"level\":\"error\",\"module\":\"log\","
    "\"msg\":\"out of memory while logging\"}\n";

void
sbx_log_set_level(enum sbx_log_level level)
{
	if ((unsigned)level < SBX_LOG__MAX)
		log_level = level;
}

enum sbx_log_level
sbx_log_level_parse(const char *name)
{
	int i;

	if (name == NULL)
		return SBX_LOG__MAX;
	for (i = 0; i < SBX_LOG__MAX; i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (enum sbx_log_level)i;
	return SBX_LOG__MAX;
}

/*
 * Replaces, in place, each byte that does not start a valid UTF-8
 * sequence with '?', so that every line is valid JSON whatever a caller
 * or a client handed us. The length does not change.
 */
static void
utf8_scrub(char *s)
{
	size_t n, k;

	if (s == NULL)
		return;
	n = strlen(s);
	while (n > 0) {
		k = sbx_json_utf8_len((const unsigned char *)s, n);
		if (k == 0) {
			*s = '?';
			k = 1;
		}
		s += k;
		n -= k;
	}
}

/* Scrubs every key and string value of a caller's fields, recursively. */
static void
utf8_scrub_tree(cJSON *item)
{
	for (; item != NULL; item = item->next) {
		utf8_scrub(item->string);
		if (cJSON_IsString(item))
			utf8_scrub(item->valuestring);
		utf8_scrub_tree(item->child);
	}
}

/* Copies src into dst (size n), cut at a character, scrubbed. */
static void
copy_bounded(char *dst, size_t n, const char *src)
{
	sbx_util_copy_utf8(dst, n, src);
	utf8_scrub(dst);
}

void
sbx_log_set_request(const char *request_id, const char *route)
{
	copy_bounded(log_request_id, sizeof(log_request_id), request_id);
	copy_bounded(log_route, sizeof(log_route), route);
}

void
sbx_log_now(char *buf, unsigned long len)
{
	/* The date and time of the last second seen: formatted once. */
	static time_t last = (time_t)-1;
	static char day[32];
	struct timespec ts;
	struct tm tm;
	char full[40];
	size_t n;
	long ms;

	if (buf == NULL || len == 0)
		return;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
		buf[0] = '\0';
		return;
	}
	if (ts.tv_sec != last) {
		if (gmtime_r(&ts.tv_sec, &tm) == NULL ||
		    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
			last = (time_t)-1;
			buf[0] = '\0';
			return;
		}
		last = ts.tv_sec;
	}
	n = strlen(day);
	ms = (long)(ts.tv_nsec / 1000000);
	memcpy(full, day, n);
	full[n] = '.';
	full[n + 1] = (char)('0' + ms / 100);
	full[n + 2] = (char)('0' + ms / 10 % 10);
	full[n + 3] = (char)('0' + ms % 10);
	full[n + 4] = 'Z';
	full[n + 5] = '\0';
	n += 5;
	if (n >= len)
		n = len - 1;
	memcpy(buf, full, n);
	buf[n] = '\0';
}

/* Writes all of buf to stderr in one write(2) unless the kernel splits it. */
static void
write_line(const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDERR_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;		/* nowhere left to report it */
		}
		buf += n;
		len -= (size_t)n;
	}
}

/*
 * A line is built straight into a buffer, not as a cJSON tree printed
 * afterwards: every answer logs one access line, and the tree, its
 * allocations and its printing were over a third of a worker's own
 * instructions on GET /api/. The text is exactly what cJSON printed
 * (tests/unit/test_log.c compares the two): its string escapes, its
 * number formats, and the same UTF-8 scrubbing of keys and values.
 */
struct line {
	char *p;		/* buf, or a heap copy once it outgrew it */
	size_t len, cap;
	int oom;
	char buf[1024];
};

static void
line_init(struct line *l)
{
	l->p = l->buf;
	l->len = 0;
	l->cap = sizeof(l->buf);
	l->oom = 0;
}

static void
line_fini(struct line *l)
{
	if (l->p != l->buf)
		free(l->p);
}

/* Room for n more bytes; 0 (and l->oom) when it cannot grow. */
static int
line_room(struct line *l, size_t n)
{
	size_t cap;
	char *p;

	if (l->oom)
		return 0;
	if (l->len + n <= l->cap)
		return 1;
	for (cap = l->cap * 2; cap < l->len + n; cap *= 2)
		;
	if (l->p == l->buf) {
		if ((p = malloc(cap)) != NULL)
			memcpy(p, l->buf, l->len);
	} else
		p = realloc(l->p, cap);
	if (p == NULL) {
		l->oom = 1;
		return 0;
	}
	l->p = p;
	l->cap = cap;
	return 1;
}

static void
line_raw(struct line *l, const char *s, size_t n)
{
	if (line_room(l, n)) {
		memcpy(l->p + l->len, s, n);
		l->len += n;
	}
}

/*
 * s as a JSON string: each byte that does not start a valid UTF-8
 * sequence becomes '?', and the escapes are cJSON's (\" \\ \b \f \n \r
 * \t, \u00xx for other control characters, everything else as is).
 */
static void
line_str(struct line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s, *end, *run;
	size_t k;
	char esc[6];

	end = u + strlen(s);
	line_raw(l, "\"", 1);
	while (u < end) {
		/* Plain printable ASCII goes over in runs. */
		for (run = u; u < end && *u >= 32 && *u < 0x80 && *u != '"' &&
		    *u != '\\'; u++)
			;
		if (u > run)
			line_raw(l, (const char *)run, (size_t)(u - run));
		if (u == end)
			break;
		if (*u >= 0x80) {
			k = sbx_json_utf8_len(u, (size_t)(end - u));
			if (k == 0) {
				line_raw(l, "?", 1);
				k = 1;
			} else
				line_raw(l, (const char *)u, k);
			u += k;
			continue;
		}
		esc[0] = '\\';
		k = 2;
		switch (*u) {
		case '"': case '\\': esc[1] = (char)*u; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[*u >> 4];
			esc[5] = hex[*u & 15];
			k = 6;
			break;
		}
		line_raw(l, esc, k);
		u++;
	}
	line_raw(l, "\"", 1);
}

/* cJSON's valueint for a number (cJSON_SetNumberHelper). */
static int
number_int(double d)
{
	if (d >= INT_MAX)
		return INT_MAX;
	if (d <= (double)INT_MIN)
		return INT_MIN;
	return (int)d;
}

/* v in decimal, as "%d" prints it. */
static void
line_int(struct line *l, int v)
{
	char digits[16], *p = digits + sizeof(digits);
	unsigned long long u = v < 0 ? -(long long)v : (long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--p = '-';
	line_raw(l, p, (size_t)(digits + sizeof(digits) - p));
}

/* d as cJSON prints a number whose valueint is vi (print_number). */
static void
line_num(struct line *l, double d, int vi)
{
	char num[32], *end = NULL;
	double back, big;
	int n;

	if (isnan(d) || isinf(d))
		n = snprintf(num, sizeof(num), "null");
	else if (d == (double)vi) {
		line_int(l, vi);
		return;
	}
	else {
		n = snprintf(num, sizeof(num), "%1.15g", d);
		/* Printed again in full unless it reads back as d. */
		back = strtod(num, &end);
		if (end == num)
			back = d + 1;
		big = fabs(back) > fabs(d) ? fabs(back) : fabs(d);
		if (fabs(back - d) > big * DBL_EPSILON)
			n = snprintf(num, sizeof(num), "%1.17g", d);
	}
	if (n > 0)
		line_raw(l, num, (size_t)n);
}

/*
 * The keys already in a line. A field may not replace one (a line must
 * not lie about its time or level), so a clashing one is kept under an
 * "x_" prefix instead, as the cJSON version did. Only the first KEYS_MAX
 * keys shorter than KEY_MAX bytes are remembered; every key we log is.
 */
#define KEYS_MAX 48
#define KEY_MAX 64

struct keys {
	char k[KEYS_MAX][KEY_MAX];
	size_t n;
};

static int
keys_has(const struct keys *ks, const char *k)
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->k[i], k) == 0)
			return 1;
	return 0;
}

/* Remembers a key the line already has. */
static void
keys_add(struct keys *ks, const char *k)
{
	if (ks->n < KEYS_MAX && strlen(k) < KEY_MAX)
		memcpy(ks->k[ks->n++], k, strlen(k) + 1);
}

static int
ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* Writes ,"name": (name scrubbed, renamed on a clash) and remembers it. */
static void
line_key(struct line *l, struct keys *ks, const char *name)
{
	size_t n = strlen(name) + 3;
	char small[KEY_MAX + 2], *buf, *k;

	buf = n > sizeof(small) ? malloc(n) : small;
	if (buf == NULL) {
		l->oom = 1;
		return;
	}
	memcpy(buf, "x_", 2);
	memcpy(buf + 2, name, n - 2);
	if (!ascii(buf + 2))
		utf8_scrub(buf + 2);
	k = keys_has(ks, buf + 2) ? buf : buf + 2;
	if (l->len > 1)
		line_raw(l, ",", 1);
	line_str(l, k);
	line_raw(l, ":", 1);
	keys_add(ks, k);
	if (buf != small)
		free(buf);
}

/* A member whose value is a cJSON item, printed as cJSON prints it. */
static void
line_item(struct line *l, struct keys *ks, const cJSON *item)
{
	char *text;

	line_key(l, ks, item->string);
	if (cJSON_IsString(item))
		line_str(l, item->valuestring != NULL ? item->valuestring : "");
	else if (cJSON_IsNumber(item))
		line_num(l, item->valuedouble, item->valueint);
	else if (cJSON_IsNull(item))
		line_raw(l, "null", 4);
	else if (cJSON_IsTrue(item))
		line_raw(l, "true", 4);
	else if (cJSON_IsFalse(item))
		line_raw(l, "false", 5);
	else if ((text = cJSON_PrintUnformatted(item)) != NULL) {
		/* Objects and arrays: rare; their strings were scrubbed. */
		line_raw(l, text, strlen(text));
		free(text);
	} else
		l->oom = 1;
}

/*
 * The line's fixed members: time, level, module, msg, request, route.
 * Their keys and the time and level need no escaping.
 */
static void
line_start(struct line *l, struct keys *ks, enum sbx_log_level level,
    const char *module, const char *msg)
{
	char now[40];

	sbx_log_now(now, sizeof(now));
	ks->n = 0;
	line_raw(l, "{\"time\":\"", 9);
	line_raw(l, now, strlen(now));
	line_raw(l, "\",\"level\":\"", 11);
	line_raw(l, level_names[level], strlen(level_names[level]));
	line_raw(l, "\",\"module\":", 11);
	line_str(l, module != NULL ? module : "-");
	line_raw(l, ",\"msg\":", 7);
	line_str(l, msg != NULL ? msg : "");
	keys_add(ks, "time");
	keys_add(ks, "level");
	keys_add(ks, "module");
	keys_add(ks, "msg");
	if (log_request_id[0] != '\0') {
		line_raw(l, ",\"request_id\":", 14);
		line_str(l, log_request_id);
		keys_add(ks, "request_id");
	}
	if (log_route[0] != '\0') {
		line_raw(l, ",\"route\":", 9);
		line_str(l, log_route);
		keys_add(ks, "route");
	}
}

/* Closes the line and writes it, newline included, in one write(2). */
static void
line_end(struct line *l)
{
	line_raw(l, "}\n", 2);
	if (l->oom)
		write_line(oom_line, sizeof(oom_line) - 1);
	else
		write_line(l->p, l->len);
	line_fini(l);
}

void
sbx_log_fields(enum sbx_log_level level, const char *module, const char *msg,
    cJSON *fields)
{
	struct line l;
	struct keys ks;
	cJSON *item;

	if ((unsigned)level >= SBX_LOG__MAX || level < log_level)
		goto out;
	line_init(&l);
	line_start(&l, &ks, level, module, msg);
	if (fields != NULL && cJSON_IsObject(fields)) {
		utf8_scrub_tree(fields->child);
		for (item = fields->child; item != NULL; item = item->next)
			if (item->string != NULL)
				line_item(&l, &ks, item);
	}
	line_end(&l);
out:
	cJSON_Delete(fields);
}

void
sbx_log_kv(enum sbx_log_level level, const char *module, const char *msg,
    const struct sbx_log_kv *kv, size_t n)
{
	struct line l;
	struct keys ks;
	size_t i;

	if ((unsigned)level >= SBX_LOG__MAX || level < log_level)
		return;
	line_init(&l);
	line_start(&l, &ks, level, module, msg);
	for (i = 0; i < n; i++) {
		if (kv[i].name == NULL)
			continue;
		line_key(&l, &ks, kv[i].name);
		if (kv[i].num)
			line_num(&l, kv[i].value, number_int(kv[i].value));
		else if (kv[i].str != NULL)
			line_str(&l, kv[i].str);
		else
			line_raw(&l, "null", 4);
	}
	line_end(&l);
}

void
sbx_log(enum sbx_log_level level, const char *module, const char *fmt, ...)
{
	va_list ap;
	char small[512], *msg = small;
	int n;

	if ((unsigned)level >= SBX_LOG__MAX || level < log_level)
		return;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		snprintf(small, sizeof(small), "(unformattable message)");
	} else if ((size_t)n >= sizeof(small)) {
		if ((msg = malloc((size_t)n + 1)) == NULL) {
			/* Log what fitted rather than nothing. */
			msg = small;
		} else {
			va_start(ap, fmt);
			vsnprintf(msg, (size_t)n + 1, fmt, ap);
			va_end(ap);
		}
	}
	sbx_log_fields(level, module, msg, NULL);
	if (msg != small)
		free(msg);
}
