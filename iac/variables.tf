# ---------------------------------------------------------------- general

variable "region" {
  description = "AWS region for everything here (ECS, ALB, Aurora DSQL, and the sandboxes' CloudFormation stacks), e.g. us-east-1. Aurora DSQL must be available in it."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be a region name such as us-east-1."
  }
}

variable "name" {
  description = "Name of this deployment: the prefix of every resource name (cluster, roles, secrets, log groups). Lower case, at most 20 characters, so that the load balancer and target group names stay within AWS's 32."
  type        = string
  default     = "sbx"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name)) && !endswith(var.name, "-")
    error_message = "name must start with a letter, hold only a-z, 0-9 and '-', not end with '-', and be at most 20 characters."
  }
}

variable "tags" {
  description = "Extra tags for every resource Terraform creates here (the sandboxes' stacks are tagged by the service, not by this)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------- network

variable "vpc_id" {
  description = "VPC for the load balancer and the ECS tasks."
  type        = string
}

variable "alb_subnet_ids" {
  description = "Public subnets (at least two, in different availability zones) for the internet-facing load balancer."
  type        = list(string)

  validation {
    condition     = length(var.alb_subnet_ids) >= 2
    error_message = "An application load balancer needs at least two subnets in different availability zones."
  }
}

variable "service_subnet_ids" {
  description = "Subnets for the ECS tasks (service, reaper, migration). The tasks call Google, CloudFormation, Secrets Manager, ECR, CloudWatch Logs and the Aurora DSQL endpoint over the internet: use private subnets with a NAT gateway, or public subnets with assign_public_ip = true."
  type        = list(string)

  validation {
    condition     = length(var.service_subnet_ids) >= 1
    error_message = "Give at least one subnet for the tasks (two or more for availability)."
  }
}

variable "assign_public_ip" {
  description = "Give the tasks public IP addresses: only when service_subnet_ids are public subnets without a NAT gateway."
  type        = bool
  default     = false
}

variable "alb_ingress_cidrs" {
  description = "IPv4 ranges allowed to reach the load balancer on 443 and 80."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "alb_deletion_protection" {
  description = "Turn on deletion protection for the load balancer (turn it off before `terraform destroy`)."
  type        = bool
  default     = false
}

variable "alb_ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

# ------------------------------------------------------ domain and certificate

variable "domain_name" {
  description = "Public host name of the service, e.g. sandboxes.example.com. BASE_URL is https://<domain_name>, and the redirect URI to register at Google is https://<domain_name>/auth/callback."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lower-case DNS name such as sandboxes.example.com (no scheme, port or path)."
  }
}

variable "certificate_arn" {
  description = "ARN of an issued ACM certificate for domain_name in this region. Leave null to have Terraform request one and validate it through DNS in route53_zone_id."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn != null || var.route53_zone_id != null
    error_message = "Give certificate_arn (an issued ACM certificate), or route53_zone_id so that Terraform can request and validate one."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone holding domain_name. When set, Terraform creates the alias record domain_name -> load balancer (and the certificate's validation records when certificate_arn is null). When null, point domain_name at the load balancer yourself (output alb_dns_name)."
  type        = string
  default     = null
}

# ------------------------------------------------------------------- image

variable "image" {
  description = "Container image built from the repository's Dockerfile (nginx + responders + sbx-reaper + sbx-migrate), e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/sbx:1.0.0. Prefer an immutable tag or a digest."
  type        = string
}

variable "cpu_architecture" {
  description = "CPU architecture the image was built for: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

# ------------------------------------------------------------ ECS sizing

variable "desired_count" {
  description = "Number of service tasks behind the load balancer (scale out by raising it; Aurora DSQL is the shared state)."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 0 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number, 0 or more."
  }
}

variable "service_cpu" {
  description = "Fargate CPU units of a service task (256, 512, 1024, 2048, 4096...)."
  type        = number
  default     = 512
}

variable "service_memory" {
  description = "Fargate memory (MiB) of a service task; must fit service_cpu."
  type        = number
  default     = 1024
}

variable "job_cpu" {
  description = "Fargate CPU units of the reaper and migration tasks."
  type        = number
  default     = 256
}

variable "job_memory" {
  description = "Fargate memory (MiB) of the reaper and migration tasks."
  type        = number
  default     = 512
}

variable "sbx_workers" {
  description = "SBX_WORKERS: processes per responder (sbx-meta, sbx-auth, sbx-sandboxes, sbx-jobs) in each service task; each holds one database connection."
  type        = number
  default     = 4

  validation {
    condition     = var.sbx_workers >= 1 && var.sbx_workers <= 64 && floor(var.sbx_workers) == var.sbx_workers
    error_message = "sbx_workers must be a whole number from 1 to 64."
  }
}

variable "nginx_worker_processes" {
  description = "NGINX_WORKER_PROCESSES in each service task: a number, or auto (one per CPU)."
  type        = string
  default     = "auto"

  validation {
    condition     = can(regex("^(auto|[1-9][0-9]?)$", var.nginx_worker_processes))
    error_message = "nginx_worker_processes must be auto or a number from 1 to 99."
  }
}

variable "container_insights" {
  description = "Turn on CloudWatch Container Insights for the ECS cluster."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------- sign-in

variable "google_client_id" {
  description = "GOOGLE_CLIENT_ID: the OAuth client id (type Web application) from the Google Cloud console."
  type        = string
}

variable "google_client_secret" {
  description = "GOOGLE_CLIENT_SECRET, written to Secrets Manager only when google_client_secret_version is 1 or more. Ephemeral: never stored in the Terraform state or plan. Leave null to put the value with the AWS CLI instead (output google_client_secret_put_command)."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = var.google_client_secret_version == 0 || var.google_client_secret != null
    error_message = "google_client_secret_version is 1 or more, so google_client_secret must be given (e.g. TF_VAR_google_client_secret)."
  }
}

variable "google_client_secret_version" {
  description = "0: Terraform does not write GOOGLE_CLIENT_SECRET (put it with the AWS CLI). 1 or more: Terraform writes var.google_client_secret; raise the number to write a new value."
  type        = number
  default     = 0

  validation {
    condition     = var.google_client_secret_version >= 0 && floor(var.google_client_secret_version) == var.google_client_secret_version
    error_message = "google_client_secret_version must be a whole number, 0 or more."
  }
}

variable "oidc_issuer" {
  description = "OIDC_ISSUER: the OpenID provider's issuer URL."
  type        = string
  default     = "https://accounts.google.com"
}

variable "allowed_email_domains" {
  description = "ALLOWED_EMAIL_DOMAINS: domains whose verified users may sign in (the Workspace hd claim when present, else the email's domain). [\"*\"] allows any verified account."
  type        = list(string)

  validation {
    condition     = length(var.allowed_email_domains) >= 1 && alltrue([for d in var.allowed_email_domains : d == "*" || can(regex("^[a-z0-9.-]+\\.[a-z]{2,63}$", d))])
    error_message = "allowed_email_domains must list at least one lower-case domain, or be [\"*\"]."
  }
}

variable "admin_emails" {
  description = "ADMIN_EMAILS: administrators (see and change every sandbox, manage templates, disable users)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.admin_emails : can(regex("^[^@,\\s]+@[^@,\\s]+$", e))])
    error_message = "admin_emails must be email addresses."
  }
}

variable "session_ttl_seconds" {
  description = "SESSION_TTL_SECONDS: lifetime of the service's session tokens."
  type        = number
  default     = 43200
}

variable "session_secret_key_version" {
  description = "Generation of SESSION_SECRET_KEY (generated at random by Terraform, never stored in the state). Raise it to rotate the key; every session then ends, and tasks read the new key when they next start (force a new deployment)."
  type        = number
  default     = 1
}

# -------------------------------------------------------------- sandboxes

variable "sandbox_default_ttl_minutes" {
  description = "SANDBOX_DEFAULT_TTL_MINUTES: lifetime of a sandbox when the request names none."
  type        = number
  default     = 15
}

variable "sandbox_max_ttl_minutes" {
  description = "SANDBOX_MAX_TTL_MINUTES: largest TTL a sandbox may be created with."
  type        = number
  default     = 240
}

variable "sandbox_max_lifetime_minutes" {
  description = "SANDBOX_MAX_LIFETIME_MINUTES: no extension past creation + this."
  type        = number
  default     = 1440
}

variable "sandbox_max_per_user" {
  description = "SANDBOX_MAX_PER_USER: live sandboxes per user."
  type        = number
  default     = 5
}

variable "stack_name_prefix" {
  description = "STACK_NAME_PREFIX: CloudFormation stack name = prefix + sandbox name. The service's IAM rights are limited to stacks with this prefix."
  type        = string
  default     = "sbx-"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,31}$", var.stack_name_prefix))
    error_message = "stack_name_prefix must start with a letter and hold only letters, digits and '-' (at most 32)."
  }
}

variable "sandbox_instance_types" {
  description = "EC2 instance types the CloudFormation service role may launch for sandboxes (the default template uses t3.micro)."
  type        = list(string)
  default     = ["t3.micro"]

  validation {
    condition     = length(var.sandbox_instance_types) >= 1
    error_message = "List at least one instance type (the default template uses t3.micro)."
  }
}

variable "ami_ssm_parameter_paths" {
  description = "Public SSM parameter paths the sandboxes' templates may resolve AMIs from (the default template reads /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64)."
  type        = list(string)
  default     = ["/aws/service/ami-amazon-linux-latest/*"]

  validation {
    condition     = alltrue([for p in var.ami_ssm_parameter_paths : startswith(p, "/")])
    error_message = "Each AMI parameter path must start with '/'."
  }
}

variable "cfn_role_extra_policy_arns" {
  description = "Extra managed policies for the CloudFormation service role, for templates that create more than an EC2 instance (the role starts with exactly what the default template needs)."
  type        = list(string)
  default     = []
}

# ----------------------------------------------------------------- reaper

variable "reaper_enabled" {
  description = "Run the reaper (a one-task ECS service running sbx-reaper --loop). Turn off only for maintenance: expired sandboxes are not deleted meanwhile, and the no-reaper-run alarm fires."
  type        = bool
  default     = true
}

variable "reaper_interval_minutes" {
  description = "Minutes between the reaper's runs (sbx-reaper --loop <this * 60>); also sets REAPER_INTERVAL_SECONDS, which the jobs API reports. The no-run alarm fires after 5 minutes without a completed run, so keep it at 1 to 3."
  type        = number
  default     = 1

  validation {
    condition     = var.reaper_interval_minutes >= 1 && var.reaper_interval_minutes <= 4 && floor(var.reaper_interval_minutes) == var.reaper_interval_minutes
    error_message = "reaper_interval_minutes must be a whole number from 1 to 4 (the no-run alarm fires after 5 minutes)."
  }
}

variable "reaper_backoff_seconds" {
  description = "REAPER_BACKOFF_SECONDS: base of the retry backoff for failed CloudFormation calls (capped at one hour)."
  type        = number
  default     = 30
}

variable "reaper_max_attempts" {
  description = "REAPER_MAX_ATTEMPTS: failed attempts before a sandbox is flagged stuck."
  type        = number
  default     = 8
}

variable "reaper_batch_size" {
  description = "REAPER_BATCH_SIZE: rows per reaper transaction (DSQL allows 3,000 changed rows per transaction)."
  type        = number
  default     = 100
}

variable "expiry_warning_minutes" {
  description = "EXPIRY_WARNING_MINUTES: the sandbox.expiring webhook is sent this long before expiry."
  type        = number
  default     = 5
}

variable "notify_webhook_url" {
  description = "NOTIFY_WEBHOOK_URL: where the reaper POSTs sandbox events, signed with NOTIFY_WEBHOOK_SECRET (generated by Terraform; read it from Secrets Manager for the receiver). null: no webhooks. The tasks' security group allows outgoing HTTPS on 443 only."
  type        = string
  default     = null

  validation {
    condition     = var.notify_webhook_url == null || can(regex("^https://", var.notify_webhook_url))
    error_message = "notify_webhook_url must be an https:// URL."
  }
}

variable "notify_webhook_secret_version" {
  description = "Generation of NOTIFY_WEBHOOK_SECRET (generated at random, never stored in the state). Raise it to rotate; give the receiver the new value."
  type        = number
  default     = 1
}

# ---------------------------------------------------- front and operations

variable "rate_limit_api" {
  description = "RATE_LIMIT_API: nginx's rate on /api/ per client address, in each service task (e.g. 50r/s). nginx takes the client's address from X-Forwarded-For set by the load balancer (NGINX_REAL_IP_FROM is the VPC's range), so this is per client, as in README.md; a client spread over N tasks gets up to N times this."
  type        = string
  default     = "50r/s"

  validation {
    condition     = can(regex("^[1-9][0-9]*r/[sm]$", var.rate_limit_api))
    error_message = "rate_limit_api must be nginx's form, e.g. 50r/s or 600r/m."
  }
}

variable "rate_limit_api_burst" {
  description = "RATE_LIMIT_API_BURST: requests a client may send at once above rate_limit_api before nginx answers 429."
  type        = number
  default     = 100
}

variable "rate_limit_auth" {
  description = "RATE_LIMIT_AUTH: nginx's rate on /auth/ per client address (sign-in costs calls to the IdP), in each service task."
  type        = string
  default     = "5r/s"

  validation {
    condition     = can(regex("^[1-9][0-9]*r/[sm]$", var.rate_limit_auth))
    error_message = "rate_limit_auth must be nginx's form, e.g. 5r/s or 300r/m."
  }
}

variable "rate_limit_auth_burst" {
  description = "RATE_LIMIT_AUTH_BURST."
  type        = number
  default     = 20
}

variable "alb_idle_timeout" {
  description = "Idle timeout (seconds) of the load balancer's connections. nginx's keep-alive (NGINX_KEEPALIVE_TIMEOUT) is set 15 s above it from this one value: were nginx to close an idle connection first, the load balancer could reuse it and answer 502. Keep it above 60, nginx's wait for a responder."
  type        = number
  default     = 65

  validation {
    condition     = var.alb_idle_timeout >= 61 && var.alb_idle_timeout <= 3600 && floor(var.alb_idle_timeout) == var.alb_idle_timeout
    error_message = "alb_idle_timeout must be a whole number of seconds from 61 to 3600."
  }
}

# ------------------------------------------------------------- monitoring

variable "alarm_email" {
  description = "Email address subscribed to the alarms' SNS topic (AWS sends a confirmation mail first: click its link, or no alarm reaches you). null: the topic has no subscriber; subscribe another endpoint to output alarm_topic_arn."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@,\\s]+@[^@,\\s]+\\.[^@,\\s]+$", var.alarm_email))
    error_message = "alarm_email must be an email address."
  }
}

variable "metrics_overdue_grace_seconds" {
  description = "METRICS_OVERDUE_GRACE_SECONDS: how far past its expiry a live sandbox must be to count as overdue (sbx_sandboxes_overdue, which the overdue alarm watches)."
  type        = number
  default     = 300
}

variable "alb_5xx_threshold" {
  description = "The 5xx alarm fires when the load balancer's and the targets' 5xx answers add up to more than this in 5 minutes, twice in a row."
  type        = number
  default     = 10
}

variable "log_level" {
  description = "LOG_LEVEL of every binary: debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the service's, reaper's and migration's logs (one of the values CloudWatch accepts; 0 keeps them forever)."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts: 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "dsql_deletion_protection" {
  description = "Deletion protection of the Aurora DSQL cluster (it holds every sandbox's record: turn it off deliberately before destroying)."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can still be restored (0 deletes at once; 7 to 30 otherwise)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0, or from 7 to 30."
  }
}
