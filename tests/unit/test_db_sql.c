/*
 * The pure parts of the database code, with no database: SQLSTATE
 * mapping, transaction backoff, the "is it a read" test, libpq messages
 * squeezed onto one line, sbx_db_get over a hand-built result, and
 * sbx-migrate's statement splitter, DSQL rewrite and file-name rule.
 *
 * The helpers are exported by common/io/db.h and common/io/migrate.h for
 * this test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include "common/io/db.h"
#include "common/io/migrate.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ db.c */

static void
test_sqlstate(void **state)
{
	static const struct {
		const char *state;
		enum sbx_err want;
	} cases[] = {
		{ "40001", SBX_ESERIALIZE },
		{ "40P01", SBX_ESERIALIZE },
		{ "23505", SBX_ECONFLICT },
		{ "08006", SBX_EUNAVAILABLE },
		{ "08001", SBX_EUNAVAILABLE },
		{ "57P01", SBX_EUNAVAILABLE },
		{ "57P02", SBX_EUNAVAILABLE },
		{ "57P03", SBX_EUNAVAILABLE },
		{ "57014", SBX_EDB },		/* query_canceled */
		{ "23503", SBX_EDB },		/* other integrity errors */
		{ "23514", SBX_EDB },
		{ "42P01", SBX_EDB },
		{ "40002", SBX_EDB },
		{ NULL, SBX_EDB },
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++)
		assert_int_equal(sbx_db_sqlstate_err(cases[i].state), cases[i].want);
}

static void
test_backoff(void **state)
{
	(void)state;
	/* the ceiling doubles from base, and a pick never exceeds it */
	assert_int_equal(sbx_db_backoff_ms(20, 1, 20), 20);
	assert_int_equal(sbx_db_backoff_ms(20, 1, 21), 0);
	assert_int_equal(sbx_db_backoff_ms(20, 2, 40), 40);
	assert_int_equal(sbx_db_backoff_ms(20, 3, 80), 80);
	assert_int_equal(sbx_db_backoff_ms(20, 3, 81), 0);
	/* capped, however many attempts */
	assert_int_equal(sbx_db_backoff_ms(20, 8, 2000), 2000);
	assert_int_equal(sbx_db_backoff_ms(20, 1000, 2000), 2000);
	assert_int_equal(sbx_db_backoff_ms(20, 1000, 2001), 0);
	/* a base above the cap is its own cap */
	assert_int_equal(sbx_db_backoff_ms(5000, 4, 5000), 5000);
	assert_int_equal(sbx_db_backoff_ms(5000, 4, 5001), 0);
	/* zero: no sleep */
	assert_int_equal(sbx_db_backoff_ms(0, 3, 12345), 0);
	assert_int_equal(sbx_db_backoff_ms(-1, 3, 12345), 0);
	/* full jitter: every value in range is reachable */
	assert_int_equal(sbx_db_backoff_ms(20, 2, 7), 7);
}

static void
test_is_select(void **state)
{
	(void)state;
	assert_true(sbx_db_sql_is_select("SELECT 1"));
	assert_true(sbx_db_sql_is_select("  \n\tselect id FROM t"));
	assert_true(sbx_db_sql_is_select("SELECT\n1"));
	assert_true(sbx_db_sql_is_select("SELECT"));
	assert_false(sbx_db_sql_is_select("SELECTED"));
	assert_false(sbx_db_sql_is_select("select_x"));
	assert_false(sbx_db_sql_is_select("UPDATE t SET a = 1"));
	assert_false(sbx_db_sql_is_select("WITH x AS (DELETE FROM t) SELECT 1"));
	assert_false(sbx_db_sql_is_select("INSERT INTO t SELECT 1"));
	assert_false(sbx_db_sql_is_select(""));
}

static void
test_msg(void **state)
{
	char buf[64];
	char tiny[8];

	(void)state;
	sbx_db_msg(buf, sizeof buf, "connection refused\n\tIs the server up?\n");
	assert_string_equal(buf, "connection refused Is the server up?");
	sbx_db_msg(buf, sizeof buf, NULL);
	assert_string_equal(buf, "");
	sbx_db_msg(buf, sizeof buf, "  lead  ");
	assert_string_equal(buf, "lead");
	sbx_db_msg(tiny, sizeof tiny, "abcdefghijkl");
	assert_string_equal(tiny, "abcdefg");
}

static void
test_get(void **state)
{
	PGresAttDesc attrs[2];
	PGresult *res;

	(void)state;
	memset(attrs, 0, sizeof attrs);
	attrs[0].name = (char *)"id";
	attrs[0].format = 0;
	attrs[1].name = (char *)"status";
	attrs[1].format = 0;
	res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	assert_non_null(res);
	assert_true(PQsetResultAttrs(res, 2, attrs));
	assert_true(PQsetvalue(res, 0, 0, (char *)"u1", 2));
	assert_true(PQsetvalue(res, 0, 1, (char *)"ACTIVE", 6));
	assert_true(PQsetvalue(res, 1, 0, (char *)"u2", 2));
	assert_true(PQsetvalue(res, 1, 1, NULL, -1));	/* SQL NULL */

	assert_string_equal(sbx_db_get(res, 0, "id"), "u1");
	assert_string_equal(sbx_db_get(res, 0, "status"), "ACTIVE");
	assert_string_equal(sbx_db_get(res, 1, "id"), "u2");
	assert_null(sbx_db_get(res, 1, "status"));
	assert_null(sbx_db_get(res, 0, "nope"));
	assert_null(sbx_db_get(res, 2, "id"));
	assert_null(sbx_db_get(res, -1, "id"));
	assert_null(sbx_db_get(res, 0, NULL));
	assert_null(sbx_db_get(NULL, 0, "id"));
	PQclear(res);
}

/* Arguments are checked before any connection is touched. */
static void
test_query_args(void **state)
{
	PGresult *res = (PGresult *)1;

	(void)state;
	assert_int_equal(sbx_db_query(NULL, NULL, "SELECT 1", 0, NULL, &res),
	    SBX_EINVAL);
	assert_null(res);
	assert_int_equal(sbx_db_exec(NULL, NULL, 0, NULL, &res), SBX_EINVAL);
	assert_int_equal(sbx_db_tx(NULL, NULL), SBX_EINVAL);
	assert_int_equal(sbx_db_conn(NULL), SBX_EINVAL);
	sbx_db_close();		/* with no connection: harmless */
}

/* ------------------------------------------------------------ splitter */

/* Splits text and checks the statements (and their lines) it gives. */
static void
split_expect(const char *text, const char *const *want, const int *lines,
    size_t n)
{
	struct sbx_migrate_stmts st;
	int err_line = -1;
	size_t i;

	assert_int_equal(sbx_migrate_split(text, &st, &err_line), SBX_OK);
	assert_int_equal(err_line, 0);
	if (st.n != n) {
		for (i = 0; i < st.n; i++)
			print_message("got [%s]\n", st.v[i].sql);
	}
	assert_int_equal(st.n, n);
	for (i = 0; i < n; i++) {
		assert_string_equal(st.v[i].sql, want[i]);
		if (lines != NULL)
			assert_int_equal(st.v[i].line, lines[i]);
	}
	sbx_migrate_stmts_fini(&st);
}

static void
test_split_basic(void **state)
{
	static const char *const w1[] = { "SELECT 1", "SELECT 2" };
	static const int l1[] = { 1, 2 };
	static const char *const w2[] = { "SELECT 3" };

	(void)state;
	split_expect("SELECT 1;\nSELECT 2;\n", w1, l1, 2);
	/* a last statement without its semicolon; empty statements dropped */
	split_expect(";;  SELECT 3  ;;\n", w2, NULL, 1);
	split_expect("SELECT 3", w2, NULL, 1);
	split_expect("", NULL, NULL, 0);
	split_expect("  \n\n ; ;\n", NULL, NULL, 0);
	split_expect("-- only a comment; with a semicolon\n", NULL, NULL, 0);
}

static void
test_split_quotes(void **state)
{
	static const char *const w1[] = {
		"INSERT INTO t VALUES ('a;b', 'it''s; ok')", "SELECT 2" };
	static const char *const w2[] = { "SELECT \"we;ird\"\"x\" FROM t" };
	static const char *const w3[] = {
		"SELECT $$a;b$$, $x$ $$ ; $y$ $x$", "SELECT 2" };
	static const char *const w4[] = { "SELECT E'a\\';b'", "SELECT 2" };
	/* $1 and a$b are no dollar quotes */
	static const char *const w5[] = { "SELECT $1", "SELECT a$b", "SELECT 3" };
	/* in a standard string a backslash is just a backslash */
	static const char *const w6[] = { "SELECT 'a\\'", "SELECT 2" };
	/* -- inside quotes is not a comment */
	static const char *const w7[] = { "SELECT '--x;', $q$--;$q$" };

	(void)state;
	split_expect("INSERT INTO t VALUES ('a;b', 'it''s; ok');SELECT 2;",
	    w1, NULL, 2);
	split_expect("SELECT \"we;ird\"\"x\" FROM t;", w2, NULL, 1);
	split_expect("SELECT $$a;b$$, $x$ $$ ; $y$ $x$; SELECT 2", w3, NULL, 2);
	split_expect("SELECT E'a\\';b'; SELECT 2", w4, NULL, 2);
	split_expect("SELECT $1; SELECT a$b; SELECT 3;", w5, NULL, 3);
	split_expect("SELECT 'a\\'; SELECT 2;", w6, NULL, 2);
	split_expect("SELECT '--x;', $q$--;$q$;", w7, NULL, 1);
}

static void
test_split_comments(void **state)
{
	static const char *const w1[] = {
		"CREATE TABLE t (\n    a int,\n    b text\n)",
		"SELECT 2" };
	static const int l1[] = { 3, 9 };
	static const char *const w2[] = { "SELECT 1  + 2" };

	(void)state;
	/* comments go, whole-line ones with their line; lines are counted */
	split_expect(
	    "-- header; with a semicolon\n"
	    "\n"
	    "CREATE TABLE t (\n"
	    "    a int,   -- the a; column\n"
	    "    -- a full-line comment\n"
	    "    b text\n"
	    ");\n"
	    "/* block ; /* nested ; */ still ; comment */\n"
	    "SELECT 2;\n", w1, l1, 2);
	split_expect("SELECT 1 /* x; */ + 2", w2, NULL, 1);
}

static void
test_split_errors(void **state)
{
	static const struct {
		const char *text;
		int line;
	} cases[] = {
		{ "SELECT 'abc", 1 },
		{ "SELECT 1;\nSELECT \"abc;", 2 },
		{ "SELECT 1;\n\nSELECT $$abc;", 3 },
		{ "SELECT $x$ abc $y$;", 1 },
		{ "/* open\n/* nested */ still open", 1 },
		{ "SELECT E'abc\\'", 1 },
	};
	struct sbx_migrate_stmts st;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		int line = 0;

		assert_int_equal(sbx_migrate_split(cases[i].text, &st, &line),
		    SBX_EPARSE);
		assert_int_equal(line, cases[i].line);
		assert_int_equal(st.n, 0);
		assert_null(st.v);
	}
}

/* ------------------------------------------------------------ rewrite */

static void
rewrite_expect(const char *in, enum sbx_migrate_dialect d, const char *want)
{
	char *out = sbx_migrate_rewrite(in, d);

	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

static void
test_rewrite(void **state)
{
	(void)state;
	rewrite_expect("CREATE INDEX IF NOT EXISTS i ON t (a)", SBX_MIGRATE_DSQL,
	    "CREATE INDEX ASYNC IF NOT EXISTS i ON t (a)");
	rewrite_expect("CREATE UNIQUE INDEX IF NOT EXISTS i ON t (a)",
	    SBX_MIGRATE_DSQL, "CREATE UNIQUE INDEX ASYNC IF NOT EXISTS i ON t (a)");
	rewrite_expect("create  unique\n index i on t (a, b)", SBX_MIGRATE_DSQL,
	    "create  unique\n index ASYNC i on t (a, b)");
	rewrite_expect("  CREATE INDEX i ON t (a)", SBX_MIGRATE_DSQL,
	    "  CREATE INDEX ASYNC i ON t (a)");
	/* already ASYNC, or not an index */
	rewrite_expect("CREATE INDEX ASYNC i ON t (a)", SBX_MIGRATE_DSQL,
	    "CREATE INDEX ASYNC i ON t (a)");
	rewrite_expect("CREATE TABLE IF NOT EXISTS index_t (a int)", SBX_MIGRATE_DSQL,
	    "CREATE TABLE IF NOT EXISTS index_t (a int)");
	rewrite_expect("CREATE INDEXES", SBX_MIGRATE_DSQL, "CREATE INDEXES");
	rewrite_expect("CREATE UNIQUEINDEX i", SBX_MIGRATE_DSQL, "CREATE UNIQUEINDEX i");
	rewrite_expect("INSERT INTO t VALUES ('CREATE INDEX')", SBX_MIGRATE_DSQL,
	    "INSERT INTO t VALUES ('CREATE INDEX')");
	/* PostgreSQL: unchanged */
	rewrite_expect("CREATE INDEX IF NOT EXISTS i ON t (a)", SBX_MIGRATE_POSTGRES,
	    "CREATE INDEX IF NOT EXISTS i ON t (a)");
}

/* ------------------------------------------------------------ file names */

static void
test_file_names(void **state)
{
	static const char *const bad[] = {
		"01_init.sql", "001init.sql", "001_.sql", "001_in it.sql",
		"001_init.sql~", "001_init.SQL", "abc_init.sql", "001_init",
		".001_init.sql", "001_init.sql.orig", "0001_init.sql", "",
	};
	char version[4];
	char *name = NULL;
	size_t i;

	(void)state;
	assert_true(sbx_migrate_file_parse("001_init.sql", version, &name));
	assert_string_equal(version, "001");
	assert_string_equal(name, "001_init");
	free(name);
	name = NULL;
	assert_true(sbx_migrate_file_parse("020_sandbox-stack_2.sql", version, &name));
	assert_string_equal(version, "020");
	assert_string_equal(name, "020_sandbox-stack_2");
	free(name);
	for (i = 0; i < N(bad); i++) {
		name = NULL;
		if (sbx_migrate_file_parse(bad[i], version, &name))
			fail_msg("accepted %s", bad[i]);
		assert_null(name);
	}
}

/* $1 in a migration is the issuer users are bound to (030). */
static void
test_migration_param(void **state)
{
	(void)state;
	assert_true(sbx_migrate_uses_param("UPDATE users SET oidc_iss = $1 WHERE x"));
	assert_true(sbx_migrate_uses_param("SELECT $1"));
	assert_false(sbx_migrate_uses_param("SELECT $10"));
	assert_false(sbx_migrate_uses_param("CREATE TABLE t (a text)"));
	assert_false(sbx_migrate_uses_param("SELECT '$' || 'x'"));

	unsetenv("SBX_ENV_FILE");
	unsetenv("OIDC_ISSUER");
	assert_string_equal(sbx_migrate_issuer(), "https://accounts.google.com");
	setenv("OIDC_ISSUER", "accounts.google.com", 1);
	assert_string_equal(sbx_migrate_issuer(), "https://accounts.google.com");
	setenv("OIDC_ISSUER", "https://idp.example", 1);
	assert_string_equal(sbx_migrate_issuer(), "https://idp.example");
	unsetenv("OIDC_ISSUER");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqlstate),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_is_select),
		cmocka_unit_test(test_msg),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_query_args),
		cmocka_unit_test(test_split_basic),
		cmocka_unit_test(test_split_quotes),
		cmocka_unit_test(test_split_comments),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_file_names),
		cmocka_unit_test(test_migration_param),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
