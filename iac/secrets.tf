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

locals {
  # Each secret: what it is (its description).
  secrets = {
    SESSION_SECRET_KEY    = "signs the service's session tokens and cookies"
    NOTIFY_WEBHOOK_SECRET = "HMAC key of the X-Sbx-Signature header on webhooks"
    GOOGLE_CLIENT_SECRET  = "the OAuth client secret from the Google Cloud console"
  }

  # The secrets Terraform generates, each with the variable whose raise
  # writes a new value.
  generated_secret_versions = {
    SESSION_SECRET_KEY    = var.session_secret_key_version
    NOTIFY_WEBHOOK_SECRET = var.notify_webhook_secret_version
  }
}

resource "aws_secretsmanager_secret" "this" {
  for_each = local.secrets

  name                    = "${var.name}/${each.key}"
  description             = "${each.key} of ${var.name}: ${each.value}"
  recovery_window_in_days = var.secret_recovery_window_days
}

ephemeral "aws_secretsmanager_random_password" "generated" {
  for_each = local.generated_secret_versions

  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret_version" "generated" {
  for_each = local.generated_secret_versions

  secret_id                = aws_secretsmanager_secret.this[each.key].id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.generated[each.key].random_password
  secret_string_wo_version = each.value
}

resource "aws_secretsmanager_secret_version" "google_client_secret" {
  count = var.google_client_secret_version > 0 ? 1 : 0

  secret_id                = aws_secretsmanager_secret.this["GOOGLE_CLIENT_SECRET"].id
  secret_string_wo         = var.google_client_secret
  secret_string_wo_version = var.google_client_secret_version
}

# The addresses these had before they were made from the tables above: a
# deployed stack keeps its secrets.
moved {
  from = aws_secretsmanager_secret.session_secret_key
  to   = aws_secretsmanager_secret.this["SESSION_SECRET_KEY"]
}

moved {
  from = aws_secretsmanager_secret.notify_webhook_secret
  to   = aws_secretsmanager_secret.this["NOTIFY_WEBHOOK_SECRET"]
}

moved {
  from = aws_secretsmanager_secret.google_client_secret
  to   = aws_secretsmanager_secret.this["GOOGLE_CLIENT_SECRET"]
}

moved {
  from = aws_secretsmanager_secret_version.session_secret_key
  to   = aws_secretsmanager_secret_version.generated["SESSION_SECRET_KEY"]
}

moved {
  from = aws_secretsmanager_secret_version.notify_webhook_secret
  to   = aws_secretsmanager_secret_version.generated["NOTIFY_WEBHOOK_SECRET"]
}
