/*
 * AWS Signature Version 4, the credential provider chain, the region and
 * service endpoints. See aws.h for the contracts.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/io/aws.h"
#include "common/core/config.h"
#include "common/core/crypto.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/core/util.h"

#define MODULE "aws"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define ECS_CREDENTIALS_BASE "http://169.254.170.2"
/* Container credentials come back fast or not at all. */
#define CONTAINER_TIMEOUT_MS 5000
/* Cache life of container credentials that state no Expiration. */
#define CONTAINER_NOEXPIRY_SECONDS 900
#define CREDENTIALS_FILE_MAX (1024 * 1024)
#define PRESIGN_MAX_EXPIRES 604800

/* ------------------------------------------------------------------ crypto */

static void
hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void
sbx_aws_sha256_hex(const void *data, size_t len, char out[65])
{
	/* Only on a broken libcrypto does it fail: an empty hash never verifies. */
	(void)sbx_crypto_sha256_hex(data, len, out);
}

static int
hmac(const unsigned char *key, size_t keylen, const char *msg,
    unsigned char out[32])
{
	return sbx_crypto_hmac_sha256(key, keylen, msg, strlen(msg), out) ==
	    SBX_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ signing */

static int
valid_token(const char *s)
{
	const unsigned char *p;

	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return 0;
	for (p = (const unsigned char *)s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-'))
			return 0;
	return 1;
}

static int
valid_creds(const struct sbx_aws_creds *c)
{
	return c != NULL && c->access_key_id != NULL &&
	    c->access_key_id[0] != '\0' && c->secret_access_key != NULL &&
	    c->secret_access_key[0] != '\0' &&
	    strpbrk(c->access_key_id, "/ \t\r\n,=") == NULL &&
	    (c->session_token == NULL || strpbrk(c->session_token, "\r\n") ==
	    NULL);
}

static int
format_time(long long now, char amz_date[17], char date[9])
{
	struct tm tm;
	time_t t = (time_t)now;

	if (now < 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(amz_date, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		return -1;
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	return 0;
}

static int
param_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	/* Entries are "name=value" already encoded: compare the name first. */
	const char *xe = strchr(*x, '='), *ye = strchr(*y, '=');
	size_t xn = (size_t)(xe - *x), yn = (size_t)(ye - *y);
	int c = memcmp(*x, *y, xn < yn ? xn : yn);

	if (c != 0)
		return c;
	if (xn != yn)
		return xn < yn ? -1 : 1;
	return strcmp(xe + 1, ye + 1);
}

enum sbx_err
sbx_aws_canonical_query(const struct sbx_aws_param *params, size_t nparams,
    char **out)
{
	struct sbx_util_buf one = { 0 }, all = { 0 };
	char **enc = NULL;
	size_t i, made = 0;
	enum sbx_err err = SBX_ENOMEM;

	*out = NULL;
	if (nparams > 0 && params == NULL)
		return SBX_EINVAL;
	if (nparams > 0 && (enc = calloc(nparams, sizeof(*enc))) == NULL)
		return SBX_ENOMEM;
	for (i = 0; i < nparams; i++) {
		if (params[i].name == NULL || params[i].name[0] == '\0') {
			err = SBX_EINVAL;
			goto out;
		}
		sbx_util_buf_add_pct(&one, params[i].name, 0);
		sbx_util_buf_add(&one, "=");
		sbx_util_buf_add_pct(&one, params[i].value ? params[i].value : "", 0);
		if ((enc[i] = sbx_util_buf_take(&one)) == NULL)
			goto out;
		made++;
	}
	/* Sorting the encoded bytes is what SigV4 asks for. */
	if (nparams > 1)
		qsort(enc, nparams, sizeof(*enc), param_cmp);
	for (i = 0; i < nparams; i++) {
		if (i > 0)
			sbx_util_buf_add(&all, "&");
		sbx_util_buf_add(&all, enc[i]);
	}
	if ((*out = sbx_util_buf_take(&all)) == NULL)
		goto out;
	err = SBX_OK;
out:
	for (i = 0; i < made; i++)
		sbx_util_wipe_free(enc[i]);
	free(enc);
	sbx_util_buf_fini(&one);
	sbx_util_buf_fini(&all);
	return err;
}

/* One header to sign: lower-case name, trimmed value, original order. */
struct hdr {
	char *name;
	char *value;
	size_t order;
};

static int
hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* A lower-case copy of a (checked) header name; NULL when out of memory. */
static char *
header_name(const char *name)
{
	char *s;
	size_t i;

	if ((s = strdup(name)) == NULL)
		return NULL;
	for (i = 0; s[i]; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
	return s;
}

/*
 * A copy of a (checked) value, trimmed, inner runs of blanks collapsed to
 * one space (SigV4's trimall); NULL when out of memory.
 */
static char *
header_value(const char *v)
{
	char *s, *o;
	const char *p;
	int space = 0;

	if ((s = malloc(strlen(v) + 1)) == NULL)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	for (p = v, o = s; *p; p++) {
		if (*p == ' ' || *p == '\t') {
			space = 1;
			continue;
		}
		if (space && o != s)
			*o++ = ' ';
		space = 0;
		*o++ = *p;
	}
	*o = '\0';
	return s;
}

static enum sbx_err
hdr_add(struct hdr *h, size_t *n, const char *name, const char *value)
{
	if (name == NULL || name[0] == '\0' ||
	    strpbrk(name, ": \t\r\n") != NULL || value == NULL ||
	    strpbrk(value, "\r\n") != NULL)
		return SBX_EINVAL;
	h[*n].name = header_name(name);
	h[*n].value = header_value(value);
	h[*n].order = *n;
	if (h[*n].name == NULL || h[*n].value == NULL) {
		free(h[*n].name);
		sbx_util_wipe_free(h[*n].value);
		return SBX_ENOMEM;
	}
	(*n)++;
	return SBX_OK;
}

/*
 * The core of SigV4 once the request is canonical: string to sign,
 * signing key, signature.
 */
static enum sbx_err
sign_canonical(const char *creq, const char *amz_date, const char *date,
    const char *region, const char *service,
    const struct sbx_aws_creds *creds, struct sbx_aws_sig *sig)
{
	struct sbx_util_buf sts = { 0 }, key = { 0 };
	char creq_hash[65];
	unsigned char k[32], s[32];
	enum sbx_err err = SBX_EINTERNAL;

	sbx_aws_sha256_hex(creq, strlen(creq), creq_hash);
	sbx_util_buf_add(&sts, ALGORITHM "\n");
	sbx_util_buf_add(&sts, amz_date);
	sbx_util_buf_add(&sts, "\n");
	sbx_util_buf_add(&sts, date);
	sbx_util_buf_add(&sts, "/");
	sbx_util_buf_add(&sts, region);
	sbx_util_buf_add(&sts, "/");
	sbx_util_buf_add(&sts, service);
	sbx_util_buf_add(&sts, "/aws4_request\n");
	sbx_util_buf_add(&sts, creq_hash);
	sbx_util_buf_add(&key, "AWS4");
	sbx_util_buf_add(&key, creds->secret_access_key);
	if (sts.err != SBX_OK || key.err != SBX_OK) {
		err = SBX_ENOMEM;
		goto out;
	}
	if (hmac((unsigned char *)key.p, key.len, date, k) != 0 ||
	    hmac(k, 32, region, k) != 0 ||
	    hmac(k, 32, service, k) != 0 ||
	    hmac(k, 32, "aws4_request", k) != 0 ||
	    hmac(k, 32, sts.p, s) != 0)
		goto out;
	hex_encode(s, 32, sig->signature);
	memcpy(sig->amz_date, amz_date, 17);
	if ((sig->string_to_sign = sbx_util_buf_take(&sts)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	err = SBX_OK;
out:
	sbx_util_wipe(k, sizeof(k));
	sbx_util_wipe(s, sizeof(s));
	sbx_util_buf_fini(&key);
	sbx_util_buf_fini(&sts);
	return err;
}

static int
valid_req(const struct sbx_aws_sign_req *r, const struct sbx_aws_creds *creds)
{
	return r != NULL && r->method != NULL && r->method[0] != '\0' &&
	    strpbrk(r->method, " \t\r\n") == NULL && r->host != NULL &&
	    r->host[0] != '\0' && strpbrk(r->host, "/ \t\r\n") == NULL &&
	    valid_token(r->region) && valid_token(r->service) &&
	    valid_creds(creds) && (r->nquery == 0 || r->query != NULL) &&
	    (r->nheaders == 0 || r->headers != NULL);
}

static void
add_path(struct sbx_util_buf *b, const char *path)
{
	if (path == NULL || path[0] == '\0')
		sbx_util_buf_add(b, "/");
	else
		sbx_util_buf_add_pct(b, path, 1);
}

/* The canonical request's first lines: method, path, canonical query. */
static void
add_request_line(struct sbx_util_buf *b, const struct sbx_aws_sign_req *r,
    const char *query)
{
	sbx_util_buf_add(b, r->method);
	sbx_util_buf_add(b, "\n");
	add_path(b, r->path);
	sbx_util_buf_add(b, "\n");
	sbx_util_buf_add(b, query);
}

/* "<key id>/<date>/<region>/<service>/aws4_request": the Credential. */
static void
add_credential(struct sbx_util_buf *b, const char *akid, const char *date,
    const struct sbx_aws_sign_req *r)
{
	sbx_util_buf_add(b, akid);
	sbx_util_buf_add(b, "/");
	sbx_util_buf_add(b, date);
	sbx_util_buf_add(b, "/");
	sbx_util_buf_add(b, r->region);
	sbx_util_buf_add(b, "/");
	sbx_util_buf_add(b, r->service);
	sbx_util_buf_add(b, "/aws4_request");
}

enum sbx_err
sbx_aws_sign(const struct sbx_aws_sign_req *r,
    const struct sbx_aws_creds *creds, struct sbx_aws_sig *sig)
{
	struct sbx_util_buf creq = { 0 }, auth = { 0 }, signed_hdrs = { 0 };
	struct hdr *h = NULL;
	size_t n = 0, i;
	char amz_date[17], date[9], payload_hash[65];
	char *query = NULL;
	enum sbx_err err;

	memset(sig, 0, sizeof(*sig));
	if (!valid_req(r, creds) || r->nheaders > 1000 ||
	    format_time(r->now, amz_date, date) != 0)
		return SBX_EINVAL;
	if ((h = calloc(r->nheaders + 3, sizeof(*h))) == NULL)
		return SBX_ENOMEM;
	for (i = 0; i < r->nheaders; i++) {
		const char *nm = r->headers[i].name;

		/* These three are ours to set; a second copy would not verify. */
		if (nm != NULL && (strcasecmp(nm, "host") == 0 ||
		    strcasecmp(nm, "x-amz-date") == 0 ||
		    strcasecmp(nm, "x-amz-security-token") == 0 ||
		    strcasecmp(nm, "authorization") == 0)) {
			err = SBX_EINVAL;
			goto out;
		}
		if ((err = hdr_add(h, &n, nm, r->headers[i].value)) != SBX_OK)
			goto out;
	}
	if ((err = hdr_add(h, &n, "host", r->host)) != SBX_OK ||
	    (err = hdr_add(h, &n, "x-amz-date", amz_date)) != SBX_OK)
		goto out;
	if (creds->session_token != NULL && creds->session_token[0] != '\0' &&
	    (err = hdr_add(h, &n, "x-amz-security-token",
	    creds->session_token)) != SBX_OK)
		goto out;
	qsort(h, n, sizeof(*h), hdr_cmp);

	if ((err = sbx_aws_canonical_query(r->query, r->nquery, &query)) !=
	    SBX_OK)
		goto out;
	sbx_aws_sha256_hex(r->payload, r->payload ? r->payload_len : 0,
	    payload_hash);

	add_request_line(&creq, r, query);
	sbx_util_buf_add(&creq, "\n");
	/* Repeated names become one line, values joined by commas. */
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
			sbx_util_buf_add(&creq, ",");
		} else {
			if (i > 0) {
				sbx_util_buf_add(&creq, "\n");
				sbx_util_buf_add(&signed_hdrs, ";");
			}
			sbx_util_buf_add(&creq, h[i].name);
			sbx_util_buf_add(&creq, ":");
			sbx_util_buf_add(&signed_hdrs, h[i].name);
		}
		sbx_util_buf_add(&creq, h[i].value);
	}
	sbx_util_buf_add(&creq, "\n\n");
	sbx_util_buf_add(&creq, signed_hdrs.p ? signed_hdrs.p : "");
	sbx_util_buf_add(&creq, "\n");
	sbx_util_buf_add(&creq, payload_hash);
	if (creq.err != SBX_OK || signed_hdrs.err != SBX_OK) {
		err = SBX_ENOMEM;
		goto out;
	}
	if ((err = sign_canonical(creq.p, amz_date, date, r->region, r->service,
	    creds, sig)) != SBX_OK)
		goto out;

	sbx_util_buf_add(&auth, ALGORITHM " Credential=");
	add_credential(&auth, creds->access_key_id, date, r);
	sbx_util_buf_add(&auth, ", SignedHeaders=");
	sbx_util_buf_add(&auth, signed_hdrs.p ? signed_hdrs.p : "");
	sbx_util_buf_add(&auth, ", Signature=");
	sbx_util_buf_add(&auth, sig->signature);
	if ((sig->authorization = sbx_util_buf_take(&auth)) == NULL ||
	    (sig->canonical_request = sbx_util_buf_take(&creq)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	err = SBX_OK;
out:
	if (err != SBX_OK)
		sbx_aws_sig_fini(sig);
	for (i = 0; i < n; i++) {
		free(h[i].name);
		sbx_util_wipe_free(h[i].value);
	}
	free(h);
	sbx_util_wipe_free(query);
	sbx_util_buf_fini(&creq);
	sbx_util_buf_fini(&auth);
	sbx_util_buf_fini(&signed_hdrs);
	return err;
}

void
sbx_aws_sig_fini(struct sbx_aws_sig *sig)
{
	if (sig == NULL)
		return;
	sbx_util_wipe_free(sig->authorization);
	sbx_util_wipe_free(sig->canonical_request);
	sbx_util_wipe_free(sig->string_to_sign);
	sbx_util_wipe(sig, sizeof(*sig));
}

enum sbx_err
sbx_aws_presign(const struct sbx_aws_sign_req *r, long expires,
    const struct sbx_aws_creds *creds, char **query_out)
{
	struct sbx_aws_param *all = NULL;
	struct sbx_aws_sig sig = { 0 };
	struct sbx_util_buf credential = { 0 }, creq = { 0 }, out = { 0 };
	char amz_date[17], date[9], exp[24], empty_hash[65];
	char *cq = NULL, *own = NULL;
	int token;
	size_t n;
	enum sbx_err err;

	*query_out = NULL;
	if (!valid_req(r, creds) || expires < 1 ||
	    expires > PRESIGN_MAX_EXPIRES || r->nquery > 1000 ||
	    format_time(r->now, amz_date, date) != 0)
		return SBX_EINVAL;
	token = creds->session_token != NULL && creds->session_token[0] != '\0';
	snprintf(exp, sizeof(exp), "%ld", expires);
	add_credential(&credential, creds->access_key_id, date, r);
	if (credential.err != SBX_OK) {
		err = SBX_ENOMEM;
		goto out;
	}

	/* The signed query holds the auth parameters too (but the signature). */
	if ((all = calloc(r->nquery + 6, sizeof(*all))) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	for (n = 0; n < r->nquery; n++)
		all[n] = r->query[n];
	all[n++] = (struct sbx_aws_param){ "X-Amz-Algorithm", ALGORITHM };
	all[n++] = (struct sbx_aws_param){ "X-Amz-Credential", credential.p };
	all[n++] = (struct sbx_aws_param){ "X-Amz-Date", amz_date };
	all[n++] = (struct sbx_aws_param){ "X-Amz-Expires", exp };
	all[n++] = (struct sbx_aws_param){ "X-Amz-SignedHeaders", "host" };
	if (token)
		all[n++] = (struct sbx_aws_param){ "X-Amz-Security-Token",
		    creds->session_token };
	if ((err = sbx_aws_canonical_query(all, n, &cq)) != SBX_OK ||
	    (err = sbx_aws_canonical_query(r->query, r->nquery, &own)) !=
	    SBX_OK)
		goto out;

	sbx_aws_sha256_hex("", 0, empty_hash);
	add_request_line(&creq, r, cq);
	sbx_util_buf_add(&creq, "\nhost:");
	sbx_util_buf_add(&creq, r->host);
	sbx_util_buf_add(&creq, "\n\nhost\n");
	sbx_util_buf_add(&creq, empty_hash);
	if (creq.err != SBX_OK) {
		err = SBX_ENOMEM;
		goto out;
	}
	if ((err = sign_canonical(creq.p, amz_date, date, r->region, r->service,
	    creds, &sig)) != SBX_OK)
		goto out;

	/* The order AWS's own SDKs produce (and the DSQL vector shows). */
	sbx_util_buf_add(&out, own);
	if (own[0] != '\0')
		sbx_util_buf_add(&out, "&");
	sbx_util_buf_add(&out, "X-Amz-Algorithm=" ALGORITHM "&X-Amz-Credential=");
	sbx_util_buf_add_pct(&out, credential.p, 0);
	sbx_util_buf_add(&out, "&X-Amz-Date=");
	sbx_util_buf_add(&out, amz_date);
	sbx_util_buf_add(&out, "&X-Amz-SignedHeaders=host&X-Amz-Expires=");
	sbx_util_buf_add(&out, exp);
	if (token) {
		sbx_util_buf_add(&out, "&X-Amz-Security-Token=");
		sbx_util_buf_add_pct(&out, creds->session_token, 0);
	}
	sbx_util_buf_add(&out, "&X-Amz-Signature=");
	sbx_util_buf_add(&out, sig.signature);
	if ((*query_out = sbx_util_buf_take(&out)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	err = SBX_OK;
out:
	sbx_aws_sig_fini(&sig);
	free(all);
	sbx_util_wipe_free(cq);
	sbx_util_wipe_free(own);
	sbx_util_buf_fini(&credential);
	sbx_util_buf_fini(&creq);
	sbx_util_buf_fini(&out);
	return err;
}

enum sbx_err
sbx_aws_dsql_token(const char *host, const char *region, int admin,
    long expires, const struct sbx_aws_creds *creds, long long now,
    char **out)
{
	struct sbx_aws_param action = { "Action",
	    admin ? "DbConnectAdmin" : "DbConnect" };
	struct sbx_aws_sign_req r = {
		.method = "GET",
		.path = "/",
		.query = &action,
		.nquery = 1,
		.host = host,
		.region = region,
		.service = "dsql",
		.now = now,
	};
	struct sbx_util_buf tok = { 0 };
	char *q = NULL;
	enum sbx_err err;

	*out = NULL;
	if ((err = sbx_aws_presign(&r, expires, creds, &q)) != SBX_OK)
		return err;
	sbx_util_buf_add(&tok, host);
	sbx_util_buf_add(&tok, "/?");
	sbx_util_buf_add(&tok, q);
	sbx_util_wipe_free(q);
	if ((*out = sbx_util_buf_take(&tok)) == NULL)
		return SBX_ENOMEM;
	return SBX_OK;
}

/*
 * The region of a DSQL endpoint, "<id>.dsql.<region>.on.aws"; 0 when the
 * host has another shape.
 */
static int
dsql_host_region(const char *host, char *buf, size_t len)
{
	const char *p = strstr(host, ".dsql."), *e;
	size_t n;

	if (p == NULL)
		return 0;
	p += strlen(".dsql.");
	if ((e = strstr(p, ".on.aws")) == NULL || e[strlen(".on.aws")] != '\0')
		return 0;
	n = (size_t)(e - p);
	if (n == 0 || n >= len)
		return 0;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return valid_token(buf);
}

enum sbx_err
sbx_aws_dsql_password(const char *host, const char *user, char **out)
{
	struct sbx_aws_creds creds = { 0 };
	char region[64];
	enum sbx_err err;

	*out = NULL;
	if (host == NULL || host[0] == '\0')
		return SBX_EINVAL;
	if (!dsql_host_region(host, region, sizeof(region)) &&
	    (err = sbx_aws_region(region, sizeof(region))) != SBX_OK)
		return err;
	if ((err = sbx_aws_creds_get(&creds)) != SBX_OK)
		return err;
	err = sbx_aws_dsql_token(host, region,
	    user != NULL && strcmp(user, "admin") == 0,
	    SBX_AWS_DSQL_EXPIRES, &creds, (long long)time(NULL), out);
	sbx_aws_creds_fini(&creds);
	return err;
}

/* ------------------------------------------------------------- credentials */

void
sbx_aws_creds_fini(struct sbx_aws_creds *c)
{
	if (c == NULL)
		return;
	sbx_util_wipe_free(c->access_key_id);
	sbx_util_wipe_free(c->secret_access_key);
	sbx_util_wipe_free(c->session_token);
	memset(c, 0, sizeof(*c));
}

/* Copies the strings into out; empty tokens become NULL. */
static enum sbx_err
creds_set(struct sbx_aws_creds *out, const char *akid, const char *secret,
    const char *token, long long expiration)
{
	memset(out, 0, sizeof(*out));
	if ((out->access_key_id = strdup(akid)) == NULL ||
	    (out->secret_access_key = strdup(secret)) == NULL ||
	    (token != NULL && token[0] != '\0' &&
	    (out->session_token = strdup(token)) == NULL)) {
		sbx_aws_creds_fini(out);
		return SBX_ENOMEM;
	}
	out->expiration = expiration;
	return SBX_OK;
}

enum sbx_err
sbx_aws_creds_copy(struct sbx_aws_creds *dst, const struct sbx_aws_creds *src)
{
	if (!valid_creds(src)) {
		memset(dst, 0, sizeof(*dst));
		return SBX_EINVAL;
	}
	return creds_set(dst, src->access_key_id, src->secret_access_key,
	    src->session_token, src->expiration);
}

/* A setting from the environment or SBX_ENV_FILE; NULL when empty. */
static const char *
env(const char *name)
{
	const char *v = sbx_config_getenv(name, NULL);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

enum sbx_err
sbx_aws_creds_from_env(struct sbx_aws_creds *out)
{
	const char *akid = env("AWS_ACCESS_KEY_ID");
	const char *secret = env("AWS_SECRET_ACCESS_KEY");

	memset(out, 0, sizeof(*out));
	if (akid == NULL && secret == NULL)
		return SBX_ENOTFOUND;
	if (akid == NULL || secret == NULL) {
		sbx_log(SBX_LOG_ERROR, MODULE, "only one of AWS_ACCESS_KEY_ID "
		    "and AWS_SECRET_ACCESS_KEY is set");
		return SBX_ECONFIG;
	}
	return creds_set(out, akid, secret, env("AWS_SESSION_TOKEN"), 0);
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

enum sbx_err
sbx_aws_creds_parse_ini(const char *text, size_t len, const char *profile,
    struct sbx_aws_creds *out)
{
	char *copy = NULL, *line, *next, *akid = NULL, *secret = NULL;
	char *token = NULL;
	int in = 0;
	enum sbx_err err = SBX_ENOTFOUND;

	memset(out, 0, sizeof(*out));
	if (text == NULL || profile == NULL)
		return SBX_EINVAL;
	if ((copy = malloc(len + 1)) == NULL)
		return SBX_ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';

	for (line = copy; line != NULL; line = next) {
		char *eq, *k, *v;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		/* An indented line continues a nested value: never ours. */
		if (line[0] == ' ' || line[0] == '\t')
			continue;
		line = trim(line);
		if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == '[') {
			char *end = strchr(line, ']');

			if (end == NULL) {
				in = 0;
				continue;
			}
			*end = '\0';
			in = strcmp(trim(line + 1), profile) == 0;
			continue;
		}
		if (!in || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		k = trim(line);
		v = trim(eq + 1);
		/* Later lines win, as in the AWS CLI. */
		if (strcasecmp(k, "aws_access_key_id") == 0)
			akid = v;
		else if (strcasecmp(k, "aws_secret_access_key") == 0)
			secret = v;
		else if (strcasecmp(k, "aws_session_token") == 0)
			token = v;
	}
	if (akid != NULL && secret != NULL && akid[0] != '\0' &&
	    secret[0] != '\0')
		err = creds_set(out, akid, secret, token, 0);
	/*
	 * The same rule as the container's answer: a key id holding '/',
	 * ',' or '=' would break out of SigV4's "Credential=<id>/<scope>"
	 * (found by fuzz_aws_creds).
	 */
	if (err == SBX_OK && !valid_creds(out)) {
		sbx_aws_creds_fini(out);
		err = SBX_EPARSE;
	}
	sbx_util_wipe(copy, len + 1);
	free(copy);
	return err;
}

/* Reads a whole small file; *out (NUL-terminated) is the caller's. */
static enum sbx_err
read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd;
	enum sbx_err err = SBX_EIO;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT || errno == ENOTDIR ? SBX_ENOTFOUND :
		    SBX_EIO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if ((size_t)st.st_size > max) {
		err = SBX_ETOOBIG;
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	while (n < (size_t)st.st_size) {
		r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	buf = NULL;
	err = SBX_OK;
out:
	free(buf);
	close(fd);
	return err;
}

enum sbx_err
sbx_aws_creds_from_file(struct sbx_aws_creds *out)
{
	const char *path = env("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = env("AWS_PROFILE");
	const char *home;
	struct passwd *pw;
	char buf[4096];
	char *text = NULL;
	size_t len = 0;
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	if (profile == NULL)
		profile = "default";
	home = getenv("HOME");
	if ((home == NULL || home[0] == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (path == NULL) {
		if (home == NULL)
			return SBX_ENOTFOUND;
		if ((size_t)snprintf(buf, sizeof(buf), "%s/.aws/credentials",
		    home) >= sizeof(buf))
			return SBX_EINVAL;
		path = buf;
	} else if (strncmp(path, "~/", 2) == 0 && home != NULL) {
		if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", home,
		    path + 2) >= sizeof(buf))
			return SBX_EINVAL;
		path = buf;
	}
	if ((err = read_file(path, CREDENTIALS_FILE_MAX, &text, &len)) !=
	    SBX_OK) {
		if (err != SBX_ENOTFOUND)
			sbx_log(SBX_LOG_WARN, MODULE, "cannot read the shared "
			    "credentials file: %s", sbx_strerror(err));
		return err == SBX_ENOTFOUND ? err : SBX_ECONFIG;
	}
	err = sbx_aws_creds_parse_ini(text, len, profile, out);
	sbx_util_wipe(text, len);
	free(text);
	return err;
}

/* Wipes every string value of a parsed JSON tree before it is freed. */
static void
json_wipe(cJSON *j)
{
	for (; j != NULL; j = j->next) {
		if (j->valuestring != NULL)
			sbx_util_wipe(j->valuestring, strlen(j->valuestring));
		json_wipe(j->child);
	}
}

enum sbx_err
sbx_aws_creds_parse_container(const char *text, size_t len,
    struct sbx_aws_creds *out)
{
	cJSON *j = NULL;
	const cJSON *akid, *secret, *token, *exp;
	long long expiration = 0;
	enum sbx_err err = SBX_EPARSE;

	memset(out, 0, sizeof(*out));
	if (text == NULL || (j = cJSON_ParseWithLength(text, len)) == NULL ||
	    !cJSON_IsObject(j))
		goto out;
	akid = cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId");
	secret = cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey");
	token = cJSON_GetObjectItemCaseSensitive(j, "Token");
	exp = cJSON_GetObjectItemCaseSensitive(j, "Expiration");
	if (!cJSON_IsString(akid) || !cJSON_IsString(secret) ||
	    akid->valuestring[0] == '\0' || secret->valuestring[0] == '\0' ||
	    (token != NULL && !cJSON_IsString(token) && !cJSON_IsNull(token)))
		goto out;
	if (exp != NULL && !cJSON_IsNull(exp) && (!cJSON_IsString(exp) ||
	    sbx_time_parse(exp->valuestring, &expiration) != SBX_OK))
		goto out;
	err = creds_set(out, akid->valuestring, secret->valuestring,
	    token != NULL && cJSON_IsString(token) ? token->valuestring : NULL,
	    expiration);
	if (err == SBX_OK && !valid_creds(out)) {
		sbx_aws_creds_fini(out);
		err = SBX_EPARSE;
	}
out:
	if (j != NULL) {
		json_wipe(j);
		cJSON_Delete(j);
	}
	return err;
}

/* The Authorization value for the container endpoint, or NULL; caller frees. */
static enum sbx_err
container_auth(char **out)
{
	const char *file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char *text = NULL;
	size_t len = 0;
	enum sbx_err err;

	*out = NULL;
	/* The file wins: the agent rotates it, the variable is fixed. */
	if (file != NULL) {
		if ((err = read_file(file, 64 * 1024, &text, &len)) != SBX_OK) {
			sbx_log(SBX_LOG_ERROR, MODULE, "cannot read "
			    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %s",
			    sbx_strerror(err));
			return SBX_ECONFIG;
		}
		while (len > 0 && (text[len - 1] == '\n' ||
		    text[len - 1] == '\r' || text[len - 1] == ' '))
			text[--len] = '\0';
		if (strpbrk(text, "\r\n") != NULL) {
			sbx_util_wipe_free(text);
			return SBX_ECONFIG;
		}
		*out = text;
		return SBX_OK;
	}
	if (tok != NULL) {
		if (strpbrk(tok, "\r\n") != NULL)
			return SBX_ECONFIG;
		if ((*out = strdup(tok)) == NULL)
			return SBX_ENOMEM;
	}
	return SBX_OK;
}

enum sbx_err
sbx_aws_creds_from_container(struct sbx_aws_creds *out)
{
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	struct sbx_httpclient_header hdrs[2] = { { "Accept", "application/json" } };
	struct sbx_httpclient_request req = { .method = "GET", .headers = hdrs,
	    .nheaders = 1, .timeout_ms = CONTAINER_TIMEOUT_MS };
	struct sbx_httpclient_response resp = { 0 };
	struct sbx_util_buf url = { 0 };
	char *auth = NULL;
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	if (full != NULL) {
		if (!sbx_httpclient_url_allowed(full)) {
			sbx_log(SBX_LOG_ERROR, MODULE,
			    "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https "
			    "or http to a loopback address");
			return SBX_ECONFIG;
		}
		sbx_util_buf_add(&url, full);
	} else if (rel != NULL) {
		if (rel[0] != '/') {
			sbx_log(SBX_LOG_ERROR, MODULE, "AWS_CONTAINER_"
			    "CREDENTIALS_RELATIVE_URI must start with '/'");
			return SBX_ECONFIG;
		}
		sbx_util_buf_add(&url, ECS_CREDENTIALS_BASE);
		sbx_util_buf_add(&url, rel);
		req.allow_ecs_endpoint = 1;
	} else {
		return SBX_ENOTFOUND;
	}
	if (url.err != SBX_OK) {
		err = SBX_ENOMEM;
		goto out;
	}
	if ((err = container_auth(&auth)) != SBX_OK)
		goto out;
	if (auth != NULL) {
		hdrs[1] = (struct sbx_httpclient_header){ "Authorization", auth };
		req.nheaders = 2;
	}
	req.url = url.p;
	if ((err = sbx_httpclient_send(&req, &resp)) != SBX_OK) {
		if (err == SBX_EINVAL)
			err = SBX_ECONFIG;
		goto out;
	}
	if (resp.status != 200) {
		sbx_log(SBX_LOG_WARN, MODULE, "container credentials endpoint "
		    "answered %ld", resp.status);
		err = resp.status >= 500 ? SBX_EUNAVAILABLE : SBX_EAUTH;
		goto out;
	}
	err = sbx_aws_creds_parse_container(resp.body, resp.body_len, out);
	if (err == SBX_EPARSE)
		sbx_log(SBX_LOG_WARN, MODULE, "container credentials endpoint "
		    "answered a malformed document");
out:
	if (resp.body != NULL)
		sbx_util_wipe(resp.body, resp.body_len);
	sbx_httpclient_response_fini(&resp);
	sbx_util_wipe_free(auth);
	sbx_util_buf_fini(&url);
	return err;
}

/*
 * Temporary credentials from the container endpoint, kept between
 * requests. Responders serve one request at a time, but the lock keeps
 * the cache sound for any caller with threads.
 */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sbx_aws_creds cache;
static long long cache_refresh_at;

void
sbx_aws_creds_reset(void)
{
	pthread_mutex_lock(&cache_lock);
	sbx_aws_creds_fini(&cache);
	cache_refresh_at = 0;
	pthread_mutex_unlock(&cache_lock);
}

enum sbx_err
sbx_aws_creds_get(struct sbx_aws_creds *out)
{
	struct sbx_aws_creds fresh = { 0 };
	long long now = (long long)time(NULL);
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	if ((err = sbx_aws_creds_from_env(out)) != SBX_ENOTFOUND)
		return err;

	pthread_mutex_lock(&cache_lock);
	if (cache.access_key_id != NULL && now < cache_refresh_at) {
		err = sbx_aws_creds_copy(out, &cache);
		goto out;
	}
	err = sbx_aws_creds_from_container(&fresh);
	if (err == SBX_OK) {
		sbx_aws_creds_fini(&cache);
		cache = fresh;
		memset(&fresh, 0, sizeof(fresh));
		cache_refresh_at = cache.expiration != 0 ?
		    cache.expiration - SBX_AWS_REFRESH_SECONDS :
		    now + CONTAINER_NOEXPIRY_SECONDS;
		err = sbx_aws_creds_copy(out, &cache);
		goto out;
	}
	/* Credentials that have not expired yet still beat none. */
	if (err != SBX_ENOTFOUND && cache.access_key_id != NULL &&
	    (cache.expiration == 0 || now < cache.expiration)) {
		sbx_log(SBX_LOG_WARN, MODULE, "refreshing container credentials "
		    "failed (%s); using the cached ones", sbx_strerror(err));
		err = sbx_aws_creds_copy(out, &cache);
		goto out;
	}
	if (err != SBX_ENOTFOUND)
		goto out;
	err = sbx_aws_creds_from_file(out);
	if (err == SBX_ENOTFOUND) {
		sbx_log(SBX_LOG_ERROR, MODULE, "no AWS credentials: set "
		    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a container "
		    "credentials endpoint or a shared credentials file");
		err = SBX_EAUTH;
	}
out:
	pthread_mutex_unlock(&cache_lock);
	sbx_aws_creds_fini(&fresh);
	return err;
}

/* ------------------------------------------------------- region, endpoints */

enum sbx_err
sbx_aws_region(char *buf, size_t len)
{
	const struct sbx_config *cfg = sbx_config();
	const char *r = NULL;

	if (cfg != NULL && cfg->aws_region != NULL && cfg->aws_region[0])
		r = cfg->aws_region;
	if (r == NULL)
		r = env("AWS_REGION");
	if (r == NULL)
		r = env("AWS_DEFAULT_REGION");
	if (r == NULL || !valid_token(r) || strlen(r) >= len) {
		if (len > 0)
			buf[0] = '\0';
		return SBX_ECONFIG;
	}
	memcpy(buf, r, strlen(r) + 1);
	return SBX_OK;
}

static const char *
get_nonempty(const char *(*get)(const char *, void *), void *ctx,
    const char *name)
{
	const char *v = get(name, ctx);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

enum sbx_err
sbx_aws_endpoint_resolve(const char *service, const char *region,
    const char *(*get)(const char *name, void *ctx), void *ctx, char **out)
{
	struct sbx_util_buf name = { 0 }, url = { 0 };
	const char *v = NULL, *ignore;
	size_t i, n;
	enum sbx_err err = SBX_ENOMEM;

	*out = NULL;
	if (service == NULL || service[0] == '\0' || get == NULL)
		return SBX_EINVAL;
	sbx_util_buf_add(&name, "AWS_ENDPOINT_URL_");
	for (i = 0; service[i] && name.err == SBX_OK; i++) {
		char c = service[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (c == '-' || c == ' ')
			c = '_';
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			break;
		sbx_util_buf_addn(&name, &c, 1);
	}
	if (service[i] != '\0') {
		err = SBX_EINVAL;
		goto out;
	}
	if (name.err != SBX_OK)
		goto out;
	ignore = get_nonempty(get, ctx, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	if (ignore == NULL || strcasecmp(ignore, "true") != 0) {
		v = get_nonempty(get, ctx, name.p);
		if (v == NULL)
			v = get_nonempty(get, ctx, "AWS_ENDPOINT_URL");
	}
	if (v != NULL) {
		n = strlen(v);
		while (n > 0 && v[n - 1] == '/')
			n--;
		sbx_util_buf_addn(&url, v, n);
	} else {
		if (!valid_token(region) || !valid_token(service)) {
			err = SBX_ECONFIG;
			goto out;
		}
		sbx_util_buf_add(&url, "https://");
		sbx_util_buf_add(&url, service);
		sbx_util_buf_add(&url, ".");
		sbx_util_buf_add(&url, region);
		sbx_util_buf_add(&url, ".amazonaws.com");
	}
	if ((*out = sbx_util_buf_take(&url)) == NULL)
		goto out;
	err = SBX_OK;
out:
	sbx_util_buf_fini(&name);
	sbx_util_buf_fini(&url);
	return err;
}

enum sbx_err
sbx_aws_endpoint(const char *service, const char *region, char **out)
{
	return sbx_aws_endpoint_resolve(service, region, sbx_config_getenv,
	    NULL, out);
}
