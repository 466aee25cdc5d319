/*
 * Structured logging: every line is one JSON object written to stderr with
 * a single write(2). Responders run as many processes sharing one stderr
 * (a pipe or a file opened O_APPEND), and one write per line is what keeps
 * their lines whole; a line no longer than PIPE_BUF is atomic on a pipe.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/core/json.h"
#include "common/core/log.h"

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

/* Copies src into dst (size n), truncated at a character boundary. */
static void
copy_bounded(char *dst, size_t n, const char *src)
{
	size_t len;

	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	len = strlen(src);
	if (len >= n) {
		len = n - 1;
		/* Do not cut a multi-byte character in two. */
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
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
	struct timespec ts;
	struct tm tm;
	char day[32];

	if (buf == NULL || len == 0)
		return;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, len, "%s.%03ldZ", day, (long)(ts.tv_nsec / 1000000));
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

/* Adds a string member, scrubbed to valid UTF-8; 0 on ENOMEM. */
static int
add_str(cJSON *obj, const char *name, const char *value)
{
	cJSON *item;

	if ((item = cJSON_AddStringToObject(obj, name, value)) == NULL)
		return 0;
	utf8_scrub(item->valuestring);
	return 1;
}

void
sbx_log_fields(enum sbx_log_level level, const char *module, const char *msg,
    cJSON *fields)
{
	cJSON *line = NULL, *item;
	char now[40], *text = NULL, *renamed = NULL, *grown;
	size_t len, n;

	if ((unsigned)level >= SBX_LOG__MAX || level < log_level)
		goto out;

	sbx_log_now(now, sizeof(now));
	if ((line = cJSON_CreateObject()) == NULL ||
	    !add_str(line, "time", now) ||
	    !add_str(line, "level", level_names[level]) ||
	    !add_str(line, "module", module != NULL ? module : "-") ||
	    !add_str(line, "msg", msg != NULL ? msg : ""))
		goto oom;
	if (log_request_id[0] != '\0' &&
	    !add_str(line, "request_id", log_request_id))
		goto oom;
	if (log_route[0] != '\0' && !add_str(line, "route", log_route))
		goto oom;

	/*
	 * Move the caller's fields over. A field may not replace one of the
	 * fixed keys above (a line must not lie about its time or level),
	 * so a clashing one is kept under an "x_" prefix instead.
	 */
	if (fields != NULL && cJSON_IsObject(fields)) {
		utf8_scrub_tree(fields->child);
		while ((item = fields->child) != NULL) {
			cJSON_DetachItemViaPointer(fields, item);
			if (item->string == NULL) {
				cJSON_Delete(item);
				continue;
			}
			if (cJSON_GetObjectItemCaseSensitive(line,
			    item->string) != NULL) {
				n = strlen(item->string) + 3;
				if ((renamed = malloc(n)) == NULL) {
					cJSON_Delete(item);
					goto oom;
				}
				snprintf(renamed, n, "x_%s", item->string);
				cJSON_AddItemToObject(line, renamed, item);
				free(renamed);
				renamed = NULL;
			} else
				cJSON_AddItemToObject(line, item->string, item);
		}
	}

	if ((text = cJSON_PrintUnformatted(line)) == NULL)
		goto oom;
	/* The newline goes in the same write as the object. */
	len = strlen(text);
	if ((grown = realloc(text, len + 2)) == NULL)
		goto oom;
	text = grown;
	text[len] = '\n';
	text[len + 1] = '\0';
	write_line(text, len + 1);
	goto out;

oom:
	write_line(oom_line, sizeof(oom_line) - 1);
out:
	free(text);
	cJSON_Delete(line);
	cJSON_Delete(fields);
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
