# The public front: an internet-facing application load balancer that
# terminates TLS with an ACM certificate and speaks HTTPS to the tasks on
# 8443. The tasks' certificate is self-signed (made at container start):
# the ALB does not verify targets' certificates, so the hop is encrypted
# without a certificate to manage. Port 80 only redirects.

resource "aws_lb" "this" {
  name               = "${var.name}-alb"
  load_balancer_type = "application"
  internal           = false
  security_groups    = [aws_security_group.this["alb"].id]
  subnets            = var.alb_subnet_ids

  # Requests with header names nginx would have to guess at are dropped
  # here; nginx's own limits apply behind.
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection

  # Above nginx's 60 s wait for a responder (fastcgi_read_timeout), and
  # below nginx's keep-alive, which main.tf sets 15 s above this from the
  # same variable (a balancer that reuses a connection nginx has closed
  # answers 502).
  idle_timeout = var.alb_idle_timeout
}

# name_prefix (at most 6 characters) and create_before_destroy: a change
# that replaces the target group (port, protocol) makes the new one and
# moves the listener and the service to it before the old one goes;
# with a fixed name, the new group could not be created while the old
# one exists.
resource "aws_lb_target_group" "service" {
  name_prefix      = "${substr(var.name, 0, 5)}-"
  vpc_id           = var.vpc_id
  target_type      = "ip" # Fargate tasks (awsvpc)
  protocol         = "HTTPS"
  protocol_version = "HTTP1"
  port             = local.container_port

  # A task being replaced gets this long to finish its requests.
  deregistration_delay = 30

  # /healthz is answered by nginx itself, without a responder or the
  # database: a database outage must not make the ALB drain every task
  # (the responders answer 503 problems meanwhile, and /readyz shows it).
  health_check {
    enabled             = true
    protocol            = "HTTPS"
    port                = "traffic-port"
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.alb_ssl_policy
  certificate_arn   = local.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service.arn
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }
}

# ------------------------------------------------------------ certificate

locals {
  create_certificate = var.certificate_arn == null
  certificate_arn    = local.create_certificate ? aws_acm_certificate_validation.this[0].certificate_arn : var.certificate_arn

  certificate_validation = {
    for o in flatten([for c in aws_acm_certificate.this : tolist(c.domain_validation_options)]) : o.domain_name => o
  }
}

resource "aws_acm_certificate" "this" {
  count = local.create_certificate ? 1 : 0

  domain_name       = var.domain_name
  validation_method = "DNS"

  tags = { Name = var.domain_name }

  lifecycle {
    create_before_destroy = true
  }
}

# Keyed by the names asked for (known when planning), not by ACM's
# answer (known only after the certificate is requested).
resource "aws_route53_record" "certificate_validation" {
  for_each = local.create_certificate ? toset([var.domain_name]) : toset([])

  zone_id         = var.route53_zone_id
  name            = local.certificate_validation[each.key].resource_record_name
  type            = local.certificate_validation[each.key].resource_record_type
  records         = [local.certificate_validation[each.key].resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

# Waits until ACM has issued the certificate: the HTTPS listener cannot
# use one that is still pending validation.
resource "aws_acm_certificate_validation" "this" {
  count = local.create_certificate ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for r in aws_route53_record.certificate_validation : r.fqdn]
}

# ---------------------------------------------------------------- DNS name

resource "aws_route53_record" "service" {
  count = var.route53_zone_id != null ? 1 : 0

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}
