# Aurora DSQL: the shared state of every task (DESIGN.md §3). A
# single-region cluster; its public endpoint
# <identifier>.dsql.<region>.on.aws:5432 takes TLS connections whose
# password is a short-lived IAM token, so there is no password to keep.
# The service and the reaper hold dsql:DbConnect (iam.tf) and connect as
# the database role sbx_app; only the migration task holds
# dsql:DbConnectAdmin and connects as admin. The schema, the role sbx_app,
# its IAM mapping and its grants are made by the migration task
# (outputs.tf: migrate_command), not by Terraform. Backups: AWS Backup
# (iac/README.md).

resource "aws_dsql_cluster" "this" {
  deletion_protection_enabled = var.dsql_deletion_protection

  tags = { Name = "${var.name}-db" }
}
