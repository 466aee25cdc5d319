# Terraform 1.11 for ephemeral values and write-only arguments: the
# generated secrets go to Secrets Manager without ever entering the state.
#
# The AWS provider must be 5.100 or later: aws_dsql_cluster first shipped
# in 5.100.0 (ephemeral aws_secretsmanager_random_password and
# secret_string_wo are older). The upper bound keeps a future major
# version from changing arguments under an unattended `terraform init`.
terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(
      {
        Application = "cloud-sandbox-management"
        Deployment  = var.name
        ManagedBy   = "terraform"
      },
      var.tags,
    )
  }
}
