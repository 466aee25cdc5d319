/*
 * JSON helpers over cJSON: a depth-checked parse, and typed field
 * validation driven by a table each route declares. Handlers only ever
 * see bodies that passed their table: a string where a number is
 * expected, a fraction where an integer is, an unknown field, or a value
 * out of bounds is an error naming the field, never a conversion.
 */
#ifndef SBX_JSON_H
#define SBX_JSON_H

#include <stdarg.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "common/core/err.h"

/* Deepest nesting of objects and arrays accepted in a request body. */
#define SBX_JSON_MAX_DEPTH 32

enum sbx_ftype {
	SBX_F_STRING,
	SBX_F_INT,		/* a JSON number with no fractional part */
	SBX_F_BOOL,
	SBX_F_OBJECT,
	SBX_F_ARRAY,
	SBX_F_TIME,		/* a string holding an RFC 3339 time */
	SBX_F_AMOUNT		/* a finite number >= 0, or null (an amount) */
};

struct sbx_field {
	const char *name;
	enum sbx_ftype type;
	int required;
	/*
	 * Bounds: for SBX_F_INT the value, for SBX_F_STRING the length in
	 * bytes, for SBX_F_OBJECT/ARRAY the number of members. Both 0 means
	 * no bound.
	 */
	long long min;
	long long max;
	/* Optional extra check of a string's value; returns 1 when valid. */
	int (*valid)(const char *value);
	/* What a valid value looks like, for the error's detail. */
	const char *hint;
};

/*
 * Parses len bytes of text into *out (caller frees with cJSON_Delete).
 * Refuses nesting deeper than SBX_JSON_MAX_DEPTH and trailing garbage.
 * Returns SBX_EPARSE with a short reason in detail.
 */
enum sbx_err sbx_json_parse(const char *text, size_t len, cJSON **out,
    char *detail, size_t detail_len);

/*
 * Checks that obj is an object whose members all appear in fields[0..n)
 * with the declared type and bounds, and that every required one is
 * present. On failure returns SBX_EINVAL, sets *bad_field to the offending
 * name (static storage: the table's or the object's, valid while obj
 * lives; NULL when obj is not an object) and writes a sentence into
 * detail. A member that appears twice is refused too.
 */
enum sbx_err sbx_json_check(const cJSON *obj, const struct sbx_field *fields,
    size_t n, const char **bad_field, char *detail, size_t detail_len);

/* Typed getters for checked objects; fall back to def when absent. */
const char *sbx_json_str(const cJSON *obj, const char *name, const char *def);
long long sbx_json_int(const cJSON *obj, const char *name, long long def);

/* 2^53 - 1: the largest whole number every double below holds exactly. */
#define SBX_JSON_EXACT_MAX 9007199254740991.0

/*
 * 1 when item is a JSON number holding a whole value in [lo, hi] (and in
 * a long long's range), stored in *out; 0 otherwise (out untouched). The
 * one check of "an integral number" (claims, declarations, fields).
 */
int sbx_json_whole(const cJSON *item, double lo, double hi, long long *out);
int sbx_json_bool(const cJSON *obj, const char *name, int def);

/* Adds a string member, or null when value is NULL. */
void sbx_json_add_str_or_null(cJSON *obj, const char *name, const char *value);

/*
 * Length of the valid UTF-8 sequence at s (n > 0 bytes left): 1 to 4, or
 * 0 when it is invalid (overlong, a surrogate, past U+10FFFF, cut short).
 * Shared with the logger, which must never write invalid UTF-8 either.
 */
size_t sbx_json_utf8_len(const unsigned char *s, size_t n);

/*
 * The one way text is shortened wherever it may have come from a client
 * (a field name, a parameter, a remote error): how many bytes of the
 * NUL-terminated s to keep so that at most max bytes remain and the cut
 * falls on a character boundary, never inside a UTF-8 sequence. A byte
 * that starts no valid sequence counts as one character, so what was
 * already invalid stays as it was and only the cut is made safe.
 */
size_t sbx_json_utf8_cut(const char *s, size_t max);

/*
 * snprintf for text that may be shortened: when the result does not fit
 * in len bytes it is cut with sbx_json_utf8_cut, so buf never ends in
 * half a character. Returns the length written (not the length wanted).
 */
size_t sbx_json_fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t sbx_json_vfmt(char *buf, size_t len, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Serialises unformatted; caller frees with free(). NULL on ENOMEM. */
char *sbx_json_print(const cJSON *item);

/*
 * Writing JSON text straight into a growable string (util.h), for answers
 * too large to build as a cJSON tree first (a page of a list). Each prints
 * exactly the bytes cJSON_PrintUnformatted prints for the same value, so
 * a tree and a stream of one value are byte for byte the same. Each
 * returns 0, or -1 when the buffer failed (b->err says why).
 *
 * sbx_json_buf_str: s as a JSON string; null for NULL.
 * sbx_json_buf_object_text: a stored JSON object text as cJSON_Parse and
 * cJSON_PrintUnformatted would give it back (compact); null when text is
 * NULL or not an object. A flat object of plain strings is copied without
 * a parse; anything else goes through cJSON.
 * sbx_json_buf_item: item printed unformatted (null for NULL).
 */
struct sbx_util_buf;
int sbx_json_buf_str(struct sbx_util_buf *b, const char *s);
int sbx_json_buf_object_text(struct sbx_util_buf *b, const char *text);
int sbx_json_buf_item(struct sbx_util_buf *b, const cJSON *item);

/*
 * Time helpers: RFC 3339 (UTC, "2026-11-26T10:00:00Z") to and from
 * seconds since the epoch. sbx_time_parse accepts a "Z" or numeric
 * offset and optional fractional seconds; returns SBX_EPARSE otherwise.
 */
enum sbx_err sbx_time_parse(const char *text, long long *epoch);
/*
 * buf gets "YYYY-MM-DDTHH:MM:SSZ" (21 bytes with the NUL), or "" when the
 * year is outside 1..9999 or len is too short.
 */
void sbx_time_format(long long epoch, char *buf, size_t len);
int sbx_time_valid(const char *text);

#endif
