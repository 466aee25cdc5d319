# Telling someone when the promise breaks. The reaper's one-line summary
# carries the figures of GET /metrics in CloudWatch Embedded Metric Format
# (namespace local.metrics_namespace, no dimensions): CloudWatch Logs
# turns them into metrics as the awslogs driver ships the line, with no
# API call of ours (README.md "Metrics"). Every alarm below notifies one
# SNS topic, which var.alarm_email is subscribed to; OK notifications
# too, so that the mail also says when it is over.
#
#   overdue    a live sandbox more than METRICS_OVERDUE_GRACE_SECONDS past
#              its expiry, two periods in a row
#   no run     no completed reaper run for 5 minutes: the age of the last
#              one above 300 s, or no figure at all (the reaper is not
#              running, or cannot reach the database): missing = breaching
#   stuck      a sandbox the reaper gave up on
#   failed     a reaper run that ended with "ok": false (what `--once`
#              exits 1 for), counted by a metric filter on the summaries
#   5xx        the load balancer's and the targets' 5xx answers
#   unhealthy  a target failing its health check

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]

  alb_dimensions = {
    LoadBalancer = aws_lb.this.arn_suffix
  }
  target_dimensions = {
    LoadBalancer = aws_lb.this.arn_suffix
    TargetGroup  = aws_lb_target_group.service.arn_suffix
  }
}

# ------------------------------------------------------------------ topic

resource "aws_sns_topic" "alarms" {
  name = "${var.name}-alarms"
}

# CloudWatch alarms of this account may publish, nothing else.
data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "CloudWatchAlarmsOfThisAccount"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid = "OwnerManages"
    actions = [
      "sns:GetTopicAttributes",
      "sns:SetTopicAttributes",
      "sns:Subscribe",
      "sns:ListSubscriptionsByTopic",
      "sns:Publish",
    ]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

# AWS mails a confirmation link first; until it is clicked, the
# subscription stays "PendingConfirmation" and nothing is delivered.
resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email != null ? 1 : 0

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# --------------------------------------------------------- the promise

resource "aws_cloudwatch_metric_alarm" "overdue" {
  alarm_name        = "${var.name}-sandboxes-overdue"
  alarm_description = "Sandboxes have outlived their expiry by more than ${var.metrics_overdue_grace_seconds} s: the reaper is not deleting them (see its log ${aws_cloudwatch_log_group.reaper.name}, and GET /api/jobs/reaper)."

  namespace           = local.metrics_namespace
  metric_name         = "sbx_sandboxes_overdue"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  # Silence is the no-run alarm's business.
  treat_missing_data = "missing"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "reaper_no_run" {
  alarm_name        = "${var.name}-reaper-no-completed-run"
  alarm_description = "No completed reaper run for 5 minutes: expired sandboxes are not being deleted. Check the ECS service ${var.name}-reaper and its log ${aws_cloudwatch_log_group.reaper.name}."

  namespace           = local.metrics_namespace
  metric_name         = "sbx_reaper_last_run_age_seconds"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 300
  # No figure at all means no reaper ran (or none reached the database).
  treat_missing_data = "breaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "stuck" {
  alarm_name        = "${var.name}-sandboxes-stuck"
  alarm_description = "A sandbox is stuck after REAPER_MAX_ATTEMPTS failed attempts: an operator must look (GET /api/jobs/reaper, then /retry or /forget)."

  namespace           = local.metrics_namespace
  metric_name         = "sbx_sandboxes_stuck"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "missing"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
}

# A run that wants an operator (database unreachable, AWS credentials
# refused, settings wrong) says "ok": false in its summary; `--once`
# would exit 1 for it. Dry runs are an operator's own and do not count.
resource "aws_cloudwatch_log_metric_filter" "reaper_failed" {
  name           = "${var.name}-reaper-failed-runs"
  log_group_name = aws_cloudwatch_log_group.reaper.name
  pattern        = "{ ($.ok IS FALSE) && ($.dry_run IS FALSE) }"

  metric_transformation {
    name          = "sbx_reaper_runs_failed"
    namespace     = local.metrics_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "reaper_failed" {
  alarm_name        = "${var.name}-reaper-run-failed"
  alarm_description = "A reaper run ended with an error an operator must see (the summary's \"error\" says which) in ${aws_cloudwatch_log_group.reaper.name}."

  namespace           = local.metrics_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.reaper_failed.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
}

# ---------------------------------------------------------- the front

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  alarm_name          = "${var.name}-alb-5xx"
  alarm_description   = "More than ${var.alb_5xx_threshold} 5xx answers (the load balancer's own, e.g. 502/503 with no healthy target, and the tasks') in 5 minutes, twice in a row."
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_5xx_threshold
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "total"
    expression  = "FILL(elb, 0) + FILL(target, 0)"
    label       = "5xx answers"
    return_data = true
  }

  metric_query {
    id = "elb"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = local.alb_dimensions
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "target"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.alb_dimensions
      stat        = "Sum"
      period      = 300
    }
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_targets" {
  alarm_name        = "${var.name}-unhealthy-targets"
  alarm_description = "A service task fails the load balancer's health check (/healthz, answered by nginx) for 2 minutes."

  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.target_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
}

# -------------------------------------------------------------- dashboard

locals {
  promise_metric = { for n in [
    "sbx_sandboxes_overdue",
    "sbx_sandboxes_overdue_oldest_age_seconds",
    "sbx_sandboxes_stuck",
    "sbx_reaper_last_run_age_seconds",
    "sbx_reaper_last_run_terminated",
    "sbx_reaper_last_run_failed",
    "sbx_webhook_outbox_depth",
    "sbx_webhook_oldest_pending_age_seconds",
    "sbx_reaper_runs_failed",
  ] : n => [local.metrics_namespace, n] }

  # The graphs, two to a row (12 x 6 each), left to right and top to
  # bottom; each a time series of this region.
  dashboard_graphs = [
    {
      title   = "Overdue and stuck sandboxes"
      stat    = "Maximum"
      period  = 60
      metrics = [local.promise_metric["sbx_sandboxes_overdue"], local.promise_metric["sbx_sandboxes_stuck"]]
    },
    {
      title   = "Seconds: oldest overdue, since the last reaper run"
      stat    = "Maximum"
      period  = 60
      metrics = [local.promise_metric["sbx_sandboxes_overdue_oldest_age_seconds"], local.promise_metric["sbx_reaper_last_run_age_seconds"]]
      annotations = {
        horizontal = [{ label = "no-run alarm", value = 300 }]
      }
    },
    {
      title  = "Reaper runs: terminated, failed actions, failed runs"
      period = 60
      metrics = [
        concat(local.promise_metric["sbx_reaper_last_run_terminated"], [{ stat = "Maximum" }]),
        concat(local.promise_metric["sbx_reaper_last_run_failed"], [{ stat = "Maximum" }]),
        concat(local.promise_metric["sbx_reaper_runs_failed"], [{ stat = "Sum" }]),
      ]
    },
    {
      title   = "Webhook outbox"
      stat    = "Maximum"
      period  = 60
      metrics = [local.promise_metric["sbx_webhook_outbox_depth"], local.promise_metric["sbx_webhook_oldest_pending_age_seconds"]]
    },
    {
      title  = "Load balancer: 5xx answers"
      stat   = "Sum"
      period = 300
      metrics = [
        ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", aws_lb.this.arn_suffix],
        ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", aws_lb.this.arn_suffix],
      ]
    },
    {
      title  = "Targets: healthy and unhealthy"
      stat   = "Maximum"
      period = 60
      metrics = [
        ["AWS/ApplicationELB", "HealthyHostCount", "TargetGroup", aws_lb_target_group.service.arn_suffix, "LoadBalancer", aws_lb.this.arn_suffix],
        ["AWS/ApplicationELB", "UnHealthyHostCount", "TargetGroup", aws_lb_target_group.service.arn_suffix, "LoadBalancer", aws_lb.this.arn_suffix],
      ]
    },
  ]

  dashboard_widgets = concat([
    for i, graph in local.dashboard_graphs : {
      type       = "metric", x = 12 * (i % 2), y = 6 * floor(i / 2), width = 12, height = 6
      properties = merge({ region = var.region, view = "timeSeries" }, graph)
    }
    ], [
    {
      type = "alarm", x = 0, y = 18, width = 24, height = 3
      properties = {
        title = "Alarms"
        alarms = [
          aws_cloudwatch_metric_alarm.overdue.arn,
          aws_cloudwatch_metric_alarm.reaper_no_run.arn,
          aws_cloudwatch_metric_alarm.stuck.arn,
          aws_cloudwatch_metric_alarm.reaper_failed.arn,
          aws_cloudwatch_metric_alarm.alb_5xx.arn,
          aws_cloudwatch_metric_alarm.unhealthy_targets.arn,
        ]
      }
    },
  ])
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
