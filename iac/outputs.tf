output "region" {
  description = "Region of the deployment."
  value       = var.region
}

output "alb_dns_name" {
  description = "DNS name of the load balancer: point domain_name at it (an alias or CNAME record) unless route53_zone_id made the record."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone id of the load balancer, for an alias record."
  value       = aws_lb.this.zone_id
}

output "base_url" {
  description = "BASE_URL of the service."
  value       = local.base_url
}

output "google_redirect_uri" {
  description = "Authorised redirect URI to register on the Google OAuth client (APIs & Services > Credentials > the client > Authorised redirect URIs)."
  value       = local.redirect_uri
}

locals {
  # `aws ecs run-task` of a job's task definition on the jobs' network,
  # printing the task's ARN; started_by says who ran it.
  run_task_commands = {
    for job, run in {
      migrate = { family = aws_ecs_task_definition.migrate.family, started_by = "sbx-migrate", more = [] }
      reaper = {
        family     = aws_ecs_task_definition.reaper.family
        started_by = "sbx-reaper-manual"
        more       = ["--overrides '{\"containerOverrides\":[{\"name\":\"reaper\",\"command\":[\"/opt/sbx/bin/sbx-reaper\",\"--once\"]}]}'"]
      }
      } : job => join(" ", concat([
        "aws ecs run-task",
        "--region ${var.region}",
        "--cluster ${aws_ecs_cluster.this.name}",
        "--task-definition ${run.family}",
        "--launch-type FARGATE",
        "--started-by ${run.started_by}",
        "--network-configuration '${local.jobs_network_cli}'",
    ], run.more, ["--query 'tasks[0].taskArn' --output text"]))
  }
}

output "migrate_command" {
  description = "Runs the migration task once (sbx-migrate --dialect dsql) and prints its task ARN. Run it after the first apply and after every apply that brings a new image; iac/README.md shows how to wait for it and read its exit code."
  value       = local.run_task_commands.migrate
}

output "reaper_run_command" {
  description = "Runs one extra reaper pass now (sbx-reaper --once), beside the reaper service (e.g. after fixing a stuck sandbox's cause); two reapers at once are safe."
  value       = local.run_task_commands.reaper
}

output "reaper_service_name" {
  description = "ECS service running the reaper (one task, sbx-reaper --loop)."
  value       = aws_ecs_service.reaper.name
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies (alarm_email is subscribed to it, once confirmed)."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_url" {
  description = "The CloudWatch dashboard of the deployment: the expiry promise, the reaper, the load balancer."
  value       = "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}

output "google_client_secret_put_command" {
  description = "Puts GOOGLE_CLIENT_SECRET into Secrets Manager from the shell variable of that name (when Terraform does not write it: google_client_secret_version = 0). Then force a new deployment of the service."
  value       = "aws secretsmanager put-secret-value --region ${var.region} --secret-id ${aws_secretsmanager_secret.this["GOOGLE_CLIENT_SECRET"].arn} --secret-string \"$GOOGLE_CLIENT_SECRET\""
}

output "force_new_deployment_command" {
  description = "Restarts the service's tasks (rolling, behind the load balancer), e.g. so that they read changed secrets."
  value       = "aws ecs update-service --region ${var.region} --cluster ${aws_ecs_cluster.this.name} --service ${aws_ecs_service.service.name} --force-new-deployment"
}

output "ecs_cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "ecs_service_name" {
  description = "ECS service running nginx + the responders."
  value       = aws_ecs_service.service.name
}

output "dsql_cluster_identifier" {
  description = "Aurora DSQL cluster identifier."
  value       = aws_dsql_cluster.this.identifier
}

output "dsql_endpoint" {
  description = "Aurora DSQL endpoint (port 5432, database postgres, IAM token as password; the tasks connect as sbx_app, the migration as admin)."
  value       = local.dsql_endpoint
}

output "database_url" {
  description = "DATABASE_URL the service and the reaper use (user sbx_app, with DB_AUTH=dsql-iam; it holds no password). The migration uses the same with the user admin."
  value       = local.database_url
}

output "cfn_role_arn" {
  description = "CFN_ROLE_ARN: the role CloudFormation uses for the sandboxes' stacks. Attach more policies (cfn_role_extra_policy_arns) for templates beyond the default one."
  value       = aws_iam_role.cfn.arn
}

output "secret_arns" {
  description = "Secrets Manager secrets passed to the tasks."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "log_groups" {
  description = "CloudWatch log groups of the service, the reaper and the migration."
  value = {
    service = aws_cloudwatch_log_group.service.name
    reaper  = aws_cloudwatch_log_group.reaper.name # each run's summary: aws logs tail --follow
    migrate = aws_cloudwatch_log_group.migrate.name
  }
}
