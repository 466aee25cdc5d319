# ECS Fargate: one cluster, one image (var.image), three task definitions.
#
#   service  the image's own command (scripts/container-start): nginx on
#            8443 with a self-signed certificate, and each responder as
#            SBX_WORKERS processes under spawn-fcgi + multiwatch; tini is
#            PID 1. Run as an ECS service behind the load balancer.
#   reaper   sbx-reaper --loop: a run every reaper_interval_minutes, as an
#            ECS service of one task (below).
#   migrate  sbx-migrate --dialect dsql, run by the operator after each
#            apply that brings a new image (output migrate_command).
#
# Every container runs as the image's unprivileged user (10001, "sbx"):
# nginx on 8443, spawn-fcgi, multiwatch and the responders, the reaper
# and the migration. The service writes its state under /run/sbx.
#
# Why the reaper is a service and not a scheduled task: a task started
# every minute pulls the image through the NAT each time (1,440 pulls a
# day), can still be starting when the next one is due, and a failed
# start is simply lost (no retry, no dead-letter queue). One long-running
# task pulls the image once, runs every interval without a cold start,
# and is restarted by ECS when it dies; several reapers at once are safe
# (rows are claimed with conditional UPDATEs), so a deployment may
# overlap the old task with the new one.

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }
}

locals {
  runtime_platform = {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  log_options = {
    "awslogs-region"        = var.region
    "awslogs-stream-prefix" = var.name
  }
}

# ---------------------------------------------------------------- service

resource "aws_ecs_task_definition" "service" {
  family                   = "${var.name}-service"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.service_cpu
  memory                   = var.service_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.app.arn

  runtime_platform {
    operating_system_family = local.runtime_platform.operating_system_family
    cpu_architecture        = local.runtime_platform.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name      = "service"
      image     = var.image
      essential = true
      user      = local.container_user

      portMappings = [
        {
          containerPort = local.container_port
          protocol      = "tcp"
        },
      ]

      environment = local.environment_service
      secrets     = local.secrets_service

      # container-start ends the container when nginx or a responder's
      # supervisor exits; ECS then replaces the task. On TERM it asks
      # nginx to finish the requests in flight, then stops the
      # responders, within 25 s (SBX_STOP_TIMEOUT_SECONDS).
      stopTimeout = 30

      logConfiguration = {
        logDriver = "awslogs"
        options   = merge(local.log_options, { "awslogs-group" = aws_cloudwatch_log_group.service.name })
      }
    },
  ])
}

resource "aws_ecs_service" "service" {
  name            = "${var.name}-service"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.service.arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"

  # New tasks get this long to render nginx's configuration and start
  # before failed health checks count against them.
  health_check_grace_period_seconds = 60

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  # A new image that never becomes healthy is rolled back, not left
  # failing in a loop.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.service_subnet_ids
    security_groups  = [aws_security_group.this["service"].id]
    assign_public_ip = var.assign_public_ip
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.service.arn
    container_name   = "service"
    container_port   = local.container_port
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  # The target group must belong to a load balancer (through a listener)
  # before a service can register targets in it; the secrets' first
  # values must exist before a task can start.
  depends_on = [
    aws_lb_listener.https,
    aws_iam_role_policy.execution_secrets,
    aws_iam_role_policy_attachment.execution_managed,
    aws_secretsmanager_secret_version.generated,
    aws_secretsmanager_secret_version.google_client_secret,
  ]
}

# ----------------------------------------------------------------- reaper

resource "aws_ecs_task_definition" "reaper" {
  family                   = "${var.name}-reaper"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.job_cpu
  memory                   = var.job_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.app.arn

  runtime_platform {
    operating_system_family = local.runtime_platform.operating_system_family
    cpu_architecture        = local.runtime_platform.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name      = "reaper"
      image     = var.image
      essential = true
      user      = local.container_user

      # A run every interval; each prints its one-line JSON summary, with
      # the figures the alarms watch in CloudWatch EMF (monitoring.tf).
      # TERM ends the loop after the row at hand.
      command = ["/opt/sbx/bin/sbx-reaper", "--loop", tostring(var.reaper_interval_minutes * 60)]

      environment = local.environment_reaper
      secrets     = local.secrets_reaper
      stopTimeout = 30

      logConfiguration = {
        logDriver = "awslogs"
        options   = merge(local.log_options, { "awslogs-group" = aws_cloudwatch_log_group.reaper.name })
      }
    },
  ])
}

resource "aws_ecs_service" "reaper" {
  name            = "${var.name}-reaper"
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.reaper.arn
  desired_count   = var.reaper_enabled ? 1 : 0
  launch_type     = "FARGATE"

  # The new reaper starts before the old one stops: never a gap, and two
  # at once are safe.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.service_subnet_ids
    security_groups  = [aws_security_group.this["jobs"].id]
    assign_public_ip = var.assign_public_ip
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  depends_on = [
    aws_iam_role_policy.execution_secrets,
    aws_iam_role_policy_attachment.execution_managed,
    aws_secretsmanager_secret_version.generated,
  ]
}

# ---------------------------------------------------------------- migrate

resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.job_cpu
  memory                   = var.job_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.migrate.arn

  runtime_platform {
    operating_system_family = local.runtime_platform.operating_system_family
    cpu_architecture        = local.runtime_platform.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name      = "migrate"
      image     = var.image
      essential = true
      user      = local.container_user

      # Applies schema/NNN_*.sql (SBX_SCHEMA_DIR, set in the image) that
      # are not yet recorded, then makes sure of the application role
      # sbx_app, its IAM mapping to the app task role and its grants;
      # idempotent, so running it again is safe.
      command = ["/opt/sbx/bin/sbx-migrate", "--dialect", "dsql"]

      environment = local.environment_migrate

      logConfiguration = {
        logDriver = "awslogs"
        options   = merge(local.log_options, { "awslogs-group" = aws_cloudwatch_log_group.migrate.name })
      }
    },
  ])
}
