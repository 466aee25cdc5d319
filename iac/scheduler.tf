# The reaper keeps the product's promise that nothing outlives its
# expiry: EventBridge Scheduler starts one `sbx-reaper --once` task every
# reaper_interval_minutes (DESIGN.md §4). Runs may overlap (a Fargate task
# can take most of a minute to start): reapers claim rows with
# conditional UPDATEs, so two at once never handle a sandbox twice, and a
# run killed half-way is completed by the next.
#
# No retries: a missed invocation is made up by the next one a minute
# later, and retrying would only pile up tasks during an outage.

resource "aws_scheduler_schedule" "reaper" {
  name        = "${var.name}-reaper"
  description = "Runs sbx-reaper --once for ${var.name}"
  state       = var.reaper_enabled ? "ENABLED" : "DISABLED"

  schedule_expression          = local.reaper_schedule
  schedule_expression_timezone = "UTC"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_ecs_cluster.this.arn
    role_arn = aws_iam_role.scheduler.arn

    ecs_parameters {
      task_definition_arn     = aws_ecs_task_definition.reaper.arn
      launch_type             = "FARGATE"
      task_count              = 1
      enable_ecs_managed_tags = true
      propagate_tags          = "TASK_DEFINITION"

      network_configuration {
        subnets          = var.service_subnet_ids
        security_groups  = [aws_security_group.jobs.id]
        assign_public_ip = var.assign_public_ip
      }
    }

    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 60
    }
  }

  # The role must be able to run the task before the first invocation.
  depends_on = [
    aws_iam_role_policy.scheduler,
    aws_secretsmanager_secret_version.notify_webhook_secret,
  ]
}
