//! Tests for the approval gate: which template changes [`SecurityDiff::is_broadening`] treats as
//! widening IAM or security group rights, so that `deploy --require-approval broadening` asks.
//!
//! Most cases are hand-written before/after pairs in named tables. The last tests use the golden
//! templates in `tests/fixtures/synth/`, so the gate is also checked on what `synth` really emits.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::{Grant, GrantKind, canonical, compare, grants};

/// A before/after pair and whether deploying `new` over `old` must ask for approval.
type Case = (&'static str, Value, Value, bool);

fn broadening(old: &Value, new: &Value) -> bool {
    compare(old, new).security.is_broadening()
}

/// Runs every case and reports all wrong verdicts at once, with the grants behind each.
fn check(cases: Vec<Case>) {
    assert!(!cases.is_empty(), "a table needs cases");
    let mut wrong = Vec::new();
    for (name, old, new, expected) in &cases {
        let diff = compare(old, new).security;
        if diff.is_broadening() != *expected {
            wrong.push(format!(
                "- {name}: expected broadening = {expected}\n  added: {:?}\n  removed: {:?}",
                diff.added.iter().map(|g| &g.what).collect::<Vec<_>>(),
                diff.removed.iter().map(|g| &g.what).collect::<Vec<_>>(),
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

fn template(resources: Value) -> Value {
    json!({ "Resources": resources })
}

/// One `AWS::IAM::Policy` attached to `AgentRole`.
fn policy(statements: Value) -> Value {
    template(json!({
        "AgentPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "agent",
                "Roles": [{ "Ref": "AgentRole" }],
                "PolicyDocument": { "Version": "2012-10-17", "Statement": statements }
            }
        }
    }))
}

fn allow(action: Value, resource: Value) -> Value {
    json!({ "Effect": "Allow", "Action": action, "Resource": resource })
}

fn deny(action: Value, resource: Value) -> Value {
    json!({ "Effect": "Deny", "Action": action, "Resource": resource })
}

/// `statement` (or rule) with the keys of `extra` set, or removed where `extra` has `null`.
fn with(mut statement: Value, extra: Value) -> Value {
    if let (Some(s), Some(e)) = (statement.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            if v.is_null() {
                s.remove(k);
            } else {
                s.insert(k.clone(), v.clone());
            }
        }
    }
    statement
}

/// `AgentRole` with the given properties.
fn role(properties: Value) -> Value {
    template(json!({
        "AgentRole": { "Type": "AWS::IAM::Role", "Properties": properties }
    }))
}

fn trust_statement(principal: Value) -> Value {
    json!({ "Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal })
}

/// `AgentRole` trusted by `statements`, with no permissions of its own.
fn trusted_by(statements: Value) -> Value {
    role(json!({
        "AssumeRolePolicyDocument": { "Version": "2012-10-17", "Statement": statements }
    }))
}

/// `AgentRole`, assumed by Lambda, with these managed policies.
fn managed(arns: Value) -> Value {
    role(json!({
        "AssumeRolePolicyDocument": {
            "Statement": [trust_statement(json!({ "Service": "lambda.amazonaws.com" }))]
        },
        "ManagedPolicyArns": arns
    }))
}

/// `AgentRole` with one inline policy.
fn inline(statements: Value) -> Value {
    role(json!({
        "AssumeRolePolicyDocument": {
            "Statement": [trust_statement(json!({ "Service": "ec2.amazonaws.com" }))]
        },
        "Policies": [{
            "PolicyName": "inline",
            "PolicyDocument": { "Version": "2012-10-17", "Statement": statements }
        }]
    }))
}

/// `AgentSecurityGroup` with inline rules.
fn security_group(ingress: Value, egress: Value) -> Value {
    template(json!({
        "AgentSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "agents",
                "VpcId": "vpc-1",
                "SecurityGroupIngress": ingress,
                "SecurityGroupEgress": egress
            }
        }
    }))
}

fn tcp(cidr_key: &str, cidr: &str, from: u16, to: u16) -> Value {
    json!({ "IpProtocol": "tcp", cidr_key: cidr, "FromPort": from, "ToPort": to, "Description": "ssh" })
}

const ALL_OUT: &str = "0.0.0.0/0";

fn all_out() -> Value {
    json!([{ "IpProtocol": "-1", "CidrIp": ALL_OUT, "Description": "Allow all outbound traffic by default" }])
}

/// A standalone `AWS::EC2::SecurityGroupIngress` on `group`.
fn standalone_ingress(group: &str, rule: Value) -> Value {
    let mut properties = rule;
    if let Some(p) = properties.as_object_mut() {
        p.insert(
            "GroupId".into(),
            json!({ "Fn::GetAtt": [group, "GroupId"] }),
        );
    }
    template(json!({
        "SshIngress": { "Type": "AWS::EC2::SecurityGroupIngress", "Properties": properties }
    }))
}

/// The union of the `Resources` of several templates.
fn merge(templates: &[Value]) -> Value {
    let mut all = Map::new();
    for t in templates {
        if let Some(r) = t.get("Resources").and_then(Value::as_object) {
            all.extend(r.clone());
        }
    }
    json!({ "Resources": all })
}

const PARAM: &str = "arn:aws:ssm:*:*:parameter/ci-agents-token";
const OTHER_PARAM: &str = "arn:aws:ssm:*:*:parameter/ci-agents-config";
const ASG: &str =
    "arn:aws:autoscaling:*:210987654321:autoScalingGroup:*:autoScalingGroupName/ci-agents-*";

fn partition_arn(tail: &str) -> Value {
    json!({ "Fn::Join": ["", ["arn:", { "Ref": "AWS::Partition" }, tail]] })
}

#[test]
fn identity_policy_statements() {
    let get = || allow(json!("ssm:GetParameter"), json!(PARAM));
    let scale = || {
        allow(
            json!([
                "autoscaling:SetInstanceHealth",
                "autoscaling:TerminateInstanceInAutoScalingGroup"
            ]),
            json!(ASG),
        )
    };
    check(vec![
        (
            "identical templates are not broadening",
            policy(json!([get(), scale()])),
            policy(json!([get(), scale()])),
            false,
        ),
        (
            "reordered statements are not broadening",
            policy(json!([get(), scale()])),
            policy(json!([scale(), get()])),
            false,
        ),
        (
            "reordered actions within a statement are not broadening",
            policy(json!([scale()])),
            policy(json!([allow(
                json!([
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                    "autoscaling:SetInstanceHealth"
                ]),
                json!(ASG)
            )])),
            false,
        ),
        (
            "reordered resources within a statement are not broadening",
            policy(json!([allow(
                json!("ssm:GetParameter"),
                json!([PARAM, OTHER_PARAM])
            )])),
            policy(json!([allow(
                json!("ssm:GetParameter"),
                json!([OTHER_PARAM, PARAM])
            )])),
            false,
        ),
        (
            "reordered statement keys are not broadening",
            policy(json!([{ "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": PARAM }])),
            policy(json!([{ "Resource": PARAM, "Action": "ssm:GetParameter", "Effect": "Allow" }])),
            false,
        ),
        (
            "an action given as a string or as a one-element list is the same grant",
            policy(json!([allow(json!("ssm:GetParameter"), json!(PARAM))])),
            policy(json!([allow(json!(["ssm:GetParameter"]), json!([PARAM]))])),
            false,
        ),
        (
            "an action listed twice is the same grant as listed once",
            policy(json!([allow(json!("ssm:GetParameter"), json!(PARAM))])),
            policy(json!([allow(
                json!(["ssm:GetParameter", "ssm:GetParameter"]),
                json!(PARAM)
            )])),
            false,
        ),
        (
            "a single statement object and a one-element statement list are the same grant",
            policy(get()),
            policy(json!([get()])),
            false,
        ),
        (
            "renaming a policy without touching its statements is not broadening",
            policy(json!([get()])),
            {
                let mut p = policy(json!([get()]));
                p["Resources"]["AgentPolicy"]["Properties"]["PolicyName"] = json!("renamed");
                p
            },
            false,
        ),
        (
            "removing an action from a statement is not broadening",
            policy(json!([scale()])),
            policy(json!([allow(
                json!("autoscaling:SetInstanceHealth"),
                json!(ASG)
            )])),
            false,
        ),
        (
            "removing a resource from a statement is not broadening",
            policy(json!([allow(
                json!("ssm:GetParameter"),
                json!([PARAM, OTHER_PARAM])
            )])),
            policy(json!([get()])),
            false,
        ),
        (
            "removing a statement is not broadening",
            policy(json!([get(), scale()])),
            policy(json!([get()])),
            false,
        ),
        (
            "removing the whole policy is not broadening",
            merge(&[policy(json!([get()])), managed(json!([]))]),
            managed(json!([])),
            false,
        ),
        (
            "adding an action is broadening",
            policy(json!([get()])),
            policy(json!([allow(
                json!(["ssm:GetParameter", "ssm:PutParameter"]),
                json!(PARAM)
            )])),
            true,
        ),
        (
            "removing one action while adding another is broadening",
            policy(json!([scale()])),
            policy(json!([allow(
                json!([
                    "autoscaling:SetInstanceHealth",
                    "autoscaling:SetDesiredCapacity"
                ]),
                json!(ASG)
            )])),
            true,
        ),
        (
            "adding a resource is broadening",
            policy(json!([get()])),
            policy(json!([allow(
                json!("ssm:GetParameter"),
                json!([PARAM, OTHER_PARAM])
            )])),
            true,
        ),
        (
            "adding a statement is broadening",
            policy(json!([get()])),
            policy(json!([get(), scale()])),
            true,
        ),
        (
            "merging two statements into one is broadening (actions now apply to both resources)",
            policy(json!([
                allow(json!("ssm:GetParameter"), json!(PARAM)),
                allow(json!("ssm:PutParameter"), json!(OTHER_PARAM))
            ])),
            policy(json!([allow(
                json!(["ssm:GetParameter", "ssm:PutParameter"]),
                json!([PARAM, OTHER_PARAM])
            )])),
            true,
        ),
        (
            "replacing a specific resource by * is broadening",
            policy(json!([get()])),
            policy(json!([allow(json!("ssm:GetParameter"), json!("*"))])),
            true,
        ),
        (
            "replacing a specific resource by an arn:...:* wildcard is broadening",
            policy(json!([get()])),
            policy(json!([allow(
                json!("ssm:GetParameter"),
                json!("arn:aws:ssm:*:*:parameter/*")
            )])),
            true,
        ),
        (
            "replacing an action by a service wildcard is broadening",
            policy(json!([get()])),
            policy(json!([allow(json!("ssm:*"), json!(PARAM))])),
            true,
        ),
        (
            "narrowing a wildcard action to one action is still flagged (wildcards are not expanded)",
            policy(json!([allow(json!("ssm:*"), json!(PARAM))])),
            policy(json!([get()])),
            true,
        ),
        (
            "a new AWS::IAM::ManagedPolicy is broadening",
            template(json!({})),
            template(json!({
                "ExtraPolicy": {
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {
                        "Roles": [{ "Ref": "AgentRole" }],
                        "PolicyDocument": { "Statement": [get()] }
                    }
                }
            })),
            true,
        ),
    ]);
}

#[test]
fn intrinsic_resources() {
    let get_join = |tail: &str| allow(json!("ssm:GetParameter"), partition_arn(tail));
    let read = |resource: Value| allow(json!("s3:GetObject"), resource);
    check(vec![
        (
            "the same Fn::Join ARN is the same grant",
            policy(json!([get_join(":ssm:*:*:parameter/ci-agents-token")])),
            policy(json!([get_join(":ssm:*:*:parameter/ci-agents-token")])),
            false,
        ),
        (
            "reordering resources that are Fn::Join ARNs is not broadening",
            policy(json!([allow(
                json!("ssm:GetParameter"),
                json!([
                    partition_arn(":ssm:*:*:parameter/a"),
                    partition_arn(":ssm:*:*:parameter/b")
                ])
            )])),
            policy(json!([allow(
                json!("ssm:GetParameter"),
                json!([
                    partition_arn(":ssm:*:*:parameter/b"),
                    partition_arn(":ssm:*:*:parameter/a")
                ])
            )])),
            false,
        ),
        (
            "changing one part of an Fn::Join ARN is broadening",
            policy(json!([get_join(":ssm:*:*:parameter/ci-agents-token")])),
            policy(json!([get_join(":ssm:*:*:parameter/*")])),
            true,
        ),
        (
            "reordering the parts of an Fn::Join is a different ARN, so broadening",
            policy(json!([allow(
                json!("ssm:GetParameter"),
                json!({ "Fn::Join": ["", ["arn:aws:ssm:*:*:parameter/", "a", "b"]] })
            )])),
            policy(json!([allow(
                json!("ssm:GetParameter"),
                json!({ "Fn::Join": ["", ["arn:aws:ssm:*:*:parameter/", "b", "a"]] })
            )])),
            true,
        ),
        (
            "the same Fn::Sub resource is not broadening",
            policy(json!([read(json!({ "Fn::Sub": "${CacheBucket.Arn}/*" }))])),
            policy(json!([read(json!({ "Fn::Sub": "${CacheBucket.Arn}/*" }))])),
            false,
        ),
        (
            "an Fn::Sub resource that now matches more objects is broadening",
            policy(json!([read(
                json!({ "Fn::Sub": "${CacheBucket.Arn}/cache/*" })
            )])),
            policy(json!([read(json!({ "Fn::Sub": "${CacheBucket.Arn}/*" }))])),
            true,
        ),
        (
            "an Fn::Sub resource naming another bucket is broadening",
            policy(json!([read(json!({ "Fn::Sub": "${CacheBucket.Arn}/*" }))])),
            policy(json!([read(json!({ "Fn::Sub": "${LogBucket.Arn}/*" }))])),
            true,
        ),
        (
            "a Ref resource pointing at another resource is broadening",
            policy(json!([allow(
                json!("sqs:SendMessage"),
                json!({ "Ref": "JobQueue" })
            )])),
            policy(json!([allow(
                json!("sqs:SendMessage"),
                json!({ "Ref": "AdminQueue" })
            )])),
            true,
        ),
        (
            "an Fn::GetAtt resource pointing at another resource is broadening",
            policy(json!([read(
                json!({ "Fn::GetAtt": ["CacheBucket", "Arn"] })
            )])),
            policy(json!([read(json!({ "Fn::GetAtt": ["LogBucket", "Arn"] }))])),
            true,
        ),
        (
            "removing an Fn::GetAtt resource from a statement is not broadening",
            policy(json!([read(json!([
                { "Fn::GetAtt": ["CacheBucket", "Arn"] },
                { "Fn::GetAtt": ["LogBucket", "Arn"] }
            ]))])),
            policy(json!([read(
                json!({ "Fn::GetAtt": ["CacheBucket", "Arn"] })
            )])),
            false,
        ),
        (
            "a literal ARN replaced by an intrinsic is flagged (intrinsics are not evaluated)",
            policy(json!([allow(json!("ssm:GetParameter"), json!(PARAM))])),
            policy(json!([get_join(":ssm:*:*:parameter/ci-agents-token")])),
            true,
        ),
    ]);
}

#[test]
fn conditions_deny_and_not_elements() {
    let get = || allow(json!("ssm:GetParameter"), json!(PARAM));
    let tagged = || json!({ "StringEquals": { "aws:ResourceTag/team": "ci" } });
    let no_delete = || deny(json!("ssm:DeleteParameter"), json!("*"));
    check(vec![
        (
            "adding a condition to an Allow is not broadening",
            policy(json!([get()])),
            policy(json!([with(get(), json!({ "Condition": tagged() }))])),
            false,
        ),
        (
            "removing a condition from an Allow is broadening",
            policy(json!([with(get(), json!({ "Condition": tagged() }))])),
            policy(json!([get()])),
            true,
        ),
        (
            "changing a condition's value is broadening",
            policy(json!([with(get(), json!({ "Condition": tagged() }))])),
            policy(json!([with(
                get(),
                json!({ "Condition": { "StringLike": { "aws:ResourceTag/team": "*" } } })
            )])),
            true,
        ),
        (
            "adding a Deny statement is not broadening",
            policy(json!([get()])),
            policy(json!([get(), no_delete()])),
            false,
        ),
        (
            "removing a Deny statement is broadening",
            policy(json!([get(), no_delete()])),
            policy(json!([get()])),
            true,
        ),
        (
            "removing an action from a Deny is broadening",
            policy(json!([
                get(),
                deny(
                    json!(["ssm:DeleteParameter", "ssm:PutParameter"]),
                    json!("*")
                )
            ])),
            policy(json!([get(), no_delete()])),
            true,
        ),
        (
            "turning a Deny into an Allow is broadening",
            policy(json!([no_delete()])),
            policy(json!([allow(json!("ssm:DeleteParameter"), json!("*"))])),
            true,
        ),
        (
            "an Allow with NotAction that excludes fewer actions is broadening",
            policy(json!([with(
                allow(json!(null), json!("*")),
                json!({ "Action": null, "NotAction": ["iam:*", "organizations:*"] })
            )])),
            policy(json!([with(
                allow(json!(null), json!("*")),
                json!({ "Action": null, "NotAction": ["iam:*"] })
            )])),
            true,
        ),
        (
            "an Allow with NotAction that excludes more actions is still flagged (NotAction is not interpreted)",
            policy(json!([with(
                allow(json!(null), json!("*")),
                json!({ "Action": null, "NotAction": ["iam:*"] })
            )])),
            policy(json!([with(
                allow(json!(null), json!("*")),
                json!({ "Action": null, "NotAction": ["iam:*", "organizations:*"] })
            )])),
            true,
        ),
        (
            "reordering a NotAction list is not broadening",
            policy(json!([with(
                allow(json!(null), json!("*")),
                json!({ "Action": null, "NotAction": ["iam:*", "organizations:*"] })
            )])),
            policy(json!([with(
                allow(json!(null), json!("*")),
                json!({ "Action": null, "NotAction": ["organizations:*", "iam:*"] })
            )])),
            false,
        ),
        (
            "replacing Resource by NotResource is broadening",
            policy(json!([get()])),
            policy(json!([with(
                get(),
                json!({ "Resource": null, "NotResource": OTHER_PARAM })
            )])),
            true,
        ),
        (
            "a statement list the gate cannot read (Fn::If) that changes is broadening",
            policy(json!({ "Fn::If": ["IsProd", [get()], [get()]] })),
            policy(json!({ "Fn::If": ["IsProd", [get()], [allow(json!("ssm:*"), json!("*"))]] })),
            true,
        ),
        (
            "a policy document the gate cannot read (Fn::If) that changes is broadening",
            template(json!({
                "AgentPolicy": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {
                        "Roles": [{ "Ref": "AgentRole" }],
                        "PolicyDocument": { "Fn::If": ["IsProd",
                            { "Statement": [get()] },
                            { "Statement": [get()] }] }
                    }
                }
            })),
            template(json!({
                "AgentPolicy": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {
                        "Roles": [{ "Ref": "AgentRole" }],
                        "PolicyDocument": { "Fn::If": ["IsProd",
                            { "Statement": [get()] },
                            { "Statement": [allow(json!("*"), json!("*"))] }] }
                    }
                }
            })),
            true,
        ),
        (
            "an unchanged statement the gate cannot read is not broadening",
            policy(
                json!([get(), { "Fn::If": ["IsProd", no_delete(), { "Ref": "AWS::NoValue" }] }]),
            ),
            policy(
                json!([{ "Fn::If": ["IsProd", no_delete(), { "Ref": "AWS::NoValue" }] }, get()]),
            ),
            false,
        ),
        (
            "removing a statement the gate cannot read is broadening (it may have been a Deny)",
            policy(
                json!([get(), { "Fn::If": ["IsProd", no_delete(), { "Ref": "AWS::NoValue" }] }]),
            ),
            policy(json!([get()])),
            true,
        ),
        (
            "a statement without an Effect the gate can read is broadening when narrowed",
            policy(
                json!([{ "Effect": { "Ref": "Effect" }, "Action": ["a:B", "a:C"], "Resource": "*" }]),
            ),
            policy(json!([{ "Effect": { "Ref": "Effect" }, "Action": "a:B", "Resource": "*" }])),
            true,
        ),
    ]);
}

#[test]
fn roles_trust_and_managed_policies() {
    let basic = || partition_arn(":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole");
    let vpc = || partition_arn(":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole");
    let get = || allow(json!("ssm:GetParameter"), json!(PARAM));
    let lambda = || trust_statement(json!({ "Service": "lambda.amazonaws.com" }));
    check(vec![
        (
            "adding a managed policy ARN to a role is broadening",
            managed(json!([basic()])),
            managed(json!([basic(), vpc()])),
            true,
        ),
        (
            "adding a literal managed policy ARN is broadening",
            managed(json!([])),
            managed(json!(["arn:aws:iam::aws:policy/AdministratorAccess"])),
            true,
        ),
        (
            "removing a managed policy ARN from a role is not broadening",
            managed(json!([basic(), vpc()])),
            managed(json!([basic()])),
            false,
        ),
        (
            "reordering managed policy ARNs is not broadening",
            managed(json!([basic(), vpc()])),
            managed(json!([vpc(), basic()])),
            false,
        ),
        (
            "replacing one managed policy by another is broadening",
            managed(json!([basic()])),
            managed(json!([vpc()])),
            true,
        ),
        (
            "managed policy ARNs the gate cannot read (Fn::If) that change are broadening",
            managed(json!({ "Fn::If": ["InVpc", [basic()], [basic()]] })),
            managed(json!({ "Fn::If": ["InVpc", [basic(), vpc()], [basic()]] })),
            true,
        ),
        (
            "adding a service to a trust principal is broadening",
            trusted_by(json!([lambda()])),
            trusted_by(json!([trust_statement(
                json!({ "Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"] })
            )])),
            true,
        ),
        (
            "adding an account principal to a trust policy is broadening",
            trusted_by(json!([lambda()])),
            trusted_by(json!([trust_statement(json!({
                "Service": "lambda.amazonaws.com",
                "AWS": "arn:aws:iam::111122223333:root"
            }))])),
            true,
        ),
        (
            "trusting everyone is broadening",
            trusted_by(json!([lambda()])),
            trusted_by(json!([trust_statement(json!({ "AWS": "*" }))])),
            true,
        ),
        (
            "adding a trust statement is broadening",
            trusted_by(json!([lambda()])),
            trusted_by(json!([
                lambda(),
                trust_statement(json!({ "Service": "ec2.amazonaws.com" }))
            ])),
            true,
        ),
        (
            "removing a trust statement is not broadening",
            trusted_by(json!([
                lambda(),
                trust_statement(json!({ "Service": "ec2.amazonaws.com" }))
            ])),
            trusted_by(json!([lambda()])),
            false,
        ),
        (
            "reordering the services of a trust principal is not broadening",
            trusted_by(json!([trust_statement(
                json!({ "Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"] })
            )])),
            trusted_by(json!([trust_statement(
                json!({ "Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"] })
            )])),
            false,
        ),
        (
            "removing a service from a trust principal is not broadening",
            trusted_by(json!([trust_statement(
                json!({ "Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"] })
            )])),
            trusted_by(json!([lambda()])),
            false,
        ),
        (
            "an inline Policies statement added to a role is broadening",
            inline(json!([get()])),
            inline(json!([get(), allow(json!("s3:GetObject"), json!("*"))])),
            true,
        ),
        (
            "an inline Policies statement removed from a role is not broadening",
            inline(json!([get(), allow(json!("s3:GetObject"), json!("*"))])),
            inline(json!([get()])),
            false,
        ),
        (
            "removing a role with its inline policy is not broadening",
            merge(&[inline(json!([get()])), policy(json!([get()]))]),
            policy(json!([get()])),
            false,
        ),
        (
            // The same rights, but held by another resource: the gate compares grants per
            // holder, so this asks (a false alarm, on the safe side).
            "moving a statement from inline Policies to an AWS::IAM::Policy is flagged",
            inline(json!([get()])),
            merge(&[inline(json!([])), policy(json!([get()]))]),
            true,
        ),
        (
            "moving a statement from an AWS::IAM::Policy to inline Policies is flagged",
            merge(&[inline(json!([])), policy(json!([get()]))]),
            inline(json!([get()])),
            true,
        ),
        (
            "attaching a policy to one more role is broadening",
            policy(json!([get()])),
            {
                let mut p = policy(json!([get()]));
                p["Resources"]["AgentPolicy"]["Properties"]["Roles"] =
                    json!([{ "Ref": "AgentRole" }, { "Ref": "AdminRole" }]);
                p
            },
            true,
        ),
        (
            "reordering the roles of a policy is not broadening",
            {
                let mut p = policy(json!([get()]));
                p["Resources"]["AgentPolicy"]["Properties"]["Roles"] =
                    json!([{ "Ref": "AgentRole" }, { "Ref": "AdminRole" }]);
                p
            },
            {
                let mut p = policy(json!([get()]));
                p["Resources"]["AgentPolicy"]["Properties"]["Roles"] =
                    json!([{ "Ref": "AdminRole" }, { "Ref": "AgentRole" }]);
                p
            },
            false,
        ),
    ]);
}

#[test]
fn instance_profiles_and_lambda_permissions() {
    let profile = |roles: Value| {
        template(json!({
            "Profile": { "Type": "AWS::IAM::InstanceProfile", "Properties": { "Roles": roles } }
        }))
    };
    let permission = |source: &str| {
        template(json!({
            "InvokeFromRule": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": { "Fn::GetAtt": ["ScalerLambda", "Arn"] },
                    "Principal": "events.amazonaws.com",
                    "SourceArn": { "Fn::GetAtt": [source, "Arn"] }
                }
            }
        }))
    };
    check(vec![
        (
            // Instances launched with the profile get every right of the new role.
            "giving an instance profile another role is broadening",
            profile(json!([{ "Ref": "AgentRole" }])),
            profile(json!([{ "Ref": "AdminRole" }])),
            true,
        ),
        (
            "an unchanged instance profile is not broadening",
            profile(json!([{ "Ref": "AgentRole" }])),
            profile(json!([{ "Ref": "AgentRole" }])),
            false,
        ),
        (
            "removing an instance profile is not broadening",
            merge(&[profile(json!([{ "Ref": "AgentRole" }])), managed(json!([]))]),
            managed(json!([])),
            false,
        ),
        (
            "adding a Lambda permission is broadening",
            template(json!({})),
            permission("ScalerRule"),
            true,
        ),
        (
            "a Lambda permission for another source is broadening",
            permission("ScalerRule"),
            permission("AnyRule"),
            true,
        ),
        (
            "removing a Lambda permission is not broadening",
            permission("ScalerRule"),
            template(json!({})),
            false,
        ),
    ]);
}

#[test]
fn security_group_rules() {
    let ssh = || tcp("CidrIp", "10.0.0.0/16", 22, 22);
    check(vec![
        (
            "reordered ingress rules are not broadening",
            security_group(
                json!([ssh(), tcp("CidrIp", "10.1.0.0/16", 22, 22)]),
                all_out(),
            ),
            security_group(
                json!([tcp("CidrIp", "10.1.0.0/16", 22, 22), ssh()]),
                all_out(),
            ),
            false,
        ),
        (
            "reordered keys of a rule are not broadening",
            security_group(json!([ssh()]), all_out()),
            security_group(
                json!([{ "ToPort": 22, "FromPort": 22, "Description": "ssh", "CidrIp": "10.0.0.0/16", "IpProtocol": "tcp" }]),
                all_out(),
            ),
            false,
        ),
        (
            "a new ingress CIDR is broadening",
            security_group(json!([ssh()]), all_out()),
            security_group(
                json!([ssh(), tcp("CidrIp", "192.168.0.0/24", 22, 22)]),
                all_out(),
            ),
            true,
        ),
        (
            "replacing an ingress CIDR is broadening",
            security_group(json!([ssh()]), all_out()),
            security_group(json!([tcp("CidrIp", "10.9.0.0/16", 22, 22)]), all_out()),
            true,
        ),
        (
            "widening an ingress port range is broadening",
            security_group(json!([ssh()]), all_out()),
            security_group(json!([tcp("CidrIp", "10.0.0.0/16", 22, 23)]), all_out()),
            true,
        ),
        (
            "narrowing an ingress port range is still flagged (ranges are not interpreted)",
            security_group(json!([tcp("CidrIp", "10.0.0.0/16", 20, 22)]), all_out()),
            security_group(json!([ssh()]), all_out()),
            true,
        ),
        (
            "opening ingress to 0.0.0.0/0 is broadening",
            security_group(json!([ssh()]), all_out()),
            security_group(json!([tcp("CidrIp", "0.0.0.0/0", 22, 22)]), all_out()),
            true,
        ),
        (
            "opening ingress to ::/0 is broadening",
            security_group(json!([ssh()]), all_out()),
            security_group(json!([ssh(), tcp("CidrIpv6", "::/0", 22, 22)]), all_out()),
            true,
        ),
        (
            "adding an IPv6 egress rule is broadening",
            security_group(json!([]), all_out()),
            security_group(
                json!([]),
                json!([all_out()[0].clone(), { "IpProtocol": "-1", "CidrIpv6": "::/0" }]),
            ),
            true,
        ),
        (
            "removing an ingress rule is not broadening",
            security_group(json!([ssh(), tcp("CidrIpv6", "::/0", 22, 22)]), all_out()),
            security_group(json!([ssh()]), all_out()),
            false,
        ),
        (
            // After creation CloudFormation does not restore the default allow-all egress when
            // the template's egress rules are removed: no outbound traffic is allowed then.
            // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-securitygroup.html
            "removing every egress rule is not broadening",
            security_group(json!([ssh()]), all_out()),
            security_group(json!([ssh()]), json!([])),
            false,
        ),
        (
            "changing only a rule's description is not broadening",
            security_group(json!([ssh()]), all_out()),
            security_group(
                json!([with(ssh(), json!({ "Description": "ssh from the office" }))]),
                all_out(),
            ),
            false,
        ),
        (
            "removing only a rule's description is not broadening",
            security_group(json!([ssh()]), all_out()),
            security_group(
                json!([with(ssh(), json!({ "Description": null }))]),
                all_out(),
            ),
            false,
        ),
        (
            "changing a rule's description and its CIDR is broadening",
            security_group(json!([ssh()]), all_out()),
            security_group(
                json!([with(
                    ssh(),
                    json!({ "Description": "anyone", "CidrIp": "0.0.0.0/0" })
                )]),
                all_out(),
            ),
            true,
        ),
        (
            "allowing another security group in is broadening",
            security_group(json!([ssh()]), all_out()),
            security_group(
                json!([ssh(), { "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                    "SourceSecurityGroupId": { "Ref": "BastionSecurityGroup" } }]),
                all_out(),
            ),
            true,
        ),
        (
            "ingress rules the gate cannot read (Fn::If) that change are broadening",
            security_group(json!({ "Fn::If": ["Ssh", [ssh()], []] }), all_out()),
            security_group(
                json!({ "Fn::If": ["Ssh", [tcp("CidrIp", "0.0.0.0/0", 22, 22)], []] }),
                all_out(),
            ),
            true,
        ),
        (
            "a standalone ingress rule is broadening",
            security_group(json!([]), all_out()),
            merge(&[
                security_group(json!([]), all_out()),
                standalone_ingress("AgentSecurityGroup", ssh()),
            ]),
            true,
        ),
        (
            "a standalone ingress rule moved to another group is broadening",
            standalone_ingress("AgentSecurityGroup", ssh()),
            standalone_ingress("OtherSecurityGroup", ssh()),
            true,
        ),
        (
            "a standalone ingress rule whose description alone changes is not broadening",
            standalone_ingress("AgentSecurityGroup", ssh()),
            standalone_ingress(
                "AgentSecurityGroup",
                with(ssh(), json!({ "Description": "renamed" })),
            ),
            false,
        ),
        (
            "removing a standalone ingress rule is not broadening",
            merge(&[
                security_group(json!([]), all_out()),
                standalone_ingress("AgentSecurityGroup", ssh()),
            ]),
            security_group(json!([]), all_out()),
            false,
        ),
    ]);
}

#[test]
fn canonical_form_sorts_action_and_resource_lists_only() {
    let statement = json!({
        "Resource": [{ "Fn::Join": ["", ["b", "a"]] }, "arn:z", "arn:a"],
        "Effect": "Allow",
        "Action": "s3:GetObject"
    });
    assert_eq!(
        canonical(&statement).to_string(),
        r#"{"Action":["s3:GetObject"],"Effect":"Allow","Resource":["arn:a","arn:z",{"Fn::Join":["",["b","a"]]}]}"#,
        "keys and Action/Resource lists sorted, the parts of a join kept in order"
    );
}

#[test]
fn grants_are_one_per_statement_rule_and_managed_policy() {
    let kinds = |t: &Value| {
        grants(t)
            .into_iter()
            .map(|g: Grant| (g.kind, g.holder))
            .collect::<Vec<_>>()
    };
    let t = merge(&[
        policy(json!([
            allow(json!("a:B"), json!("*")),
            allow(json!("a:C"), json!("*"))
        ])),
        managed(json!(["arn:aws:iam::aws:policy/X"])),
        security_group(json!([tcp("CidrIp", "10.0.0.0/8", 22, 22)]), all_out()),
    ]);
    assert_eq!(
        kinds(&t),
        vec![
            (GrantKind::IamStatement, "AgentPolicy".to_owned()),
            (GrantKind::IamStatement, "AgentPolicy".to_owned()),
            (GrantKind::TrustStatement, "AgentRole".to_owned()),
            (GrantKind::ManagedPolicy, "AgentRole".to_owned()),
            (GrantKind::Ingress, "AgentSecurityGroup".to_owned()),
            (GrantKind::Egress, "AgentSecurityGroup".to_owned()),
        ]
    );
}

#[test]
fn a_new_stack_with_grants_is_broadening() {
    // `deploy` of a stack that does not exist yet compares with an empty template.
    let new = policy(json!([allow(json!("ssm:GetParameter"), json!(PARAM))]));
    assert!(broadening(&json!({}), &new));
    assert!(!broadening(&json!({}), &template(json!({}))));
}

// ---------------------------------------------------------------------------------------
// Golden templates

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/synth")
}

fn fixture_text(case: &str) -> String {
    let path = fixtures_dir().join(case).join("template.json");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn fixture(case: &str) -> Value {
    serde_json::from_str(&fixture_text(case)).expect("golden template is JSON")
}

/// A golden template with its stack name replaced, so that comparing two cases shows only
/// what their options change, not the names every ARN carries.
fn fixture_named(case: &str, stack_name: &str, as_name: &str) -> Value {
    let text = fixture_text(case);
    assert!(
        text.contains(&format!("{stack_name}-")),
        "{case} is not named {stack_name}"
    );
    let text = text.replace(&format!("{stack_name}-"), &format!("{as_name}-"));
    serde_json::from_str(&text).expect("golden template is JSON")
}

/// Every list of statements, actions, resources, ARNs and rules reversed, and every object's
/// keys in reverse order: the same template, written differently.
fn reordered(value: &Value) -> Value {
    const LISTS: &[&str] = &[
        "Statement",
        "Action",
        "Resource",
        "ManagedPolicyArns",
        "SecurityGroupIngress",
        "SecurityGroupEgress",
        "Roles",
        "Service",
    ];
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .rev()
                .map(|(k, v)| {
                    let v = match v {
                        Value::Array(items) if LISTS.contains(&k.as_str()) => {
                            Value::Array(items.iter().rev().map(reordered).collect())
                        }
                        other => reordered(other),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(reordered).collect()),
        other => other.clone(),
    }
}

fn added(old: &Value, new: &Value) -> Vec<(GrantKind, String, String)> {
    compare(old, new)
        .security
        .added
        .into_iter()
        .map(|g| (g.kind, g.holder, g.what))
        .collect()
}

#[test]
fn golden_templates_against_themselves_and_reordered() {
    let mut cases: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures folder")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("template.json").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "found only {cases:?}");
    for case in &cases {
        let t = fixture(case);
        assert!(!grants(&t).is_empty(), "{case} has no grants");
        // Redeploying the same template never asks.
        let same = compare(&t, &t).security;
        assert!(same.is_empty(), "{case} against itself: {same:?}");
        // Nor does the same template with its lists and keys in another order.
        let shuffled = reordered(&t);
        assert_ne!(shuffled.to_string(), t.to_string(), "{case} not reordered");
        let diff = compare(&t, &shuffled).security;
        assert!(diff.is_empty(), "{case} reordered: {diff:?}");
    }
}

#[test]
fn golden_pairs() {
    let default = fixture("linux-default");
    check(vec![
        (
            // Another stack name renames every SSM parameter and the group pattern the roles
            // may use: the new ARNs are resources the deployed roles could not reach before.
            "linux-default deployed over by imdsv1-allowed (another stack name) is broadening",
            default.clone(),
            fixture("imdsv1-allowed"),
            true,
        ),
        (
            // IMDSv1, the OS and the token layout do not touch IAM or security groups.
            "linux-default to imdsv1-allowed under the same name is not broadening",
            default.clone(),
            fixture_named("imdsv1-allowed", "ci-legacy", "ci-agents"),
            false,
        ),
        (
            "linux-default to windows under the same name is not broadening",
            default.clone(),
            fixture_named("windows", "ci-windows", "ci-agents"),
            false,
        ),
        (
            // The SSH rule opens port 22 to 0.0.0.0/0 and the scaler Lambda gets the VPC
            // access policy and a security group with all egress.
            "linux-default to custom-vpc is broadening",
            default.clone(),
            fixture_named("custom-vpc", "ci-private", "ci-agents"),
            true,
        ),
        (
            // The reverse removes the SSH rule, the VPC policy and the Lambda's group only.
            "custom-vpc to linux-default is not broadening",
            fixture_named("custom-vpc", "ci-private", "ci-agents"),
            default.clone(),
            false,
        ),
        (
            // Dropping the scaler removes its role, policy and permission and adds nothing.
            "linux-default to custom-ami-no-scaling is not broadening",
            default.clone(),
            fixture_named("custom-ami-no-scaling", "ci-fixed", "ci-agents"),
            false,
        ),
        (
            "custom-ami-no-scaling to linux-default (the scaler comes back) is broadening",
            fixture_named("custom-ami-no-scaling", "ci-fixed", "ci-agents"),
            default.clone(),
            true,
        ),
        (
            // The template stops creating the agents' security group: its one egress rule
            // goes away. The groups named in the config live outside the stack: their rules
            // are not in the template, and which groups the launch template names is not a
            // grant the gate compares, so this change cannot be judged from the template.
            "linux-default to custom-sg-ipv6 is not broadening",
            default.clone(),
            fixture_named("custom-sg-ipv6", "ci-ipv6", "ci-agents"),
            false,
        ),
        (
            // S3 cache access, two extra managed policies, a customer KMS key and SSH ingress.
            "linux-default to linux-full is broadening",
            default.clone(),
            fixture_named("linux-full", "ci-agents-large", "ci-agents"),
            true,
        ),
        (
            // Mostly removals, but the roles go from the customer key back to the SSM alias:
            // kms:Decrypt on a key they could not use before.
            "linux-full to linux-default is broadening",
            fixture_named("linux-full", "ci-agents-large", "ci-agents"),
            default.clone(),
            true,
        ),
    ]);

    // The grants behind two of the verdicts above, so a verdict cannot be right by accident.
    let vpc_added = added(
        &default,
        &fixture_named("custom-vpc", "ci-private", "ci-agents"),
    );
    let summary: Vec<(GrantKind, &str)> = vpc_added
        .iter()
        .map(|(k, holder, _)| (*k, holder.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (GrantKind::ManagedPolicy, "scalerLambdaRole1D61EB11"),
            (GrantKind::Ingress, "securityGroup32C48086"),
            (GrantKind::Egress, "scalerLambdaSecurityGroupB905E544"),
        ],
        "{vpc_added:#?}"
    );
    assert!(vpc_added[0].2.contains("AWSLambdaVPCAccessExecutionRole"));
    assert!(vpc_added[1].2.contains(r#""CidrIp":"0.0.0.0/0""#));
    assert!(vpc_added[1].2.contains(r#""FromPort":22"#));

    let back = added(
        &fixture_named("linux-full", "ci-agents-large", "ci-agents"),
        &default,
    );
    assert!(
        !back.is_empty()
            && back.iter().all(|(k, _, what)| *k == GrantKind::IamStatement
                && what.contains("kms:Decrypt")
                && what.contains("key/alias/aws/ssm")),
        "{back:#?}"
    );
}
