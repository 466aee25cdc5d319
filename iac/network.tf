# Security groups. Rules are separate resources, so the load balancer's
# and the service's groups can name each other without a cycle.
#
#   alb:     443 and 80 from alb_ingress_cidrs; out only to the service on 8443
#   service: 8443 from the load balancer only; out to HTTPS and DSQL
#   jobs:    (reaper, migration) nothing in; out to HTTPS and DSQL

locals {
  # Each group: its description.
  security_groups = {
    alb     = "Load balancer of ${var.name}: HTTPS and HTTP from the internet"
    service = "ECS service tasks of ${var.name}: 8443 from the load balancer only"
    jobs    = "Reaper and migration tasks of ${var.name}: outgoing only"
  }
}

resource "aws_security_group" "this" {
  for_each = local.security_groups

  name_prefix = "${var.name}-${each.key}-"
  description = each.value
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-${each.key}" }

  lifecycle {
    create_before_destroy = true
  }
}

# ------------------------------------------------------------ load balancer

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.this["alb"].id
  description       = "HTTPS from clients"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

# Port 80 only answers with a redirect to HTTPS (alb.tf).
resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.this["alb"].id
  description       = "HTTP from clients (redirected to HTTPS)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "alb_to_service" {
  security_group_id            = aws_security_group.this["alb"].id
  description                  = "HTTPS to the service tasks (requests and health checks)"
  referenced_security_group_id = aws_security_group.this["service"].id
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
}

# ------------------------------------------------------- service and jobs

resource "aws_vpc_security_group_ingress_rule" "service_from_alb" {
  security_group_id            = aws_security_group.this["service"].id
  description                  = "HTTPS from the load balancer only"
  referenced_security_group_id = aws_security_group.this["alb"].id
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
}

# Outgoing: HTTPS to Google (OIDC), AWS APIs (CloudFormation, Secrets
# Manager, ECR, CloudWatch Logs, STS) and webhooks; 5432 to the Aurora
# DSQL endpoint. Their addresses are not fixed, hence 0.0.0.0/0. DNS to
# the VPC resolver is not subject to security groups.
locals {
  task_egress_ports = {
    https = 443
    dsql  = 5432
  }
}

# The service's and the jobs' groups alike: "service_https", "jobs_dsql"...
resource "aws_vpc_security_group_egress_rule" "task_out" {
  for_each = {
    for pair in setproduct(["service", "jobs"], keys(local.task_egress_ports)) :
    "${pair[0]}_${pair[1]}" => { group = pair[0], what = pair[1] }
  }

  security_group_id = aws_security_group.this[each.value.group].id
  description       = "Outgoing ${each.value.what}"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = local.task_egress_ports[each.value.what]
  to_port           = local.task_egress_ports[each.value.what]
}

# The VPC's address range: the load balancer's nodes live in it, so nginx
# trusts X-Forwarded-For from there (NGINX_REAL_IP_FROM) and rate-limits
# each client rather than each balancer node.
data "aws_vpc" "this" {
  id = var.vpc_id
}

# The addresses these had before they were made from the tables above: a
# deployed stack keeps its groups and rules.
moved {
  from = aws_security_group.alb
  to   = aws_security_group.this["alb"]
}

moved {
  from = aws_security_group.service
  to   = aws_security_group.this["service"]
}

moved {
  from = aws_security_group.jobs
  to   = aws_security_group.this["jobs"]
}

moved {
  from = aws_vpc_security_group_egress_rule.service_out["https"]
  to   = aws_vpc_security_group_egress_rule.task_out["service_https"]
}

moved {
  from = aws_vpc_security_group_egress_rule.service_out["dsql"]
  to   = aws_vpc_security_group_egress_rule.task_out["service_dsql"]
}

moved {
  from = aws_vpc_security_group_egress_rule.jobs_out["https"]
  to   = aws_vpc_security_group_egress_rule.task_out["jobs_https"]
}

moved {
  from = aws_vpc_security_group_egress_rule.jobs_out["dsql"]
  to   = aws_vpc_security_group_egress_rule.task_out["jobs_dsql"]
}
