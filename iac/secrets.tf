# The three secrets, passed to the tasks as ECS secrets (environment
# variables filled in by the ECS agent when a task starts; README.md
# "Settings"). Values go in through write-only arguments, so none is ever
# in the Terraform state or plan:
#
#   SESSION_SECRET_KEY     generated (64 random letters and digits); the
#                          service only (signs session tokens and cookies)
#   NOTIFY_WEBHOOK_SECRET  generated likewise; the reaper only (signs
#                          webhooks; give the receiver the value)
#   GOOGLE_CLIENT_SECRET   from the Google console: var.google_client_secret
#                          when google_client_secret_version >= 1, else put
#                          with the AWS CLI (output google_client_secret_put_command)
#
# A task reads its secrets when it starts: after changing one, force a
# new deployment of the service (the reaper's next run picks it up).

resource "aws_secretsmanager_secret" "session_secret_key" {
  name                    = "${var.name}/SESSION_SECRET_KEY"
  description             = "SESSION_SECRET_KEY of ${var.name}: signs the service's session tokens and cookies"
  recovery_window_in_days = var.secret_recovery_window_days
}

ephemeral "aws_secretsmanager_random_password" "session_secret_key" {
  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret_version" "session_secret_key" {
  secret_id                = aws_secretsmanager_secret.session_secret_key.id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.session_secret_key.random_password
  secret_string_wo_version = var.session_secret_key_version
}

resource "aws_secretsmanager_secret" "notify_webhook_secret" {
  name                    = "${var.name}/NOTIFY_WEBHOOK_SECRET"
  description             = "NOTIFY_WEBHOOK_SECRET of ${var.name}: HMAC key of the X-Sbx-Signature header on webhooks"
  recovery_window_in_days = var.secret_recovery_window_days
}

ephemeral "aws_secretsmanager_random_password" "notify_webhook_secret" {
  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret_version" "notify_webhook_secret" {
  secret_id                = aws_secretsmanager_secret.notify_webhook_secret.id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.notify_webhook_secret.random_password
  secret_string_wo_version = var.notify_webhook_secret_version
}

resource "aws_secretsmanager_secret" "google_client_secret" {
  name                    = "${var.name}/GOOGLE_CLIENT_SECRET"
  description             = "GOOGLE_CLIENT_SECRET of ${var.name}: the OAuth client secret from the Google Cloud console"
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "google_client_secret" {
  count = var.google_client_secret_version > 0 ? 1 : 0

  secret_id                = aws_secretsmanager_secret.google_client_secret.id
  secret_string_wo         = var.google_client_secret
  secret_string_wo_version = var.google_client_secret_version
}
