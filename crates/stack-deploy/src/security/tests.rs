//! Tests for the readable security rows: intrinsics as `${…}`, one row per statement, rule,
//! managed policy and instance profile role, and nothing of a grant left out.

use serde_json::{Value, json};

use super::{RowChange, SecurityChanges, StatementSource, readable, readable_value};
use crate::diff::compare;

#[test]
fn intrinsics_are_written_readably() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("a string", json!("arn:aws:s3:::b"), "arn:aws:s3:::b"),
        ("a Ref", json!({"Ref": "role1"}), "${role1}"),
        (
            "a pseudo parameter",
            json!({"Ref": "AWS::Partition"}),
            "${AWS::Partition}",
        ),
        (
            "a GetAtt list",
            json!({"Fn::GetAtt": ["role1", "Arn"]}),
            "${role1.Arn}",
        ),
        (
            "a GetAtt string",
            json!({"Fn::GetAtt": "sg.GroupId"}),
            "${sg.GroupId}",
        ),
        (
            "an AWS managed policy ARN",
            json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/AmazonSSMManagedInstanceCore"]]}),
            "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore",
        ),
        (
            "a join with a separator",
            json!({"Fn::Join": [",", ["a", {"Ref": "B"}]]}),
            "a,${B}",
        ),
        (
            "a Sub string keeps its references",
            json!({"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:1:parameter/x"}),
            "arn:${AWS::Partition}:ssm:${AWS::Region}:1:parameter/x",
        ),
        (
            "a Sub with variables substitutes them",
            json!({"Fn::Sub": ["arn:aws:s3:::${Bucket}/*", {"Bucket": {"Ref": "CacheBucket"}}]}),
            "arn:aws:s3:::${CacheBucket}/*",
        ),
        (
            "another function is written as a call",
            json!({"Fn::If": ["HasKey", {"Ref": "Key"}, {"Ref": "AWS::NoValue"}]}),
            "Fn::If(HasKey, ${Key}, ${AWS::NoValue})",
        ),
        ("a list", json!(["a", {"Ref": "B"}]), "[a, ${B}]"),
        ("a number", json!(22), "22"),
    ];
    for (name, value, expected) in cases {
        assert_eq!(readable(&value), expected, "{name}");
    }
    assert_eq!(
        readable_value(&json!({"ArnLike": {"AWS:SourceArn": {"Fn::GetAtt": ["rule", "Arn"]}}})),
        json!({"ArnLike": {"AWS:SourceArn": "${rule.Arn}"}})
    );
}

fn changes(old: Value, new: Value) -> SecurityChanges {
    SecurityChanges::of(&compare(&old, &new).security)
}

#[test]
fn a_new_role_with_a_policy_gives_one_row_per_statement() {
    let new = json!({"Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ]},
            "ManagedPolicyArns": [{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]]}]
        }},
        "Policy": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "p",
            "Roles": [{"Ref": "Role"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ssm:GetParameter", "kms:Decrypt"],
                 "Resource": [{"Fn::Join": ["", ["arn:aws:ssm:*:*:parameter/", {"Ref": "Token"}]]}, "arn:aws:kms:*:*:key/k"],
                 "Condition": {"StringEquals": {"aws:RequestedRegion": {"Ref": "AWS::Region"}}}}
            ]}
        }},
        "Permission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": ["Function", "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]}
        }}
    }});
    let c = changes(json!({}), new);
    let rows: Vec<_> = c
        .iam_statements
        .iter()
        .map(|r| {
            (
                r.change,
                r.source,
                r.resource.clone(),
                r.effect.as_str(),
                r.action.clone(),
                r.principal.clone(),
                r.condition.clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                RowChange::Add,
                StatementSource::LambdaPermission,
                vec!["${Function.Arn}".to_owned()],
                "Allow",
                vec!["lambda:InvokeFunction".to_owned()],
                vec!["Service:events.amazonaws.com".to_owned()],
                Some(json!({"ArnLike": {"AWS:SourceArn": "${Rule.Arn}"}})),
            ),
            (
                RowChange::Add,
                StatementSource::Identity,
                vec![
                    "arn:aws:kms:*:*:key/k".to_owned(),
                    "arn:aws:ssm:*:*:parameter/${Token}".to_owned()
                ],
                "Allow",
                vec!["kms:Decrypt".to_owned(), "ssm:GetParameter".to_owned()],
                vec!["AWS:${Role}".to_owned()],
                Some(json!({"StringEquals": {"aws:RequestedRegion": "${AWS::Region}"}})),
            ),
            (
                RowChange::Add,
                StatementSource::Trust,
                vec!["${Role.Arn}".to_owned()],
                "Allow",
                vec!["sts:AssumeRole".to_owned()],
                vec!["Service:lambda.amazonaws.com".to_owned()],
                None,
            ),
        ]
    );
    assert_eq!(c.managed_policies.len(), 1);
    assert_eq!(c.managed_policies[0].resource, "${Role}");
    assert_eq!(
        c.managed_policies[0].managed_policy_arn,
        "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    );
}

#[test]
fn security_group_rules_name_direction_protocol_and_peer() {
    let group = |ingress: Value| {
        json!({"Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "g",
            "SecurityGroupEgress": [{"CidrIp": "0.0.0.0/0", "IpProtocol": "-1", "Description": "all out"}],
            "SecurityGroupIngress": ingress
        }}}})
    };
    let c = changes(
        group(json!([])),
        group(json!([
            {"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22},
            {"CidrIpv6": "::/0", "IpProtocol": "udp", "FromPort": 1000, "ToPort": 2000},
            {"SourceSecurityGroupId": {"Fn::GetAtt": ["Other", "GroupId"]}, "IpProtocol": "icmp", "FromPort": -1, "ToPort": -1}
        ])),
    );
    let rows: Vec<_> = c
        .security_group_rules
        .iter()
        .map(|r| {
            (
                r.change.sign(),
                r.group.as_str(),
                r.direction.as_str(),
                r.protocol.as_str(),
                r.peer.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "+",
                "${Sg.GroupId}",
                "In",
                "ICMP (all types)",
                "${Other.GroupId}"
            ),
            ("+", "${Sg.GroupId}", "In", "TCP 22", "Everyone (IPv4)"),
            (
                "+",
                "${Sg.GroupId}",
                "In",
                "UDP 1000-2000",
                "Everyone (IPv6)"
            ),
        ]
    );
    // A standalone rule names its group through its GroupId; all traffic is "Everything".
    let c = changes(
        json!({}),
        json!({"Resources": {"Out": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["Sg", "GroupId"]}, "IpProtocol": "-1", "CidrIp": "10.0.0.0/8"
        }}}}),
    );
    let r = &c.security_group_rules[0];
    assert_eq!(
        (
            r.group.as_str(),
            r.direction.as_str(),
            r.protocol.as_str(),
            r.peer.as_str()
        ),
        ("${Sg.GroupId}", "Out", "Everything", "10.0.0.0/8")
    );
}

#[test]
fn a_narrowed_statement_is_a_removed_row_next_to_its_added_one() {
    let policy = |actions: Value| {
        json!({"Resources": {"P": {"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "p", "Roles": [{"Ref": "R"}],
            "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"},
                {"Effect": "Allow", "Action": actions, "Resource": "arn:aws:s3:::b/*"}
            ]}
        }}}})
    };
    let c = changes(
        policy(json!(["s3:GetObject", "s3:PutObject"])),
        policy(json!(["s3:GetObject"])),
    );
    let rows: Vec<_> = c
        .iam_statements
        .iter()
        .map(|r| (r.change, r.action.clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                RowChange::Remove,
                vec!["s3:GetObject".to_owned(), "s3:PutObject".to_owned()]
            ),
            (RowChange::Add, vec!["s3:GetObject".to_owned()]),
        ]
    );
}

#[test]
fn unreadable_grants_are_shown_whole() {
    let c = changes(
        json!({}),
        json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": []},
            "Policies": {"Fn::If": ["C", [{"PolicyName": "x", "PolicyDocument": {}}], {"Ref": "AWS::NoValue"}]}
        }}}}),
    );
    assert_eq!(c.iam_statements.len(), 1, "{c:?}");
    let row = &c.iam_statements[0];
    assert_eq!(row.effect, "?");
    assert!(row.action[0].starts_with("Fn::If(C, "), "{row:?}");
}

#[test]
fn not_elements_are_marked() {
    let c = changes(
        json!({}),
        json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": [
                {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "sts:AssumeRole"}
            ]},
            "Policies": [{"PolicyName": "x", "PolicyDocument": {"Statement": [
                {"Effect": "Deny", "NotAction": "s3:*", "NotResource": "arn:aws:s3:::b"}
            ]}}]
        }}}}),
    );
    let rows: Vec<_> = c
        .iam_statements
        .iter()
        .map(|r| (r.resource.clone(), r.action.clone(), r.principal.clone()))
        .collect();
    assert!(
        rows.contains(&(
            vec!["NOT arn:aws:s3:::b".to_owned()],
            vec!["NOT s3:*".to_owned()],
            vec!["AWS:${R}".to_owned()]
        )),
        "{rows:?}"
    );
    assert!(
        rows.contains(&(
            vec!["${R.Arn}".to_owned()],
            vec!["sts:AssumeRole".to_owned()],
            vec!["NOT AWS:arn:aws:iam::1:root".to_owned()]
        )),
        "{rows:?}"
    );
}
