/*
 * JSON at the boundary: a parse that refuses what cJSON alone would let
 * through (deep nesting, trailing bytes, invalid UTF-8, NUL characters),
 * a table-driven check of an object's members, and RFC 3339 times.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/core/json.h"
#include "common/core/util.h"

/* ------------------------------------------------------------ parse */

size_t
sbx_json_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* The length a sequence announces by its first byte; 1 when it is no lead. */
static size_t
utf8_lead_len(unsigned char c)
{
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 1;
}

/*
 * The length a sequence announces decides the cut, not whether it is
 * complete: text that was already cut short by bytes (a truncated
 * vsnprintf) ends in a lead byte without all of its continuation bytes,
 * and that partial character must go too.
 */
size_t
sbx_json_utf8_cut(const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, want, have;

	while (u[i] != '\0') {
		want = utf8_lead_len(u[i]);
		if (i + want > max)
			return i;
		have = strnlen(s + i, want);
		if (want > 1 && sbx_json_utf8_len(u + i, have) != want)
			want = 1;	/* invalid: one byte, kept as it was */
		i += want;
	}
	return i;
}

size_t
sbx_json_vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
	int n;
	size_t keep;

	if (len == 0)
		return 0;
	n = vsnprintf(buf, len, fmt, ap);
	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	if ((size_t)n < len)
		return (size_t)n;
	keep = sbx_json_utf8_cut(buf, len - 1);
	buf[keep] = '\0';
	return keep;
}

size_t
sbx_json_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = sbx_json_vfmt(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

/*
 * One pass over the raw text before cJSON sees it. cJSON recurses once per
 * level (up to its own limit of 1000), and it would decode "\u0000" into a
 * NUL that silently cuts a string short, and pass invalid UTF-8 through to
 * our logs and answers. Depth is counted outside strings only, with
 * escapes honoured, so "[" inside a string does not count.
 */
static enum sbx_err
prescan(const char *text, size_t len, char *detail, size_t detail_len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, k;
	int depth = 0, in_string = 0;

	while (i < len) {
		unsigned char c = s[i];

		if (c == '\0') {
			snprintf(detail, detail_len,
			    "NUL byte at offset %lu", (unsigned long)i);
			return SBX_EPARSE;
		}
		if (c >= 0x80) {
			if ((k = sbx_json_utf8_len(s + i, len - i)) == 0) {
				snprintf(detail, detail_len,
				    "invalid UTF-8 at offset %lu",
				    (unsigned long)i);
				return SBX_EPARSE;
			}
			i += k;
			continue;
		}
		if (in_string) {
			if (c == '"')
				in_string = 0;
			else if (c == '\\' && i + 1 < len) {
				if (s[i + 1] == 'u' && i + 6 <= len &&
				    memcmp(s + i + 2, "0000", 4) == 0) {
					snprintf(detail, detail_len,
					    "\\u0000 in a string at offset %lu",
					    (unsigned long)i);
					return SBX_EPARSE;
				}
				i++;	/* the escaped character is not special */
			}
		} else if (c == '"') {
			in_string = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > SBX_JSON_MAX_DEPTH) {
				snprintf(detail, detail_len,
				    "nesting deeper than %d levels",
				    SBX_JSON_MAX_DEPTH);
				return SBX_EPARSE;
			}
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
		i++;
	}
	return SBX_OK;
}

enum sbx_err
sbx_json_parse(const char *text, size_t len, cJSON **out, char *detail,
    size_t detail_len)
{
	char *copy = NULL;
	const char *end = NULL;
	cJSON *root = NULL;
	enum sbx_err rc;

	*out = NULL;
	if (detail_len > 0)
		detail[0] = '\0';
	if (text == NULL || len == 0) {
		snprintf(detail, detail_len, "empty body");
		return SBX_EPARSE;
	}
	if ((rc = prescan(text, len, detail, detail_len)) != SBX_OK)
		return rc;

	/*
	 * cJSON only refuses trailing bytes when it finds the terminating
	 * NUL inside the length it was given, so parse a terminated copy
	 * and count the NUL in the length (the prescan made sure there is
	 * no other).
	 */
	if ((copy = malloc(len + 1)) == NULL) {
		snprintf(detail, detail_len, "out of memory");
		return SBX_ENOMEM;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 1);
	if (root == NULL) {
		unsigned long at = end != NULL && end >= copy &&
		    end <= copy + len ? (unsigned long)(end - copy) :
		    (unsigned long)len;

		snprintf(detail, detail_len, "malformed JSON near offset %lu",
		    at);
		rc = SBX_EPARSE;
		goto out;
	}
	*out = root;
	rc = SBX_OK;
out:
	free(copy);
	return rc;
}

/* ------------------------------------------------------------ check */

static const char *
type_phrase(enum sbx_ftype t)
{
	switch (t) {
	case SBX_F_STRING:
		return "must be a string";
	case SBX_F_INT:
		return "must be an integer";
	case SBX_F_BOOL:
		return "must be true or false";
	case SBX_F_OBJECT:
		return "must be an object";
	case SBX_F_ARRAY:
		return "must be an array";
	case SBX_F_TIME:
		return "must be an RFC 3339 time such as 2026-11-26T10:00:00Z";
	case SBX_F_AMOUNT:
		return "must be a number >= 0, or null";
	}
	return "has the wrong type";
}

static int
bounded(const struct sbx_field *f)
{
	return f->min != 0 || f->max != 0;
}

int
sbx_json_whole(const cJSON *item, double lo, double hi, long long *out)
{
	double d;
	long long n;

	if (!cJSON_IsNumber(item))
		return 0;
	d = item->valuedouble;
	/* 2^63 is exact as a double, so the upper test is exact too. */
	if (!isfinite(d) || d < lo || d > hi ||
	    d < -9223372036854775808.0 || d >= 9223372036854775808.0)
		return 0;
	n = (long long)d;
	if ((double)n != d)
		return 0;	/* it had a fraction */
	*out = n;
	return 1;
}

static int
count_children(const cJSON *item)
{
	const cJSON *c;
	int n = 0;

	for (c = item->child; c != NULL; c = c->next)
		n++;
	return n;
}

/* Checks one member against its field; 0 and a detail if it fails. */
static int
check_member(const cJSON *item, const struct sbx_field *f, char *detail,
    size_t detail_len)
{
	long long n;
	size_t len;

	switch (f->type) {
	case SBX_F_INT:
		if (!sbx_json_whole(item, -HUGE_VAL, HUGE_VAL, &n)) {
			if (bounded(f))
				snprintf(detail, detail_len,
				    "%s: must be an integer between %lld and "
				    "%lld", f->name, f->min, f->max);
			else
				snprintf(detail, detail_len, "%s: %s",
				    f->name, type_phrase(f->type));
			return 0;
		}
		if (bounded(f) && (n < f->min || n > f->max)) {
			snprintf(detail, detail_len,
			    "%s: must be between %lld and %lld", f->name,
			    f->min, f->max);
			return 0;
		}
		return 1;
	case SBX_F_BOOL:
		if (!cJSON_IsBool(item))
			goto type;
		return 1;
	case SBX_F_AMOUNT:
		if (cJSON_IsNull(item))
			return 1;
		if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) ||
		    item->valuedouble < 0 || item->valuedouble > 1e12)
			goto type;
		return 1;
	case SBX_F_OBJECT:
	case SBX_F_ARRAY:
		if (f->type == SBX_F_OBJECT ? !cJSON_IsObject(item) :
		    !cJSON_IsArray(item))
			goto type;
		n = count_children(item);
		if (bounded(f) && (n < f->min || n > f->max)) {
			snprintf(detail, detail_len,
			    "%s: must have between %lld and %lld %s", f->name,
			    f->min, f->max,
			    f->type == SBX_F_OBJECT ? "members" : "items");
			return 0;
		}
		return 1;
	case SBX_F_STRING:
	case SBX_F_TIME:
		if (!cJSON_IsString(item) || item->valuestring == NULL)
			goto type;
		len = strlen(item->valuestring);
		if (bounded(f) && ((long long)len < f->min ||
		    (long long)len > f->max)) {
			snprintf(detail, detail_len,
			    "%s: must be between %lld and %lld bytes long",
			    f->name, f->min, f->max);
			return 0;
		}
		if (f->type == SBX_F_TIME && !sbx_time_valid(item->valuestring))
			goto type;
		if (f->valid != NULL && !f->valid(item->valuestring)) {
			if (f->hint != NULL)
				snprintf(detail, detail_len, "%s: must be %s",
				    f->name, f->hint);
			else
				snprintf(detail, detail_len,
				    "%s: is not a valid value", f->name);
			return 0;
		}
		return 1;
	}
type:
	snprintf(detail, detail_len, "%s: %s", f->name, type_phrase(f->type));
	return 0;
}

enum sbx_err
sbx_json_check(const cJSON *obj, const struct sbx_field *fields, size_t n,
    const char **bad_field, char *detail, size_t detail_len)
{
	const cJSON *item, *other;
	const struct sbx_field *f;
	size_t i;

	*bad_field = NULL;
	if (detail_len > 0)
		detail[0] = '\0';
	if (!cJSON_IsObject(obj)) {
		snprintf(detail, detail_len, "the body must be a JSON object");
		return SBX_EINVAL;
	}

	for (item = obj->child; item != NULL; item = item->next) {
		if (item->string == NULL)
			return SBX_EINVAL;	/* cJSON never makes one */
		for (f = NULL, i = 0; i < n; i++)
			if (strcmp(fields[i].name, item->string) == 0) {
				f = &fields[i];
				break;
			}
		if (f == NULL) {
			*bad_field = item->string;
			sbx_json_fmt(detail, detail_len, "%s: unknown field",
			    item->string);
			return SBX_EINVAL;
		}
		/*
		 * cJSON keeps duplicate keys and its getters return the
		 * first; refuse them so that no two readers of one body
		 * can disagree about its value.
		 */
		for (other = obj->child; other != item; other = other->next)
			if (strcmp(other->string, item->string) == 0) {
				*bad_field = f->name;
				snprintf(detail, detail_len,
				    "%s: appears more than once", f->name);
				return SBX_EINVAL;
			}
		if (!check_member(item, f, detail, detail_len)) {
			*bad_field = f->name;
			return SBX_EINVAL;
		}
	}

	for (i = 0; i < n; i++)
		if (fields[i].required &&
		    cJSON_GetObjectItemCaseSensitive(obj, fields[i].name) ==
		    NULL) {
			*bad_field = fields[i].name;
			snprintf(detail, detail_len, "%s: is required",
			    fields[i].name);
			return SBX_EINVAL;
		}
	return SBX_OK;
}

/* ------------------------------------------------------------ getters */

const char *
sbx_json_str(const cJSON *obj, const char *name, const char *def)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(item) && item->valuestring != NULL ?
	    item->valuestring : def;
}

long long
sbx_json_int(const cJSON *obj, const char *name, long long def)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	long long n;

	return sbx_json_whole(item, -HUGE_VAL, HUGE_VAL, &n) ? n : def;
}

int
sbx_json_bool(const cJSON *obj, const char *name, int def)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsBool(item) ? cJSON_IsTrue(item) : def;
}

void
sbx_json_add_str_or_null(cJSON *obj, const char *name, const char *value)
{
	if (value != NULL)
		cJSON_AddStringToObject(obj, name, value);
	else
		cJSON_AddNullToObject(obj, name);
}

char *
sbx_json_print(const cJSON *item)
{
	return item != NULL ? cJSON_PrintUnformatted(item) : NULL;
}

/* ------------------------------------------------------------ streamed */

/*
 * The bytes cJSON escapes in a string (print_string_ptr): '"', '\\' and
 * every control character, the usual five by name, the others as
 * \u00XX (lower-case hex). Everything else, UTF-8 included, is copied.
 */
static int
needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

int
sbx_json_buf_str(struct sbx_util_buf *b, const char *s)
{
	const unsigned char *p, *run;
	char e[7];

	if (s == NULL)
		return sbx_util_buf_addn(b, "null", 4);
	sbx_util_buf_addn(b, "\"", 1);
	for (p = run = (const unsigned char *)s; *p != '\0'; p++) {
		if (!needs_escape(*p))
			continue;
		if (p > run)
			sbx_util_buf_addn(b, run, (size_t)(p - run));
		e[0] = '\\';
		switch (*p) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default:
			snprintf(e + 1, sizeof(e) - 1, "u%04x", *p);
			sbx_util_buf_addn(b, e, 6);
			run = p + 1;
			continue;
		}
		sbx_util_buf_addn(b, e, 2);
		run = p + 1;
	}
	if (p > run)
		sbx_util_buf_addn(b, run, (size_t)(p - run));
	return sbx_util_buf_addn(b, "\"", 1);
}

int
sbx_json_buf_item(struct sbx_util_buf *b, const cJSON *item)
{
	char *text;
	int rc;

	if (item == NULL)
		return sbx_util_buf_addn(b, "null", 4);
	if ((text = cJSON_PrintUnformatted(item)) == NULL) {
		if (b->err == SBX_OK)
			b->err = SBX_ENOMEM;
		return -1;
	}
	rc = sbx_util_buf_add(b, text);
	free(text);
	return rc;
}

/*
 * A string at p that cJSON would print back unchanged: no control
 * character and only the escapes it writes itself (not \u nor \/,
 * which it would decode and print otherwise). Returns the byte after
 * the closing quote, or NULL when the string is not such a one.
 */
static const char *
plain_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (;; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;		/* NUL (the end) included */
		if (c == '\\') {
			p++;
			if (*p != '"' && *p != '\\' && *p != 'b' &&
			    *p != 'f' && *p != 'n' && *p != 'r' && *p != 't')
				return NULL;
		}
	}
}

/*
 * The copy without a parse: {"name": "value", ...} with JSON whitespace
 * anywhere, nothing after it but whitespace. 1 when it was copied, 0 when
 * the text is anything else (nothing was added then).
 */
static int
flat_object_copy(struct sbx_util_buf *b, const char *text)
{
	const char *p = sbx_util_skip_blank(text), *k, *ke, *v, *ve;
	size_t start = b->len;

	if (*p++ != '{')
		return 0;
	p = sbx_util_skip_blank(p);
	sbx_util_buf_addn(b, "{", 1);
	if (*p == '}')
		p++;
	else
		for (;;) {
			k = p;
			if ((ke = plain_string(k)) == NULL)
				goto no;
			p = sbx_util_skip_blank(ke);
			if (*p++ != ':')
				goto no;
			v = sbx_util_skip_blank(p);
			if ((ve = plain_string(v)) == NULL)
				goto no;
			sbx_util_buf_addn(b, k, (size_t)(ke - k));
			sbx_util_buf_addn(b, ":", 1);
			sbx_util_buf_addn(b, v, (size_t)(ve - v));
			p = sbx_util_skip_blank(ve);
			if (*p == '}') {
				p++;
				break;
			}
			if (*p++ != ',')
				goto no;
			p = sbx_util_skip_blank(p);
			sbx_util_buf_addn(b, ",", 1);
		}
	if (*sbx_util_skip_blank(p) != '\0')
		goto no;
	sbx_util_buf_addn(b, "}", 1);
	return 1;
no:
	/* Take back what was added: the slow path starts afresh. */
	if (b->err == SBX_OK) {
		b->len = start;
		b->p[start] = '\0';
	}
	return 0;
}

int
sbx_json_buf_object_text(struct sbx_util_buf *b, const char *text)
{
	cJSON *v;
	int rc;

	if (text == NULL)
		return sbx_util_buf_addn(b, "null", 4);
	if (flat_object_copy(b, text))
		return b->err == SBX_OK ? 0 : -1;
	v = cJSON_Parse(text);
	if (v == NULL || !cJSON_IsObject(v))
		rc = sbx_util_buf_addn(b, "null", 4);
	else
		rc = sbx_json_buf_item(b, v);
	cJSON_Delete(v);
	return rc;
}

/* ------------------------------------------------------------ time */

/* n digits at *p as a number; advances *p. -1 if any is not a digit. */
static int
digits(const char **p, int n)
{
	int v = 0;

	for (; n > 0; n--, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

static int
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * RFC 3339 section 5.6 date-time, strictly: four-digit year, two-digit
 * fields, 'T' (or 't') between date and time, optional fraction, then
 * 'Z' (or 'z') or +HH:MM / -HH:MM. A leap second (:60) is refused, as
 * Go's and Python's parsers do: no client of ours has a use for one.
 */
enum sbx_err
sbx_time_parse(const char *text, long long *epoch)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	const char *p = text;
	int y, mo, d, h, mi, s, oh = 0, om = 0, sign = 0, nfrac = 0;
	struct tm tm;
	time_t t;

	if (p == NULL || strlen(p) > 64)
		return SBX_EPARSE;
	if ((y = digits(&p, 4)) < 0 || *p++ != '-' ||
	    (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 0 || (*p != 'T' && *p != 't'))
		return SBX_EPARSE;
	p++;
	if ((h = digits(&p, 2)) < 0 || *p++ != ':' ||
	    (mi = digits(&p, 2)) < 0 || *p++ != ':' ||
	    (s = digits(&p, 2)) < 0)
		return SBX_EPARSE;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			nfrac++;
		if (nfrac == 0 || nfrac > 9)
			return SBX_EPARSE;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if ((oh = digits(&p, 2)) < 0 || *p++ != ':' ||
		    (om = digits(&p, 2)) < 0 || oh > 23 || om > 59)
			return SBX_EPARSE;
	} else
		return SBX_EPARSE;
	if (*p != '\0')
		return SBX_EPARSE;

	if (y < 1 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)) ||
	    h > 23 || mi > 59 || s > 59)
		return SBX_EPARSE;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	t = timegm(&tm);
	/* The fraction is dropped: times here have whole-second precision. */
	*epoch = (long long)t - (long long)sign * (oh * 3600 + om * 60);
	return SBX_OK;
}

/*
 * Years outside 1..9999 have no RFC 3339 form; they give "" (as does a
 * buffer too small), never a string sbx_time_parse would refuse. The
 * fields are printed by hand because strftime's %Y does not pad to four
 * digits.
 */
/*
 * Without gmtime_r and snprintf: a list prints four times per row, and
 * those two were a tenth of its worker's time. The date is Howard
 * Hinnant's civil_from_days (proleptic Gregorian, as gmtime's).
 */
void
sbx_time_format(long long epoch, char *buf, size_t len)
{
	long long days, secs, z, era, doe, yoe, y, doy, mp, d, m;
	int i;
	char *o;

	if (buf == NULL || len == 0)
		return;
	buf[0] = '\0';
	/* Years 1..9999 only: also keeps the arithmetic below in range. */
	if (len < 21 || epoch < -62135596800LL || epoch > 253402300799LL)
		return;
	days = epoch / 86400;
	secs = epoch % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	o = buf;
	for (i = 3; i >= 0; i--, y /= 10)
		o[i] = (char)('0' + y % 10);
	o[4] = '-';
	o[5] = (char)('0' + m / 10);
	o[6] = (char)('0' + m % 10);
	o[7] = '-';
	o[8] = (char)('0' + d / 10);
	o[9] = (char)('0' + d % 10);
	o[10] = 'T';
	o[11] = (char)('0' + secs / 36000);
	o[12] = (char)('0' + secs / 3600 % 10);
	o[13] = ':';
	o[14] = (char)('0' + secs % 3600 / 600);
	o[15] = (char)('0' + secs % 3600 / 60 % 10);
	o[16] = ':';
	o[17] = (char)('0' + secs % 60 / 10);
	o[18] = (char)('0' + secs % 10);
	o[19] = 'Z';
	o[20] = '\0';
}

int
sbx_time_valid(const char *text)
{
	long long epoch;

	return sbx_time_parse(text, &epoch) == SBX_OK;
}
