/*
 * sbx-migrate: applies the numbered migrations schema/NNN_name.sql in
 * order and records each applied version in schema_migrations; with
 * --dialect dsql it also makes sure of the application role's grants. The
 * work is common/io/migrate.c's; this is its command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/core/config.h"
#include "common/io/db.h"
#include "common/io/migrate.h"

#ifndef SBX_SCHEMA_DIR
#define SBX_SCHEMA_DIR "schema"
#endif

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: sbx-migrate [--dialect postgres|dsql] [--dry-run] "
	    "[--dir DIR] [--help]\n"
	    "\n"
	    "Applies the migrations DIR/NNN_name.sql that schema_migrations\n"
	    "does not list yet, in order, each statement in its own\n"
	    "transaction, and records each version applied.\n"
	    "\n"
	    "  --dialect D  postgres (default) or dsql (CREATE INDEX becomes\n"
	    "               CREATE INDEX ASYNC, and its job is waited for;\n"
	    "               then the application role's grants, every run)\n"
	    "  --dry-run    print the statements it would run; change nothing\n"
	    "  --dir DIR    the migrations (default $SBX_SCHEMA_DIR, else\n"
	    "               %s)\n"
	    "  --help       this text\n"
	    "\n"
	    "Settings: DATABASE_URL, DB_AUTH, DB_CONNECT_TIMEOUT_SECONDS,\n"
	    "DSQL_APP_ROLE, DSQL_APP_ROLE_IAM_ARNS\n"
	    "(the environment, or the file SBX_ENV_FILE names).\n"
	    "Exit status: 0 done (or nothing to do), 1 failure.\n",
	    SBX_SCHEMA_DIR);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dialect", required_argument, NULL, 'D' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	enum sbx_migrate_dialect dialect = SBX_MIGRATE_POSTGRES;
	const char *dir = getenv("SBX_SCHEMA_DIR");
	int dry = 0, ret, c;

	if (dir == NULL || *dir == '\0')
		dir = SBX_SCHEMA_DIR;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			if (strcmp(optarg, "postgres") == 0)
				dialect = SBX_MIGRATE_POSTGRES;
			else if (strcmp(optarg, "dsql") == 0)
				dialect = SBX_MIGRATE_DSQL;
			else {
				fprintf(stderr, "sbx-migrate: --dialect must "
				    "be postgres or dsql\n");
				return 1;
			}
			break;
		case 'n':
			dry = 1;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	/* Logs go to stderr as JSON; what we print goes to stdout. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (sbx_config_load("sbx-migrate", SBX_NEED_DB) != SBX_OK)
		return 1;
	ret = sbx_migrate_run(dir, dialect, dry) == 0 ? 0 : 1;
	sbx_db_close();
	return ret;
}
