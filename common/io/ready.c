/* Readiness for GET /readyz: the database answers a query. */
#include "common/io/db.h"
#include "common/io/ready.h"

enum sbx_err
sbx_ready_check(void)
{
	return sbx_db_ping();
}
