-- 020_sandbox_stack_parameters: the parameters CreateStack is to be sent,
-- NoEcho values in clear, kept on a sandbox row only while its CreateStack
-- is pending (so that the reaper can retry it with the same values) and
-- set to NULL as soon as CloudFormation has accepted the request. The
-- parameters column keeps the masked copy the API shows.
--
-- DSQL: ADD COLUMN without an inline constraint, one DDL statement.
ALTER TABLE sandboxes ADD COLUMN IF NOT EXISTS stack_parameters text;
