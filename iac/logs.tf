# One log group per kind of task. Every binary writes one JSON object per
# line on stderr (README.md "Logs"); nginx's access log goes to stdout.
# The awslogs driver ships both; CloudWatch Logs Insights parses the JSON
# (e.g. `filter level = "error"`). Secrets and tokens are never logged.

resource "aws_cloudwatch_log_group" "service" {
  name              = "/ecs/${var.name}/service"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "reaper" {
  name              = "/ecs/${var.name}/reaper"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "migrate" {
  name              = "/ecs/${var.name}/migrate"
  retention_in_days = var.log_retention_days
}
