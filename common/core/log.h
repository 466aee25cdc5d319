/*
 * Structured logging: one JSON object per line on stderr, with the time in
 * UTC, the level, the module, the message and, while a request is being
 * served, its request id and route. Never pass a secret or a token here.
 *
 * The module argument: each .c file that logs defines its name once,
 * `#define MODULE "db"`, and passes MODULE.
 */
#ifndef SBX_LOG_H
#define SBX_LOG_H

#include <stddef.h>

#include <cjson/cJSON.h>

enum sbx_log_level {
	SBX_LOG_DEBUG,
	SBX_LOG_INFO,
	SBX_LOG_WARN,
	SBX_LOG_ERROR,
	SBX_LOG__MAX
};

/* Lines below this level are dropped (LOG_LEVEL; default info). */
void sbx_log_set_level(enum sbx_log_level level);
/* Parses "debug", "info", "warn", "error"; SBX_LOG__MAX when unknown. */
enum sbx_log_level sbx_log_level_parse(const char *name);

/*
 * The request being served, so that every line logged while serving it
 * carries its id and route. A worker serves one request at a time, so this
 * one piece of process state is safe; it is copied, NULL clears it.
 */
void sbx_log_set_request(const char *request_id, const char *route);

/* Logs a printf-formatted message. */
void sbx_log(enum sbx_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Logs a message with extra fields; takes ownership of fields (a cJSON
 * object, may be NULL) and frees it.
 */
void sbx_log_fields(enum sbx_log_level level, const char *module,
    const char *msg, cJSON *fields);

/*
 * One extra member of a line: a string (str; NULL prints null) or, with
 * num set, a number (value). name is the member's key.
 */
struct sbx_log_kv {
	const char *name;
	const char *str;
	double value;
	int num;
};

/*
 * Logs a message with n extra members, the same line sbx_log_fields
 * prints for an object holding them, without building one: for the
 * per-request access line.
 */
void sbx_log_kv(enum sbx_log_level level, const char *module,
    const char *msg, const struct sbx_log_kv *kv, size_t n);

/* Formats the current UTC time as RFC 3339 with milliseconds into buf. */
void sbx_log_now(char *buf, unsigned long len);

#endif
