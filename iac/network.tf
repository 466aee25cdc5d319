# Security groups. Rules are separate resources, so the load balancer's
# and the service's groups can name each other without a cycle.
#
#   alb:     443 and 80 from alb_ingress_cidrs; out only to the service on 8443
#   service: 8443 from the load balancer only; out to HTTPS and DSQL
#   jobs:    (reaper, migration) nothing in; out to HTTPS and DSQL

resource "aws_security_group" "alb" {
  name_prefix = "${var.name}-alb-"
  description = "Load balancer of ${var.name}: HTTPS and HTTP from the internet"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-alb" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "service" {
  name_prefix = "${var.name}-service-"
  description = "ECS service tasks of ${var.name}: 8443 from the load balancer only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-service" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "jobs" {
  name_prefix = "${var.name}-jobs-"
  description = "Reaper and migration tasks of ${var.name}: outgoing only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name}-jobs" }

  lifecycle {
    create_before_destroy = true
  }
}

# ------------------------------------------------------------ load balancer

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

# Port 80 only answers with a redirect to HTTPS (alb.tf).
resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each = toset(var.alb_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from clients (redirected to HTTPS)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "alb_to_service" {
  security_group_id            = aws_security_group.alb.id
  description                  = "HTTPS to the service tasks (requests and health checks)"
  referenced_security_group_id = aws_security_group.service.id
  ip_protocol                  = "tcp"
  from_port                    = local.container_port
  to_port                      = local.container_port
}

# ---------------------------------------------------------------- service

resource "aws_vpc_security_group_ingress_rule" "service_from_alb" {
  security_group_id            = aws_security_group.service.id
  description                  = "HTTPS from the load balancer only"
  referenced_security_group_id = aws_security_group.alb.id
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

resource "aws_vpc_security_group_egress_rule" "service_out" {
  for_each = local.task_egress_ports

  security_group_id = aws_security_group.service.id
  description       = "Outgoing ${each.key}"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = each.value
  to_port           = each.value
}

# ------------------------------------------------------------------- jobs

resource "aws_vpc_security_group_egress_rule" "jobs_out" {
  for_each = local.task_egress_ports

  security_group_id = aws_security_group.jobs.id
  description       = "Outgoing ${each.key}"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = each.value
  to_port           = each.value
}

# The VPC's address range: the load balancer's nodes live in it, so nginx
# trusts X-Forwarded-For from there (NGINX_REAL_IP_FROM) and rate-limits
# each client rather than each balancer node.
data "aws_vpc" "this" {
  id = var.vpc_id
}
