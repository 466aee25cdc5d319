/*
 * Applying the numbered migrations NNN_name.sql in order, recording each
 * applied version in schema_migrations (see migrate.h; schema/sbx-migrate.c
 * is the command around it).
 *
 * Aurora DSQL runs one DDL statement per transaction and never mixes DDL
 * with DML, so a migration cannot be applied atomically. Instead every
 * statement of a file runs in its own (autocommit) transaction, and every
 * statement is written to be re-runnable (IF NOT EXISTS, ON CONFLICT DO
 * NOTHING): a run that dies between two statements leaves the version
 * unrecorded, and the next run simply does the whole file again. The
 * version is recorded only after its last statement succeeded.
 *
 * With --dialect dsql, "CREATE [UNIQUE] INDEX" becomes "CREATE [UNIQUE]
 * INDEX ASYNC" (the only form DSQL accepts), and the index job it starts
 * is waited for, so that a failed build (e.g. duplicates under a unique
 * index) fails the migration instead of going unnoticed.
 *
 * A statement may refer to $1: sbx-migrate binds it to the service's OIDC
 * issuer (OIDC_ISSUER, its default when unset, Google's legacy spelling
 * "accounts.google.com" as "https://accounts.google.com"), for a
 * migration that binds existing rows to it. An UPDATE or DELETE is run
 * again until it changes no row, so it can work in batches (DSQL changes
 * at most 3,000 rows per transaction); it must therefore exclude the rows
 * it has done (WHERE ... IS NULL), which re-running needs anyway.
 *
 * With --dialect dsql, every run (even one with nothing to apply) then
 * makes sure of the application's database role (DSQL_APP_ROLE): it is
 * created WITH LOGIN if missing, mapped with AWS IAM GRANT to each IAM
 * role of DSQL_APP_ROLE_IAM_ARNS not mapped yet (the service's and the
 * reaper's task roles, which hold dsql:DbConnect only), and given USAGE
 * on the schema and SELECT, INSERT, UPDATE, DELETE on all its tables.
 * The table grants are re-applied each time because DSQL refuses ALTER
 * DEFAULT PRIVILEGES: a table a later migration adds is covered by the
 * run that adds it. Only this task connects as admin.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/core/util.h"
#include "common/io/db.h"
#include "common/io/migrate.h"

/* Migration files are at most this big; ours are a few kilobytes. */
#define MIG_FILE_MAX	(4L * 1024 * 1024)

/* One migration file. */
struct mig_file {
	char version[4];	/* "001" */
	char *name;		/* "001_init" */
};

static const char sql_create_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version text PRIMARY KEY, "
    "name text NOT NULL, "
    "applied_at timestamptz NOT NULL DEFAULT now())";
static const char sql_table_exists[] =
    "SELECT 1 FROM information_schema.tables "
    "WHERE table_schema = current_schema() "
    "AND table_name = 'schema_migrations'";
static const char sql_applied[] = "SELECT version FROM schema_migrations";
static const char sql_record[] =
    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2) "
    "ON CONFLICT (version) DO NOTHING";
static const char sql_role_exists[] =
    "SELECT 1 FROM pg_roles WHERE rolname = $1";
static const char sql_role_mapped[] =
    "SELECT 1 FROM sys.iam_pg_role_mappings WHERE pg_role_name = $1 "
    "AND arn = $2";
static const char sql_wait_call[] = "CALL sys.wait_for_job($1)";
static const char sql_wait_select[] = "SELECT sys.wait_for_job($1) AS ok";

/* ------------------------------------------------------------ pure helpers */

void
sbx_migrate_stmts_fini(struct sbx_migrate_stmts *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].sql);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int
mig_ident_char(int c)
{
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/*
 * Appends buf[0..len) trimmed of surrounding blanks as a statement, unless
 * it is empty.
 */
static enum sbx_err
mig_push(struct sbx_migrate_stmts *s, const char *buf, size_t len, int line)
{
	size_t b = 0, e = len;
	char *sql;

	while (b < e && (buf[b] == ' ' || buf[b] == '\t' || buf[b] == '\n' ||
	    buf[b] == '\r'))
		b++;
	while (e > b && (buf[e - 1] == ' ' || buf[e - 1] == '\t' ||
	    buf[e - 1] == '\n' || buf[e - 1] == '\r'))
		e--;
	if (b == e)
		return SBX_OK;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct sbx_migrate_stmt *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return SBX_ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	sql = strndup(buf + b, e - b);
	if (sql == NULL)
		return SBX_ENOMEM;
	s->v[s->n].sql = sql;
	s->v[s->n].line = line;
	s->n++;
	return SBX_OK;
}

/*
 * The length of the dollar-quote tag starting at p ("$$" or "$tag$"), or 0
 * when p does not start one. A tag is an identifier that does not start
 * with a digit ($1 is a parameter, not a quote).
 */
static size_t
mig_dollar_tag(const char *p)
{
	size_t i = 1;

	if (p[0] != '$')
		return 0;
	if (p[1] == '$')
		return 2;
	if (!(p[1] == '_' || (p[1] >= 'a' && p[1] <= 'z') ||
	    (p[1] >= 'A' && p[1] <= 'Z') || (unsigned char)p[1] >= 0x80))
		return 0;
	while (p[i] != '\0' && p[i] != '$') {
		unsigned char c = (unsigned char)p[i];

		if (!(c == '_' || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c >= 0x80))
			return 0;
		i++;
	}
	return p[i] == '$' ? i + 1 : 0;
}

/*
 * Splits SQL text into statements at the semicolons that are outside
 * quotes ('...', E'...', "...", $tag$...$tag$) and comments (-- to the end
 * of the line, nested slash-star blocks). Comments are left out of the
 * statements; quoted text is kept byte for byte. On SBX_EPARSE, *err_line
 * is where the unterminated quote or comment began.
 */
enum sbx_err
sbx_migrate_split(const char *text, struct sbx_migrate_stmts *out,
    int *err_line)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 1);
	size_t n = 0, i = 0;
	int line = 1, start_line = 0;
	enum sbx_err rc = SBX_OK;

	memset(out, 0, sizeof(*out));
	*err_line = 0;
	if (buf == NULL)
		return SBX_ENOMEM;

/* Copies one byte, counting lines; notes where a statement starts. */
#define COPY() do {							\
		if (start_line == 0 && text[i] != ' ' && text[i] != '\t' && \
		    text[i] != '\n' && text[i] != '\r')			\
			start_line = line;				\
		if (text[i] == '\n')					\
			line++;						\
		buf[n++] = text[i++];					\
	} while (0)

	while (i < len) {
		char c = text[i];

		if (c == '-' && text[i + 1] == '-') {
			/* Drop the comment and the blanks before it. */
			while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
				n--;
			while (i < len && text[i] != '\n')
				i++;
			/* A line that held only the comment goes too. */
			if (i < len && (n == 0 || buf[n - 1] == '\n')) {
				i++;
				line++;
			}
		} else if (c == '/' && text[i + 1] == '*') {
			int depth = 1, at = line;

			i += 2;
			while (i < len && depth > 0) {
				if (text[i] == '/' && text[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (text[i] == '*' && text[i + 1] == '/') {
					depth--;
					i += 2;
				} else {
					if (text[i] == '\n')
						line++;
					i++;
				}
			}
			if (depth > 0) {
				*err_line = at;
				rc = SBX_EPARSE;
				goto out;
			}
			if (n > 0 && buf[n - 1] != ' ' && buf[n - 1] != '\n')
				buf[n++] = ' ';
		} else if (c == '\'' || c == '"') {
			/* E'...' (not part of a longer word) allows \' */
			int esc = c == '\'' && i > 0 &&
			    (text[i - 1] == 'E' || text[i - 1] == 'e') &&
			    (i < 2 || !mig_ident_char((unsigned char)text[i - 2]));
			int at = line;

			COPY();
			for (;;) {
				if (i >= len) {
					*err_line = at;
					rc = SBX_EPARSE;
					goto out;
				}
				if (esc && text[i] == '\\' && i + 1 < len) {
					COPY();
					COPY();
				} else if (text[i] == c && text[i + 1] == c) {
					COPY();
					COPY();
				} else if (text[i] == c) {
					COPY();
					break;
				} else
					COPY();
			}
		} else if (c == '$' && (i == 0 ||
		    !mig_ident_char((unsigned char)text[i - 1])) &&
		    mig_dollar_tag(text + i) > 0) {
			size_t tag = mig_dollar_tag(text + i);
			const char *end;
			int at = line;

			end = memmem(text + i + tag, len - i - tag, text + i, tag);
			if (end == NULL) {
				*err_line = at;
				rc = SBX_EPARSE;
				goto out;
			}
			while (text + i < end + tag)
				COPY();
		} else if (c == ';') {
			rc = mig_push(out, buf, n, start_line);
			if (rc != SBX_OK)
				goto out;
			n = 0;
			start_line = 0;
			i++;
		} else
			COPY();
	}
	rc = mig_push(out, buf, n, start_line);
#undef COPY
out:
	free(buf);
	if (rc != SBX_OK)
		sbx_migrate_stmts_fini(out);
	return rc;
}

/* If p starts with the keyword kw as a whole word, returns what follows. */
static const char *
mig_keyword(const char *p, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(p, kw, n) != 0 || mig_ident_char((unsigned char)p[n]))
		return NULL;
	return p + n;
}

/*
 * The statement as it runs on the dialect (heap, caller frees; NULL on
 * ENOMEM). For DSQL, CREATE [UNIQUE] INDEX gains ASYNC right after INDEX,
 * where PostgreSQL would have CONCURRENTLY.
 */
char *
sbx_migrate_rewrite(const char *sql, enum sbx_migrate_dialect dialect)
{
	const char *p, *q;
	size_t at, len;
	char *out;

	if (dialect != SBX_MIGRATE_DSQL)
		return strdup(sql);
	p = mig_keyword(sbx_util_skip_blank(sql), "CREATE");
	if (p == NULL)
		return strdup(sql);
	p = sbx_util_skip_blank(p);
	if ((q = mig_keyword(p, "UNIQUE")) != NULL)
		p = sbx_util_skip_blank(q);
	q = mig_keyword(p, "INDEX");
	if (q == NULL || mig_keyword(sbx_util_skip_blank(q), "ASYNC") != NULL)
		return strdup(sql);
	at = (size_t)(q - sql);
	len = strlen(sql) + sizeof(" ASYNC");
	out = malloc(len);
	if (out == NULL)
		return NULL;
	snprintf(out, len, "%.*s ASYNC%s", (int)at, sql, sql + at);
	return out;
}

/* The value of $1 in a statement (see the top): the canonical issuer. */
const char *
sbx_migrate_issuer(void)
{
	const char *iss = sbx_config_getenv("OIDC_ISSUER", NULL);

	/* The spelling users are bound to: sbx_oidc_issuer_canonical. */
	if (iss == NULL || *iss == '\0' ||
	    strcmp(iss, "accounts.google.com") == 0)
		return "https://accounts.google.com";
	return iss;
}

/* True when sql refers to $1 (a dollar tag cannot start with a digit). */
int
sbx_migrate_uses_param(const char *sql)
{
	const char *p = strstr(sql, "$1");

	return p != NULL && (p[2] < '0' || p[2] > '9');
}

/*
 * A migration file name is NNN_name.sql (three digits, then letters,
 * digits, '_' or '-'). Fills version and, when name is non-NULL, the name
 * without ".sql" (heap). 1 when it is one.
 */
int
sbx_migrate_file_parse(const char *file, char version[4], char **name)
{
	size_t len = strlen(file), i;

	if (len < 9 || strcmp(file + len - 4, ".sql") != 0)
		return 0;
	for (i = 0; i < 3; i++)
		if (file[i] < '0' || file[i] > '9')
			return 0;
	if (file[3] != '_')
		return 0;
	for (i = 4; i < len - 4; i++) {
		char c = file[i];

		if (!(c == '_' || c == '-' || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return 0;
	}
	memcpy(version, file, 3);
	version[3] = '\0';
	if (name != NULL) {
		*name = strndup(file, len - 4);
		if (*name == NULL)
			return 0;
	}
	return 1;
}

/* ------------------------------------------------------------ applying */

/* Most runs of one UPDATE/DELETE: 1,000-row batches of 100M rows. */
#define MIG_REPEAT_MAX 100000

/*
 * Runs one statement, again while it is an UPDATE or DELETE that changed
 * rows (see the top). Returns the last result in *res.
 */
static enum sbx_err
mig_run(PGconn *conn, const char *sql, PGresult **res)
{
	const char *params[1] = { sbx_migrate_issuer() };
	int nparams = sbx_migrate_uses_param(sql) ? 1 : 0;
	const char *status;
	long runs = 0;
	enum sbx_err rc;

	for (;;) {
		rc = sbx_db_query(conn, NULL, sql, nparams, nparams ? params :
		    NULL, res);
		if (rc != SBX_OK)
			return rc;
		status = PQcmdStatus(*res);
		if ((strncmp(status, "UPDATE ", 7) != 0 &&
		    strncmp(status, "DELETE ", 7) != 0) ||
		    strtol(PQcmdTuples(*res), NULL, 10) == 0)
			return SBX_OK;
		if (++runs >= MIG_REPEAT_MAX) {
			fprintf(stderr, "sbx-migrate: an UPDATE/DELETE still "
			    "changed rows after %d runs: it must exclude the "
			    "rows it has done\n", MIG_REPEAT_MAX);
			return SBX_EINTERNAL;
		}
		PQclear(*res);
		*res = NULL;
	}
}

static int
mig_file_cmp(const void *a, const void *b)
{
	const struct mig_file *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* ------------------------------------------------------------ files */

static void
mig_files_free(struct mig_file *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(f[i].name);
	free(f);
}

/* The migration files of dir, in version order; two with one number fail. */
static int
mig_list(const char *dir, struct mig_file **out, size_t *nout)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct mig_file *f = NULL;
	size_t n = 0, cap = 0, i;

	*out = NULL;
	*nout = 0;
	if (d == NULL) {
		fprintf(stderr, "sbx-migrate: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char version[4];
		char *name = NULL;

		if (!sbx_migrate_file_parse(de->d_name, version, &name))
			continue;
		if (n == cap) {
			struct mig_file *g;

			cap = cap ? cap * 2 : 16;
			g = realloc(f, cap * sizeof(*f));
			if (g == NULL) {
				free(name);
				goto fail;
			}
			f = g;
		}
		memcpy(f[n].version, version, sizeof(version));
		f[n].name = name;
		n++;
	}
	closedir(d);
	d = NULL;
	if (n > 1)
		qsort(f, n, sizeof(*f), mig_file_cmp);
	for (i = 1; i < n; i++) {
		if (strcmp(f[i - 1].version, f[i].version) == 0) {
			fprintf(stderr, "sbx-migrate: %s.sql and %s.sql have the "
			    "same version %s\n", f[i - 1].name, f[i].name,
			    f[i].version);
			mig_files_free(f, n);
			return -1;
		}
	}
	*out = f;
	*nout = n;
	return 0;
fail:
	if (d != NULL)
		closedir(d);
	fprintf(stderr, "sbx-migrate: out of memory\n");
	mig_files_free(f, n);
	return -1;
}

/* Reads a whole file into a NUL-terminated heap string. */
static char *
mig_read(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	long size;

	if (fp == NULL) {
		fprintf(stderr, "sbx-migrate: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 ||
	    size > MIG_FILE_MAX || fseek(fp, 0, SEEK_SET) != 0) {
		fprintf(stderr, "sbx-migrate: %s: cannot read (or over %ld "
		    "bytes)\n", path, MIG_FILE_MAX);
		goto out;
	}
	buf = malloc((size_t)size + 1);
	if (buf == NULL) {
		fprintf(stderr, "sbx-migrate: out of memory\n");
		goto out;
	}
	if (fread(buf, 1, (size_t)size, fp) != (size_t)size) {
		fprintf(stderr, "sbx-migrate: %s: short read\n", path);
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[size] = '\0';
	if (strlen(buf) != (size_t)size) {
		fprintf(stderr, "sbx-migrate: %s: contains a NUL byte\n", path);
		free(buf);
		buf = NULL;
	}
out:
	fclose(fp);
	return buf;
}

/* ------------------------------------------------------------ database */

/*
 * The first line of the last error libpq saw ("ERROR:  ..."), for the
 * operator; the lines after it point into the SQL, which we name by
 * statement number and line instead.
 */
static const char *
mig_pq_error(PGconn *conn, char *buf, size_t len)
{
	snprintf(buf, len, "%s", PQerrorMessage(conn));
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

/* Is version among the rows of res (a "version" column)? */
static int
mig_is_applied(const PGresult *res, const char *version)
{
	int i;

	if (res == NULL)
		return 0;
	for (i = 0; i < PQntuples(res); i++) {
		const char *v = sbx_db_get(res, i, "version");

		if (v != NULL && strcmp(v, version) == 0)
			return 1;
	}
	return 0;
}

/*
 * DSQL answers CREATE INDEX ASYNC with a job_id; waits for that job.
 * sys.wait_for_job is documented as callable, and seen both as a
 * procedure and as a function returning a boolean, so CALL is tried
 * first and SELECT when the server says it is not a procedure.
 */
static enum sbx_err
mig_wait_job(PGconn *conn, const PGresult *res)
{
	const char *job = sbx_db_get(res, 0, "job_id");
	const char *params[1];
	PGresult *r = NULL;
	enum sbx_err rc;

	if (job == NULL)
		return SBX_OK;	/* IF NOT EXISTS found it: no job */
	params[0] = job;
	rc = sbx_db_query(conn, NULL, sql_wait_call, 1, params, &r);
	if (rc == SBX_EDB) {
		rc = sbx_db_query(conn, NULL, sql_wait_select, 1, params, &r);
		if (rc == SBX_OK) {
			const char *ok = sbx_db_get(r, 0, "ok");

			if (ok != NULL && strcmp(ok, "t") != 0) {
				fprintf(stderr, "sbx-migrate: index job %s "
				    "failed\n", job);
				rc = SBX_EDB;
			}
		}
	}
	PQclear(r);
	return rc;
}

/* ------------------------------------------------------------ grants */

/*
 * Runs (or, dry, prints) one grant statement. check, when given, is a
 * query with params that returns a row when the statement is not needed
 * (a dry run prints the statement with a comment saying when it runs).
 */
static int
mig_grant_stmt(PGconn *conn, int dry, const char *sql, const char *check,
    const char *when, int nparams, const char *const *params)
{
	PGresult *res = NULL;
	char errbuf[512];
	enum sbx_err rc;

	if (dry) {
		printf("%s;%s%s\n", sql, when != NULL ? "  -- " : "",
		    when != NULL ? when : "");
		return 0;
	}
	if (check != NULL) {
		rc = sbx_db_query(conn, NULL, check, nparams, params, &res);
		if (rc != SBX_OK) {
			fprintf(stderr, "sbx-migrate: grants: checking before "
			    "\"%s\" failed: %s\n", sql,
			    mig_pq_error(conn, errbuf, sizeof errbuf));
			return -1;
		}
		if (PQntuples(res) > 0) {
			PQclear(res);
			return 0;
		}
		PQclear(res);
		res = NULL;
	}
	rc = sbx_db_query(conn, NULL, sql, 0, NULL, &res);
	PQclear(res);
	if (rc != SBX_OK) {
		fprintf(stderr, "sbx-migrate: grants: \"%s\" failed: %s\n",
		    sql, mig_pq_error(conn, errbuf, sizeof errbuf));
		return -1;
	}
	printf("%s\n", sql);
	return 0;
}

/*
 * The application role's grants (the comment at the top). The role name
 * and the ARNs were checked by the settings (common/core/config.c): a plain
 * identifier and quote-free literals, so they are written into the
 * statements as they are (GRANT and AWS IAM GRANT take no parameters).
 */
static int
mig_grants(PGconn *conn, int dry)
{
	const struct sbx_config *cfg = sbx_config();
	const char *role = cfg->dsql_app_role;
	const char *arns = cfg->dsql_app_role_iam_arns;
	char *sql = NULL, *list = NULL, *arn, *save = NULL;
	int ret = -1, mapped = 0;

	if (dry)
		printf("-- the application role %s (DSQL_APP_ROLE), "
		    "re-applied on every run\n", role);
	if (asprintf(&sql, "CREATE ROLE %s WITH LOGIN", role) < 0) {
		sql = NULL;
		goto oom;
	}
	if (mig_grant_stmt(conn, dry, sql, sql_role_exists,
	    "unless the role exists", 1, (const char *const[]){ role }) != 0)
		goto out;
	list = strdup(arns != NULL ? arns : "");
	if (list == NULL)
		goto oom;
	for (arn = strtok_r(list, ", \t", &save); arn != NULL;
	    arn = strtok_r(NULL, ", \t", &save)) {
		const char *p[2] = { role, arn };

		free(sql);
		if (asprintf(&sql, "AWS IAM GRANT %s TO '%s'", role, arn) < 0) {
			sql = NULL;
			goto oom;
		}
		if (mig_grant_stmt(conn, dry, sql, sql_role_mapped,
		    "unless already mapped", 2, p) != 0)
			goto out;
		mapped++;
	}
	if (mapped == 0)
		fprintf(stderr, "sbx-migrate: DSQL_APP_ROLE_IAM_ARNS is empty: "
		    "no IAM role can connect as %s\n", role);
	free(sql);
	if (asprintf(&sql, "GRANT USAGE ON SCHEMA public TO %s", role) < 0) {
		sql = NULL;
		goto oom;
	}
	if (mig_grant_stmt(conn, dry, sql, NULL, NULL, 0, NULL) != 0)
		goto out;
	free(sql);
	if (asprintf(&sql, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL "
	    "TABLES IN SCHEMA public TO %s", role) < 0) {
		sql = NULL;
		goto oom;
	}
	if (mig_grant_stmt(conn, dry, sql, NULL, NULL, 0, NULL) != 0)
		goto out;
	ret = 0;
	goto out;
oom:
	fprintf(stderr, "sbx-migrate: out of memory\n");
out:
	free(sql);
	free(list);
	return ret;
}

/*
 * Applies (or, dry, prints) one migration file. Returns 0, or -1 after
 * saying on stderr which statement of which file failed.
 */
static int
mig_apply(PGconn *conn, const char *dir, const struct mig_file *f,
    enum sbx_migrate_dialect dialect, int dry)
{
	struct sbx_migrate_stmts st = { 0 };
	char *path = NULL, *text = NULL;
	char errbuf[512];
	int ret = -1, err_line = 0;
	size_t i;
	enum sbx_err rc;

	if (asprintf(&path, "%s/%s.sql", dir, f->name) < 0) {
		path = NULL;
		fprintf(stderr, "sbx-migrate: out of memory\n");
		goto out;
	}
	text = mig_read(path);
	if (text == NULL)
		goto out;
	rc = sbx_migrate_split(text, &st, &err_line);
	if (rc != SBX_OK) {
		if (rc == SBX_EPARSE)
			fprintf(stderr, "sbx-migrate: %s:%d: unterminated "
			    "quote or comment\n", path, err_line);
		else
			fprintf(stderr, "sbx-migrate: out of memory\n");
		goto out;
	}
	if (dry)
		printf("-- %s (%s)\n", f->name, path);
	for (i = 0; i < st.n; i++) {
		char *sql = sbx_migrate_rewrite(st.v[i].sql, dialect);
		PGresult *res = NULL;

		if (sql == NULL) {
			fprintf(stderr, "sbx-migrate: out of memory\n");
			goto out;
		}
		if (dry) {
			if (sbx_migrate_uses_param(sql))
				printf("-- $1 = %s\n", sbx_migrate_issuer());
			printf("%s;\n\n", sql);
			free(sql);
			continue;
		}
		rc = mig_run(conn, sql, &res);
		if (rc == SBX_OK && dialect == SBX_MIGRATE_DSQL)
			rc = mig_wait_job(conn, res);
		PQclear(res);
		free(sql);
		if (rc != SBX_OK) {
			fprintf(stderr, "sbx-migrate: %s: statement %lu (line "
			    "%d) failed: %s: %s\n", path,
			    (unsigned long)(i + 1), st.v[i].line,
			    sbx_strerror(rc),
			    mig_pq_error(conn, errbuf, sizeof errbuf));
			goto out;
		}
	}
	if (!dry) {
		const char *params[2] = { f->version, f->name };
		PGresult *res = NULL;

		rc = sbx_db_query(conn, NULL, sql_record, 2, params, &res);
		PQclear(res);
		if (rc != SBX_OK) {
			fprintf(stderr, "sbx-migrate: %s: applied, but "
			    "recording version %s failed: %s\n", path,
			    f->version,
			    mig_pq_error(conn, errbuf, sizeof errbuf));
			goto out;
		}
		printf("applied %s (%lu statements)\n", f->name,
		    (unsigned long)st.n);
	}
	ret = 0;
out:
	sbx_migrate_stmts_fini(&st);
	free(text);
	free(path);
	return ret;
}

int
sbx_migrate_run(const char *dir, enum sbx_migrate_dialect dialect, int dry)
{
	struct mig_file *files = NULL;
	size_t nfiles = 0, i, pending = 0;
	PGresult *applied = NULL, *res = NULL;
	PGconn *conn = NULL;
	char errbuf[512];
	int ret = -1;
	enum sbx_err rc;

	if (mig_list(dir, &files, &nfiles) != 0)
		goto out;
	if (nfiles == 0) {
		fprintf(stderr, "sbx-migrate: no NNN_name.sql files in %s\n",
		    dir);
		goto out;
	}

	rc = sbx_db_conn(&conn);
	if (rc != SBX_OK) {
		fprintf(stderr, "sbx-migrate: cannot reach the database "
		    "(%s); see the log line above\n", sbx_strerror(rc));
		goto out;
	}

	/*
	 * A dry run changes nothing, so it does not create the table: when
	 * the table is missing, every file is pending.
	 */
	if (dry) {
		rc = sbx_db_query(conn, NULL, sql_table_exists, 0, NULL, &res);
		if (rc == SBX_OK && PQntuples(res) > 0)
			rc = sbx_db_query(conn, NULL, sql_applied, 0, NULL,
			    &applied);
	} else {
		rc = sbx_db_query(conn, NULL, sql_create_table, 0, NULL, &res);
		if (rc == SBX_OK)
			rc = sbx_db_query(conn, NULL, sql_applied, 0, NULL,
			    &applied);
	}
	if (rc != SBX_OK) {
		fprintf(stderr, "sbx-migrate: reading schema_migrations "
		    "failed: %s\n", mig_pq_error(conn, errbuf, sizeof errbuf));
		goto out;
	}

	for (i = 0; i < nfiles; i++) {
		if (mig_is_applied(applied, files[i].version))
			continue;
		pending++;
		if (mig_apply(conn, dir, &files[i], dialect, dry) != 0)
			goto out;
	}
	if (pending == 0)
		printf("nothing to apply\n");
	if (dialect == SBX_MIGRATE_DSQL && mig_grants(conn, dry) != 0)
		goto out;
	ret = 0;
out:
	PQclear(res);
	PQclear(applied);
	mig_files_free(files, nfiles);
	return ret;
}
