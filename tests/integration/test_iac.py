#!/usr/bin/python3
# sbx-test: no-stack
"""iac/ against the deploy defects found before, read as text (no AWS here;
`terraform validate` runs too when terraform and a local copy of the AWS
provider are installed, e.g. /opt/tf-plugins):

1. the ALB's idle timeout and nginx's keep-alive come from one variable,
   nginx's above the ALB's;
2. the reaper is a one-task ECS service running sbx-reaper --loop, and
   nothing schedules a task a minute any more;
3. the service and reaper role may only dsql:DbConnect, the migration
   keeps DbConnectAdmin; the tasks' DATABASE_URL user is sbx_app and the
   migration's admin, which gets the ARNs to map;
4. every container runs as the image's unprivileged user;
5. the target group has name_prefix and create_before_destroy; an S3
   backend example with locking; the tfvars say the secret step is
   required; a .dockerignore;
6. the CloudFormation role tags only on RunInstances and trusts only this
   account; rate-limit defaults equal README.md's;
and the alarms exist, each sending to the topic."""

import os
import re
import shutil
import subprocess
import tempfile

import sbxtest as t

SRC = os.environ.get("SBX_SRC_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
IAC = os.path.join(SRC, "iac")


def read(name):
    with open(os.path.join(IAC, name), encoding="utf-8") as f:
        return f.read()


def block(text, kind, name):
    """The body of `<kind> "<name>" {` ... its closing brace at column 0."""
    m = re.search(r'^%s "%s" \{\n(.*?)^\}' % (re.escape(kind), re.escape(name)),
                  text, re.S | re.M)
    assert m, "no %s %s" % (kind, name)
    return m.group(1)


def resource(text, rtype, name):
    m = re.search(r'^resource "%s" "%s" \{\n(.*?)^\}' % (rtype, name), text, re.S | re.M)
    assert m, "no resource %s.%s" % (rtype, name)
    return m.group(1)


def statement(policy_body, sid):
    m = re.search(r'statement \{\n\s*sid\s*= "%s"\n(.*?)\n  \}\n' % sid, policy_body, re.S)
    assert m, "no statement %s" % sid
    return m.group(1)


def test_keepalive_from_one_variable():
    main, alb = read("main.tf"), read("alb.tf")
    assert re.search(r'idle_timeout\s*=\s*var\.alb_idle_timeout', resource(alb, "aws_lb", "this"))
    m = re.search(r'NGINX_KEEPALIVE_TIMEOUT\s*=\s*"\$\{var\.alb_idle_timeout \+ (\d+)\}s"', main)
    assert m and int(m.group(1)) > 0, "nginx's keep-alive is not derived above the ALB's idle timeout"
    v = block(read("variables.tf"), "variable", "alb_idle_timeout")
    assert re.search(r'default\s*=\s*(\d+)', v)


def test_reaper_is_a_one_task_service():
    ecs = read("ecs.tf")
    svc = resource(ecs, "aws_ecs_service", "reaper")
    assert re.search(r'desired_count\s*=\s*var\.reaper_enabled \? 1 : 0', svc), svc
    assert "aws_ecs_task_definition.reaper.arn" in svc
    td = resource(ecs, "aws_ecs_task_definition", "reaper")
    assert re.search(r'command\s*=\s*\["/opt/sbx/bin/sbx-reaper", "--loop", ', td), td
    assert not os.path.exists(os.path.join(IAC, "scheduler.tf"))
    for name in os.listdir(IAC):
        if name.endswith(".tf"):
            assert "aws_scheduler_schedule" not in read(name), name


def test_dsql_least_privilege():
    iam, main = read("iam.tf"), read("main.tf")
    app = block(iam, "data", "aws_iam_policy_document\" \"app")
    assert '"dsql:DbConnect"' in app and '"dsql:DbConnectAdmin"' not in app, app
    mig = block(iam, "data", "aws_iam_policy_document\" \"migrate")
    assert '"dsql:DbConnectAdmin"' in mig
    assert re.search(r'database_url\s*=\s*"postgresql://\$\{local\.dsql_app_role\}', main)
    assert re.search(r'dsql_app_role\s*=\s*"sbx_app"', main)
    assert re.search(r'database_url_admin\s*=\s*"postgresql://admin', main)
    env_migrate = re.search(r'env_migrate = merge\((.*?)\n  \}\)', main, re.S).group(1)
    assert "DATABASE_URL           = local.database_url_admin" in env_migrate
    assert "DSQL_APP_ROLE_IAM_ARNS" in env_migrate and "aws_iam_role.app.arn" in env_migrate
    assert "local.env_migrate" in main


def test_containers_run_unprivileged():
    ecs = read("ecs.tf")
    for td in ("service", "reaper", "migrate"):
        assert "user      = local.container_user" in resource(ecs, "aws_ecs_task_definition", td), td
    assert re.search(r'container_user\s*=\s*"10001:10001"', read("main.tf"))
    with open(os.path.join(SRC, "Dockerfile"), encoding="utf-8") as f:
        docker = f.read()
    users = re.findall(r'^USER (\S+)', docker, re.M)
    assert users and users[-1] == "10001:10001", users
    assert os.path.exists(os.path.join(SRC, ".dockerignore"))


def test_deploy_hygiene():
    tg = resource(read("alb.tf"), "aws_lb_target_group", "service")
    assert re.search(r'^\s*name_prefix\s*=', tg, re.M) and not re.search(r'^\s*name\s*=', tg, re.M)
    assert re.search(r'lifecycle \{\s*create_before_destroy = true', tg)
    backend = read("backend.tf.example")
    assert 'backend "s3"' in backend and re.search(r'use_lockfile\s*=\s*true', backend)
    tfvars = read("terraform.tfvars.example")
    assert "REQUIRED" in tfvars and "google_client_secret_put_command" in tfvars


def test_cloudformation_role():
    iam = read("iam.tf")
    tags = statement(block(iam, "data", "aws_iam_policy_document\" \"cfn"), "TagWhatItLaunches")
    assert re.search(r'variable = "ec2:CreateAction"\s*values\s*= \["RunInstances"\]', tags), tags
    trust = block(iam, "data", "aws_iam_policy_document\" \"cfn_assume")
    assert re.search(r'variable = "aws:SourceAccount"\s*values\s*= \[local\.account_id\]', trust), trust


def test_rate_limits_match_readme():
    v = read("variables.tf")
    with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    want = {"rate_limit_api": "50r/s", "rate_limit_api_burst": "100",
            "rate_limit_auth": "5r/s", "rate_limit_auth_burst": "20"}
    for var, value in want.items():
        body = block(v, "variable", var)
        got = re.search(r'default\s*=\s*"?([^"\n]+)"?', body).group(1)
        assert got == value, (var, got)
        assert "shared" not in body, "%s still says the limit is shared" % var
    assert "| `RATE_LIMIT_API`, `RATE_LIMIT_API_BURST` | `50r/s`, 100 |" in readme
    assert "| `RATE_LIMIT_AUTH`, `RATE_LIMIT_AUTH_BURST` | `5r/s`, 20 |" in readme


def test_alarms_send_to_the_topic():
    mon = read("monitoring.tf")
    assert 'resource "aws_sns_topic" "alarms"' in mon
    sub = resource(mon, "aws_sns_topic_subscription", "email")
    assert 'protocol  = "email"' in sub and "var.alarm_email" in sub
    wants = {
        "overdue": ["sbx_sandboxes_overdue", "evaluation_periods  = 2"],
        "reaper_no_run": ["sbx_reaper_last_run_age_seconds", 'treat_missing_data = "breaching"',
                          "threshold           = 300"],
        "stuck": ["sbx_sandboxes_stuck"],
        "reaper_failed": ["aws_cloudwatch_log_metric_filter.reaper_failed"],
        "alb_5xx": ["HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"],
        "unhealthy_targets": ["UnHealthyHostCount"],
    }
    for name, needles in wants.items():
        body = resource(mon, "aws_cloudwatch_metric_alarm", name)
        assert "alarm_actions = local.alarm_actions" in body, name
        for n in needles:
            assert n in body, (name, n)
    flt = resource(mon, "aws_cloudwatch_log_metric_filter", "reaper_failed")
    assert "$.ok IS FALSE" in flt and "aws_cloudwatch_log_group.reaper.name" in flt
    assert 'resource "aws_cloudwatch_dashboard" "this"' in mon
    # The EMF namespace the reaper is given is the one the alarms read.
    assert re.search(r'METRICS_NAMESPACE\s*=\s*local\.metrics_namespace', read("main.tf"))


def test_terraform_validate_when_possible():
    tf = shutil.which("terraform")
    plugins = os.environ.get("SBX_TF_PLUGIN_DIR", "/opt/tf-plugins")
    if not tf or not os.path.isdir(plugins):
        print("  # terraform or %s missing: validate not run" % plugins)
        return
    work = tempfile.mkdtemp()
    try:
        dst = os.path.join(work, "iac")
        shutil.copytree(IAC, dst, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*", "terraform.tfvars"))
        env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1",
                   TF_CLI_CONFIG_FILE="/dev/null")
        for args in (["init", "-backend=false", "-input=false", "-plugin-dir=" + plugins],
                     ["validate", "-no-color"], ["fmt", "-check", "-recursive", "-no-color"]):
            done = subprocess.run([tf] + args, cwd=dst, env=env, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, "terraform %s: %s%s" % (args[0], done.stdout[-2000:],
                                                                  done.stderr[-2000:])
    finally:
        shutil.rmtree(work, ignore_errors=True)


t.run()
