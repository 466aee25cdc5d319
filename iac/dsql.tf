# Aurora DSQL: the shared state of every task (DESIGN.md §3). A
# single-region cluster; its public endpoint
# <identifier>.dsql.<region>.on.aws:5432 takes TLS connections whose
# password is a short-lived IAM token, so there is no password to keep:
# the tasks' roles hold dsql:DbConnectAdmin on this cluster (iam.tf) and
# connect as the admin user. The schema is created by the migration task
# (outputs.tf: migrate_command), not by Terraform.

resource "aws_dsql_cluster" "this" {
  deletion_protection_enabled = var.dsql_deletion_protection

  tags = { Name = "${var.name}-db" }
}
