# IAM, least privilege per actor:
#
#   execution  ECS agent: pull the image, write logs, read the three secrets
#   app        service and reaper tasks: CloudFormation on the sandboxes'
#              stacks only, and only with the CloudFormation role
#              (iam:PassRole on it); connect to DSQL with dsql:DbConnect
#              only, as the database role sbx_app that the migration maps
#              to this role (AWS IAM GRANT) and grants table rights to
#   migrate    migration task: connect to DSQL as admin, nothing else
#   cfn        CloudFormation itself, for the stacks (CFN_ROLE_ARN): what
#              the default template needs (one EC2 instance, AMI from SSM)
#
# So the service holds no right on the resources inside the templates: a
# stolen task credential can create and delete sandbox stacks, not
# instances directly.

locals {
  ecs_tasks_principal = "ecs-tasks.amazonaws.com"

  # Every stack the service creates is named STACK_NAME_PREFIX + name.
  stack_arn_pattern = "arn:${local.partition}:cloudformation:${var.region}:${local.account_id}:stack/${var.stack_name_prefix}*/*"

  # Public parameters have no account in their ARN.
  ami_parameter_arns = [for p in var.ami_ssm_parameter_paths : "arn:${local.partition}:ssm:${var.region}::parameter${p}"]
}

# ------------------------------------------------------------ execution

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = [local.ecs_tasks_principal]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  description        = "ECS agent for ${var.name}: image, logs, secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution_managed" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    sid       = "ReadTheTasksSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for s in aws_secretsmanager_secret.this : s.arn]
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

# ------------------------------------------------------------ task roles

# Only ECS tasks of this account and region may assume the task roles
# (confused-deputy guard recommended by the ECS documentation).
data "aws_iam_policy_document" "task_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = [local.ecs_tasks_principal]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:*"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "app" {
  name               = "${var.name}-app"
  description        = "Service and reaper tasks of ${var.name}: sandbox stacks and the database"
  assume_role_policy = data.aws_iam_policy_document.task_assume.json
}

data "aws_iam_policy_document" "app" {
  # CreateStack only with the CloudFormation role, so that the stack's
  # resources are made with that role's rights, never the caller's.
  statement {
    sid       = "CreateSandboxStacksWithTheServiceRole"
    actions   = ["cloudformation:CreateStack"]
    resources = [local.stack_arn_pattern]

    condition {
      test     = "StringEquals"
      variable = "cloudformation:RoleArn"
      values   = [aws_iam_role.cfn.arn]
    }
  }

  # TagResource: CreateStack carries the sbx:* tags, authorised as
  # tagging on create.
  statement {
    sid = "ManageSandboxStacks"
    actions = [
      "cloudformation:DeleteStack",
      "cloudformation:DescribeStackEvents",
      "cloudformation:DescribeStackResources",
      "cloudformation:DescribeStacks",
      "cloudformation:TagResource",
    ]
    resources = [local.stack_arn_pattern]
  }

  # The cost estimates: the reaper reads a sandbox's instances
  # and volumes and prices them from the Price List. None of these
  # actions supports resource-level permissions; all are read-only.
  statement {
    sid = "EstimateSandboxCosts"
    actions = [
      "ec2:DescribeInstances",
      "ec2:DescribeVolumes",
      "pricing:GetProducts",
    ]
    resources = ["*"]
  }

  # The reaper lists every stack to find orphans (tagged sbx:sandbox-id
  # with no live sandbox); DescribeStacks without a name and ListStacks
  # are not resource-scoped. Both are read-only.
  statement {
    sid       = "ListStacks"
    actions   = ["cloudformation:DescribeStacks", "cloudformation:ListStacks"]
    resources = ["*"]
  }

  statement {
    sid       = "PassTheCloudFormationRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.cfn.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["cloudformation.amazonaws.com"]
    }
  }

  # CloudFormation resolves AWS::SSM::Parameter::Value<...> template
  # parameters when the stack is created; allow it for the caller as
  # well as for the role, whichever CloudFormation uses.
  statement {
    sid       = "ResolveAmiParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = local.ami_parameter_arns
  }

  # Not DbConnectAdmin: the tasks connect as sbx_app, whose rights are
  # the migration's grants (SELECT, INSERT, UPDATE, DELETE), no DDL.
  statement {
    sid       = "ConnectToTheDatabaseAsTheAppRole"
    actions   = ["dsql:DbConnect"]
    resources = [aws_dsql_cluster.this.arn]
  }
}

resource "aws_iam_role_policy" "app" {
  name   = "app"
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.app.json
}

resource "aws_iam_role" "migrate" {
  name               = "${var.name}-migrate"
  description        = "Migration task of ${var.name}: the database only"
  assume_role_policy = data.aws_iam_policy_document.task_assume.json
}

data "aws_iam_policy_document" "migrate" {
  statement {
    sid       = "ConnectToTheDatabase"
    actions   = ["dsql:DbConnectAdmin"]
    resources = [aws_dsql_cluster.this.arn]
  }
}

resource "aws_iam_role_policy" "migrate" {
  name   = "migrate"
  role   = aws_iam_role.migrate.id
  policy = data.aws_iam_policy_document.migrate.json
}

# ------------------------------------------------------ CloudFormation role

# Only CloudFormation acting for this account may assume it (a
# confused-deputy guard: the role's ARN is no secret).
data "aws_iam_policy_document" "cfn_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["cloudformation.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "cfn" {
  name               = "${var.name}-cloudformation"
  description        = "CloudFormation service role (CFN_ROLE_ARN) for the sandboxes of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.cfn_assume.json
}

data "aws_iam_policy_document" "cfn" {
  # The instance handler describes instances, images, subnets, credit
  # specifications... while creating and deleting; all read-only.
  statement {
    sid       = "Describe"
    actions   = ["ec2:Describe*"]
    resources = ["*"]
  }

  # RunInstances is authorised once per resource it touches: the
  # instance itself only of the allowed types...
  statement {
    sid       = "RunAllowedInstanceTypes"
    actions   = ["ec2:RunInstances"]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account_id}:instance/*"]

    condition {
      test     = "StringEquals"
      variable = "ec2:InstanceType"
      values   = var.sandbox_instance_types
    }
  }

  # ...and what it uses or makes alongside: AMI (any owner, hence no
  # account), snapshot, subnet, network interface, security group,
  # volume, key pair.
  statement {
    sid     = "RunInstancesWith"
    actions = ["ec2:RunInstances"]
    resources = [
      "arn:${local.partition}:ec2:${var.region}::image/*",
      "arn:${local.partition}:ec2:${var.region}::snapshot/*",
      "arn:${local.partition}:ec2:${var.region}:${local.account_id}:subnet/*",
      "arn:${local.partition}:ec2:${var.region}:${local.account_id}:network-interface/*",
      "arn:${local.partition}:ec2:${var.region}:${local.account_id}:security-group/*",
      "arn:${local.partition}:ec2:${var.region}:${local.account_id}:volume/*",
      "arn:${local.partition}:ec2:${var.region}:${local.account_id}:key-pair/*",
    ]
  }

  # The template's Name/Environment tags and the stack's sbx:* tags,
  # which CloudFormation propagates to the instance: only as part of
  # RunInstances (tag on create), so the role cannot retag an existing
  # instance Environment=Sandbox and then terminate it.
  statement {
    sid     = "TagWhatItLaunches"
    actions = ["ec2:CreateTags"]
    resources = [
      "arn:${local.partition}:ec2:${var.region}:${local.account_id}:instance/*",
      "arn:${local.partition}:ec2:${var.region}:${local.account_id}:volume/*",
      "arn:${local.partition}:ec2:${var.region}:${local.account_id}:network-interface/*",
    ]

    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["RunInstances"]
    }
  }

  # Only sandbox instances can be terminated (the service tags every
  # stack Environment=Sandbox, and CloudFormation passes stack tags on).
  statement {
    sid       = "TerminateSandboxInstances"
    actions   = ["ec2:TerminateInstances"]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account_id}:instance/*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = ["Sandbox"]
    }
  }

  statement {
    sid       = "ResolveAmiParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters"]
    resources = local.ami_parameter_arns
  }
}

resource "aws_iam_role_policy" "cfn" {
  name   = "default-template"
  role   = aws_iam_role.cfn.id
  policy = data.aws_iam_policy_document.cfn.json
}

resource "aws_iam_role_policy_attachment" "cfn_extra" {
  for_each = toset(var.cfn_role_extra_policy_arns)

  role       = aws_iam_role.cfn.name
  policy_arn = each.value
}
