# The cloud deployment of cloud-sandbox-management (DESIGN.md §7):
#
#   internet --443--> ALB (ACM certificate; 80 redirects to 443)
#            --HTTPS 8443--> ECS Fargate service: one image, nginx + the
#                            FastCGI responders (scripts/container-start)
#   ECS service "<name>-reaper", one task: sbx-reaper --loop 60
#   operator --aws ecs run-task--> ECS task: sbx-migrate --dialect dsql
#   service and reaper --IAM token (dsql:DbConnect)--> Aurora DSQL as the
#                       role sbx_app; migration (dsql:DbConnectAdmin) as admin
#   service and reaper --RoleARN--> CloudFormation, acting with its own
#                                   service role on the sandboxes' stacks
#   reaper's summary (EMF) and the ALB --> CloudWatch alarms --> SNS --> email
#
# Files by concern: network.tf (security groups), alb.tf (load balancer,
# certificate, DNS), dsql.tf, secrets.tf, logs.tf, iam.tf, ecs.tf
# (cluster, task definitions, the service and the reaper), monitoring.tf
# (alarms, their topic, the dashboard).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  base_url     = "https://${var.domain_name}"
  redirect_uri = "${local.base_url}/auth/callback"

  # The image's own settings (Dockerfile): nginx listens for the ALB on
  # HTTPS_PORT with a certificate made at container start.
  container_port = 8443

  # The image's user (Dockerfile USER): every task runs as it.
  container_user = "10001:10001"

  # libpq 15 has no sslrootcert=system: name Debian's CA bundle, which the
  # image installs (ca-certificates). The IAM token's action follows the
  # user (common/io/aws.c): the service and the reaper connect as the
  # application role with DbConnect; only the migration, which creates
  # that role and its grants, connects as admin with DbConnectAdmin.
  dsql_endpoint      = "${aws_dsql_cluster.this.identifier}.dsql.${var.region}.on.aws"
  dsql_app_role      = "sbx_app"
  database_url_tail  = "@${local.dsql_endpoint}:5432/postgres?sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt"
  database_url       = "postgresql://${local.dsql_app_role}${local.database_url_tail}"
  database_url_admin = "postgresql://admin${local.database_url_tail}"

  # The reaper's EMF figures and the alarms on them (monitoring.tf), one
  # namespace per deployment.
  metrics_namespace = "Sbx/${var.name}"

  # Settings shared by every binary (README.md "Settings").
  env_common = {
    AWS_REGION                    = var.region
    DATABASE_URL                  = local.database_url
    DB_AUTH                       = "dsql-iam"
    LOG_LEVEL                     = var.log_level
    METRICS_NAMESPACE             = local.metrics_namespace
    METRICS_OVERDUE_GRACE_SECONDS = var.metrics_overdue_grace_seconds
  }

  # Sandboxes and CloudFormation: sbx-sandboxes, sbx-jobs and sbx-reaper.
  env_sandbox = {
    CFN_ROLE_ARN                 = aws_iam_role.cfn.arn
    SANDBOX_DEFAULT_TTL_MINUTES  = var.sandbox_default_ttl_minutes
    SANDBOX_MAX_TTL_MINUTES      = var.sandbox_max_ttl_minutes
    SANDBOX_MAX_LIFETIME_MINUTES = var.sandbox_max_lifetime_minutes
    SANDBOX_MAX_PER_USER         = var.sandbox_max_per_user
    STACK_NAME_PREFIX            = var.stack_name_prefix
    REAPER_INTERVAL_SECONDS      = var.reaper_interval_minutes * 60
    REAPER_BACKOFF_SECONDS       = var.reaper_backoff_seconds
    REAPER_MAX_ATTEMPTS          = var.reaper_max_attempts
    REAPER_BATCH_SIZE            = var.reaper_batch_size
  }

  # The service container: sign-in, the front, and the responders.
  env_service = merge(local.env_common, local.env_sandbox, {
    BASE_URL               = local.base_url
    GOOGLE_CLIENT_ID       = var.google_client_id
    OIDC_ISSUER            = var.oidc_issuer
    ALLOWED_EMAIL_DOMAINS  = join(",", var.allowed_email_domains)
    ADMIN_EMAILS           = join(",", var.admin_emails)
    SESSION_TTL_SECONDS    = var.session_ttl_seconds
    SBX_WORKERS            = var.sbx_workers
    NGINX_WORKER_PROCESSES = var.nginx_worker_processes
    HTTPS_PORT             = local.container_port
    RATE_LIMIT_API         = var.rate_limit_api
    RATE_LIMIT_API_BURST   = var.rate_limit_api_burst
    RATE_LIMIT_AUTH        = var.rate_limit_auth
    RATE_LIMIT_AUTH_BURST  = var.rate_limit_auth_burst
    NGINX_REAL_IP_FROM     = data.aws_vpc.this.cidr_block
    # Above the load balancer's idle timeout, from the same variable
    # (alb.tf), so that the balancer never reuses a connection nginx closed.
    NGINX_KEEPALIVE_TIMEOUT = "${var.alb_idle_timeout + 15}s"
  })

  # The reaper: sandboxes, CloudFormation, expiry warnings and webhooks.
  env_reaper = merge(local.env_common, local.env_sandbox, {
    NOTIFY_WEBHOOK_URL     = var.notify_webhook_url
    EXPIRY_WARNING_MINUTES = var.expiry_warning_minutes
  })

  # The migration: as admin, and the task roles to map to the
  # application role (sbx-migrate --dialect dsql).
  env_migrate = merge(local.env_common, {
    DATABASE_URL           = local.database_url_admin
    DSQL_APP_ROLE          = local.dsql_app_role
    DSQL_APP_ROLE_IAM_ARNS = join(",", [aws_iam_role.app.arn])
  })

  # ECS wants [{name, value}] with string values. Empty and null values
  # are left out (the binaries treat KEY= as unset anyway); a map's keys
  # come out sorted, so the task definition does not churn.
  environment_service = [for k, v in local.env_service : { name = k, value = tostring(v) } if v != null && v != ""]
  environment_reaper  = [for k, v in local.env_reaper : { name = k, value = tostring(v) } if v != null && v != ""]
  environment_migrate = [for k, v in local.env_migrate : { name = k, value = tostring(v) } if v != null && v != ""]

  # Secrets Manager -> environment variables, read by the ECS agent with
  # the execution role when a task starts.
  secrets_service = [
    { name = "SESSION_SECRET_KEY", valueFrom = aws_secretsmanager_secret.this["SESSION_SECRET_KEY"].arn },
    { name = "GOOGLE_CLIENT_SECRET", valueFrom = aws_secretsmanager_secret.this["GOOGLE_CLIENT_SECRET"].arn },
  ]
  secrets_reaper = [
    { name = "NOTIFY_WEBHOOK_SECRET", valueFrom = aws_secretsmanager_secret.this["NOTIFY_WEBHOOK_SECRET"].arn },
  ]

  # The network the one-off tasks run in, as the AWS CLI
  # spells it (output migrate_command).
  jobs_network_cli = format(
    "awsvpcConfiguration={subnets=[%s],securityGroups=[%s],assignPublicIp=%s}",
    join(",", var.service_subnet_ids),
    aws_security_group.this["jobs"].id,
    var.assign_public_ip ? "ENABLED" : "DISABLED",
  )
}
