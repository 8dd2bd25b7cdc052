//! The security changes of a diff as people read them, in the shape of the CDK's review
//! tables: one row per IAM statement (resource, effect, action, principal, condition), per
//! managed policy, per instance profile role and per security group rule (group, direction,
//! protocol and ports, peer), with intrinsic functions written as `${Logical.Attribute}`,
//! `${AWS::Partition}` and `Fn::Join`/`Fn::Sub` flattened to the string they build.
//!
//! [`SecurityChanges`] is plain data, built from the grants [`crate::diff`] found added and
//! removed; it is also the `security` object of the `--json` reports. Drawing it as tables
//! is [`crate::render`]'s job; deciding whether a change widens rights stays in
//! [`crate::diff::SecurityDiff::is_broadening`].

use serde::Serialize;
use serde_json::{Map, Value};

use crate::diff::{Grant, GrantKind, SecurityDiff, is_intrinsic};

/// Whether a row is in the new template only or in the deployed one only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowChange {
    /// Only in the deployed template: the right goes away.
    Remove,
    /// Only in the new template: the right is granted.
    Add,
}

impl RowChange {
    /// `+` or `-`, the first column of every table.
    pub fn sign(self) -> &'static str {
        match self {
            RowChange::Add => "+",
            RowChange::Remove => "-",
        }
    }
}

/// Where an IAM statement comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatementSource {
    /// An identity policy: a role's inline policy, an `AWS::IAM::Policy` or a managed policy
    /// the template creates.
    Identity,
    /// A role's trust policy (who may assume it).
    Trust,
    /// An `AWS::Lambda::Permission`, shown as the resource policy statement it adds.
    LambdaPermission,
}

/// One IAM statement added or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRow {
    /// Added or removed.
    pub change: RowChange,
    /// Logical id of the resource holding the statement (policy, role or permission).
    pub holder: String,
    /// What kind of policy the statement belongs to.
    pub source: StatementSource,
    /// The resources it applies to (`NOT …` for `NotResource`).
    pub resource: Vec<String>,
    /// `Allow` or `Deny` (`?` when the statement cannot be read, e.g. an `Fn::If`).
    pub effect: String,
    /// The actions (`NOT …` for `NotAction`).
    pub action: Vec<String>,
    /// Who it applies to: `AWS:${Role}` for an identity policy, the trust policy's or the
    /// permission's principals (`Service:ec2.amazonaws.com`).
    pub principal: Vec<String>,
    /// The condition block, intrinsics written readably; `null` when there is none.
    pub condition: Option<Value>,
}

/// One managed policy attached to or detached from a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagedPolicyRow {
    /// Added or removed.
    pub change: RowChange,
    /// Logical id of the role.
    pub holder: String,
    /// The role, as `${Role}`.
    pub resource: String,
    /// The policy's ARN, intrinsics written readably.
    pub managed_policy_arn: String,
}

/// One role given to (or taken from) the instances of an instance profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceProfileRow {
    /// Added or removed.
    pub change: RowChange,
    /// Logical id of the instance profile.
    pub holder: String,
    /// The instance profile, as `${Profile}`.
    pub instance_profile: String,
    /// The role its instances act as.
    pub role: String,
}

/// One security group rule added or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRow {
    /// Added or removed.
    pub change: RowChange,
    /// Logical id of the resource holding the rule (the group, or a standalone rule).
    pub holder: String,
    /// The group, as `${Group.GroupId}`.
    pub group: String,
    /// `In` or `Out`.
    pub direction: String,
    /// `Everything`, or the protocol and ports (`TCP 22`, `UDP 1000-2000`).
    pub protocol: String,
    /// The other side: `Everyone (IPv4)`, a CIDR block, a group or a prefix list.
    pub peer: String,
    /// The rule's description, if any (not a right: a rule that changes only this is listed
    /// but does not widen anything).
    pub description: Option<String>,
}

/// The security changes of a diff, table by table; the `security` object of `--json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecurityChanges {
    /// IAM statements: identity policies, trust policies and Lambda permissions.
    pub iam_statements: Vec<StatementRow>,
    /// Managed policies attached to roles.
    pub managed_policies: Vec<ManagedPolicyRow>,
    /// Roles of instance profiles.
    pub instance_profiles: Vec<InstanceProfileRow>,
    /// Security group rules.
    pub security_group_rules: Vec<RuleRow>,
}

impl SecurityChanges {
    /// The rows of every grant `diff` adds or removes. Each table is ordered by what holds
    /// the grant, then by what it applies to, removed rows before added ones, so a statement
    /// that was narrowed shows as its old row followed by its new one.
    pub fn of(diff: &SecurityDiff) -> SecurityChanges {
        let mut out = SecurityChanges::default();
        for (grants, change) in [
            (&diff.added, RowChange::Add),
            (&diff.removed, RowChange::Remove),
        ] {
            for grant in grants {
                out.push(grant, change);
            }
        }
        out.iam_statements.sort_by(|a, b| {
            (&a.holder, &a.resource, a.change, &a.action).cmp(&(
                &b.holder,
                &b.resource,
                b.change,
                &b.action,
            ))
        });
        out.managed_policies.sort_by(|a, b| {
            (&a.holder, &a.managed_policy_arn, a.change).cmp(&(
                &b.holder,
                &b.managed_policy_arn,
                b.change,
            ))
        });
        out.instance_profiles
            .sort_by(|a, b| (&a.holder, &a.role, a.change).cmp(&(&b.holder, &b.role, b.change)));
        out.security_group_rules.sort_by(|a, b| {
            (&a.group, &a.direction, &a.protocol, &a.peer, a.change).cmp(&(
                &b.group,
                &b.direction,
                &b.protocol,
                &b.peer,
                b.change,
            ))
        });
        out
    }

    /// True when no table has a row.
    pub fn is_empty(&self) -> bool {
        self.iam_statements.is_empty()
            && self.managed_policies.is_empty()
            && self.instance_profiles.is_empty()
            && self.security_group_rules.is_empty()
    }

    fn push(&mut self, grant: &Grant, change: RowChange) {
        let what: Value = serde_json::from_str(&grant.what).unwrap_or(Value::Null);
        let holder = grant.holder.clone();
        match grant.kind {
            GrantKind::IamStatement => {
                let principal = identities(&grant.subject);
                self.iam_statements.push(statement_row(
                    change,
                    holder,
                    StatementSource::Identity,
                    &what,
                    None,
                    principal,
                ));
            }
            GrantKind::TrustStatement => {
                let role = format!("${{{}.Arn}}", grant.holder);
                self.iam_statements.push(statement_row(
                    change,
                    holder,
                    StatementSource::Trust,
                    &what,
                    Some(role),
                    Vec::new(),
                ));
            }
            GrantKind::LambdaPermission => {
                self.iam_statements
                    .push(permission_row(change, holder, &grant.subject, &what));
            }
            GrantKind::ManagedPolicy => self.managed_policies.push(ManagedPolicyRow {
                change,
                resource: format!("${{{}}}", grant.subject),
                holder,
                managed_policy_arn: readable(&what),
            }),
            GrantKind::InstanceProfileRole => self.instance_profiles.push(InstanceProfileRow {
                change,
                instance_profile: format!("${{{}}}", grant.holder),
                holder,
                role: readable(&what),
            }),
            GrantKind::Ingress | GrantKind::Egress => {
                // An inline rule's subject is its group's logical id; a standalone rule's is
                // the canonical JSON of its `GroupId`.
                let group = match json_subject(&grant.subject) {
                    Some(reference) => readable(&reference),
                    None => format!("${{{}.GroupId}}", grant.subject),
                };
                self.security_group_rules
                    .push(rule_row(change, holder, group, grant.kind, &what));
            }
        }
    }
}

/// `AWS:${Role}` for each role, user and group a policy is attached to: the subject is a
/// role's logical id (inline policy) or `{"Roles":[…],…}` (an `AWS::IAM::Policy`).
fn identities(subject: &str) -> Vec<String> {
    match json_subject(subject) {
        Some(Value::Object(lists)) => lists
            .values()
            .flat_map(list_of)
            .map(|identity| format!("AWS:{identity}"))
            .collect(),
        _ => vec![format!("AWS:${{{subject}}}")],
    }
}

/// A grant's subject when it is JSON (a reference, a name in quotes, a list of identities)
/// rather than the holder's own logical id.
fn json_subject(subject: &str) -> Option<Value> {
    if subject.starts_with(['{', '[', '"']) {
        serde_json::from_str(subject).ok()
    } else {
        None
    }
}

/// The readable entries of a list (or single value).
fn list_of(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().map(readable).collect(),
        other => vec![readable(other)],
    }
}

/// `NOT ` before every entry of a `Not…` element.
fn negated(items: Vec<String>) -> Vec<String> {
    items.into_iter().map(|i| format!("NOT {i}")).collect()
}

/// The entries of `Key`, or of `NotKey` marked `NOT`.
fn element(statement: &Map<String, Value>, key: &str) -> Vec<String> {
    if let Some(value) = statement.get(key) {
        return list_of(value);
    }
    statement
        .get(&format!("Not{key}"))
        .map(|value| negated(list_of(value)))
        .unwrap_or_default()
}

/// `Service:ec2.amazonaws.com`, `AWS:arn:…`, or `*`, for each principal of a `Principal`
/// (or `NotPrincipal`, marked `NOT`).
fn principals(statement: &Map<String, Value>) -> Vec<String> {
    let (value, not) = match (statement.get("Principal"), statement.get("NotPrincipal")) {
        (Some(v), _) => (v, false),
        (None, Some(v)) => (v, true),
        (None, None) => return Vec::new(),
    };
    let items = match value {
        Value::Object(types) if !is_intrinsic(types) => types
            .iter()
            .flat_map(|(kind, ids)| {
                list_of(ids)
                    .into_iter()
                    .map(move |id| format!("{kind}:{id}"))
            })
            .collect(),
        other => vec![readable(other)],
    };
    if not { negated(items) } else { items }
}

fn statement_row(
    change: RowChange,
    holder: String,
    source: StatementSource,
    statement: &Value,
    resource: Option<String>,
    principal: Vec<String>,
) -> StatementRow {
    let Some(map) = statement.as_object().filter(|m| m.contains_key("Effect")) else {
        // Not a plain statement (an `Fn::If` around it): shown whole, never hidden.
        return StatementRow {
            change,
            resource: vec![resource.unwrap_or_else(|| format!("${{{holder}}}"))],
            holder,
            source,
            effect: "?".to_owned(),
            action: vec![readable(statement)],
            principal,
            condition: None,
        };
    };
    let principal = match source {
        StatementSource::Trust => principals(map),
        _ if map.contains_key("Principal") || map.contains_key("NotPrincipal") => principals(map),
        _ => principal,
    };
    StatementRow {
        change,
        holder,
        source,
        resource: match resource {
            Some(role) => vec![role],
            None => element(map, "Resource"),
        },
        effect: map.get("Effect").map(readable).unwrap_or_default(),
        action: element(map, "Action"),
        principal,
        condition: map.get("Condition").map(readable_value),
    }
}

/// An `AWS::Lambda::Permission` as the statement it adds to the function's resource policy.
fn permission_row(
    change: RowChange,
    holder: String,
    function: &str,
    properties: &Value,
) -> StatementRow {
    let get = |key: &str| properties.get(key);
    let function = json_subject(function)
        .map(|f| readable(&f))
        .unwrap_or_else(|| function.to_owned());
    let principal = get("Principal").map(readable).unwrap_or_default();
    let principal = if principal.ends_with(".amazonaws.com") {
        format!("Service:{principal}")
    } else if principal == "*" {
        principal
    } else {
        format!("AWS:{principal}")
    };
    let mut condition = Map::new();
    let mut add = |operator: &str, key: &str, value: Option<&Value>| {
        if let Some(value) = value {
            let entry = condition
                .entry(operator.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = entry {
                map.insert(key.to_owned(), readable_value(value));
            }
        }
    };
    add("ArnLike", "AWS:SourceArn", get("SourceArn"));
    add("StringEquals", "AWS:SourceAccount", get("SourceAccount"));
    add("StringEquals", "aws:PrincipalOrgID", get("PrincipalOrgID"));
    add(
        "StringEquals",
        "lambda:FunctionUrlAuthType",
        get("FunctionUrlAuthType"),
    );
    StatementRow {
        change,
        holder,
        source: StatementSource::LambdaPermission,
        resource: vec![function],
        effect: "Allow".to_owned(),
        action: get("Action").map(list_of).unwrap_or_default(),
        principal: vec![principal],
        condition: (!condition.is_empty()).then_some(Value::Object(condition)),
    }
}

fn rule_row(
    change: RowChange,
    holder: String,
    group: String,
    kind: GrantKind,
    rule: &Value,
) -> RuleRow {
    let direction = if kind == GrantKind::Ingress {
        "In"
    } else {
        "Out"
    };
    let Some(map) = rule.as_object().filter(|m| !is_intrinsic(m)) else {
        return RuleRow {
            change,
            holder,
            group,
            direction: direction.to_owned(),
            protocol: "?".to_owned(),
            peer: readable(rule),
            description: None,
        };
    };
    let text = |key: &str| map.get(key).map(readable);
    let peer_key = if kind == GrantKind::Ingress {
        [
            "SourceSecurityGroupId",
            "SourcePrefixListId",
            "SourceSecurityGroupName",
        ]
    } else {
        [
            "DestinationSecurityGroupId",
            "DestinationPrefixListId",
            "DestinationSecurityGroupName",
        ]
    };
    let peer = match (text("CidrIp"), text("CidrIpv6")) {
        (Some(cidr), _) if cidr == "0.0.0.0/0" => "Everyone (IPv4)".to_owned(),
        (_, Some(cidr)) if cidr == "::/0" => "Everyone (IPv6)".to_owned(),
        (Some(cidr), _) | (_, Some(cidr)) => cidr,
        _ => peer_key
            .iter()
            .find_map(|k| text(k))
            .unwrap_or_else(|| "?".to_owned()),
    };
    RuleRow {
        change,
        holder,
        group,
        direction: direction.to_owned(),
        protocol: protocol(map),
        peer,
        description: text("Description"),
    }
}

/// `Everything`, `TCP 22`, `TCP 1024-65535`, `ICMP Type 8`, … from a rule's protocol and
/// ports (`-1`: all).
fn protocol(rule: &Map<String, Value>) -> String {
    let number = |key: &str| {
        rule.get(key).and_then(|v| match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        })
    };
    let name = match rule.get("IpProtocol").map(readable).as_deref() {
        Some("-1") | Some("all") => return "Everything".to_owned(),
        Some("tcp") | Some("6") => "TCP".to_owned(),
        Some("udp") | Some("17") => "UDP".to_owned(),
        Some("icmp") | Some("1") => "ICMP".to_owned(),
        Some("icmpv6") | Some("58") => "ICMPv6".to_owned(),
        Some(other) => other.to_owned(),
        None => "?".to_owned(),
    };
    let (from, to) = (number("FromPort"), number("ToPort"));
    let icmp = name.starts_with("ICMP");
    match (from, to) {
        (Some(-1), _) | (None, None) if icmp => format!("{name} (all types)"),
        (Some(-1), _) | (None, None) => format!("{name} (all ports)"),
        (Some(t), Some(c)) if icmp && c != -1 => format!("{name} Type {t} Code {c}"),
        (Some(t), _) if icmp => format!("{name} Type {t}"),
        (Some(a), Some(b)) if a == b => format!("{name} {a}"),
        (Some(a), Some(b)) if a == 0 && b == 65535 => format!("{name} (all ports)"),
        (Some(a), Some(b)) => format!("{name} {a}-{b}"),
        (Some(a), None) | (None, Some(a)) => format!("{name} {a}"),
    }
}

/// A template value as one readable string: strings as they are, `{"Ref":"X"}` as `${X}`,
/// `{"Fn::GetAtt":["X","Arn"]}` as `${X.Arn}`, `Fn::Join` and `Fn::Sub` as the string they
/// build (with the references in it written the same way), other functions as
/// `Fn::Name(arguments)`, lists as `[a, b]` and objects as compact JSON.
pub fn readable(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_owned(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(readable).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) if is_intrinsic(map) => {
            let (name, argument) = map.iter().next().expect("one key");
            intrinsic(name, argument)
        }
        Value::Object(_) => readable_value(value).to_string(),
    }
}

/// `value` with every intrinsic function replaced by its [`readable`] string, for the
/// conditions shown in a table and written in `--json`.
pub fn readable_value(value: &Value) -> Value {
    match value {
        Value::Object(map) if is_intrinsic(map) => Value::String(readable(value)),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), readable_value(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(readable_value).collect()),
        other => other.clone(),
    }
}

fn intrinsic(name: &str, argument: &Value) -> String {
    match (name, argument) {
        ("Ref", Value::String(id)) => format!("${{{id}}}"),
        ("Fn::GetAtt", Value::Array(parts)) if parts.iter().all(Value::is_string) => {
            format!(
                "${{{}}}",
                parts.iter().map(readable).collect::<Vec<_>>().join(".")
            )
        }
        ("Fn::GetAtt", Value::String(dotted)) => format!("${{{dotted}}}"),
        ("Fn::Join", Value::Array(args)) => match (args.first(), args.get(1)) {
            (Some(Value::String(separator)), Some(Value::Array(parts))) if args.len() == 2 => parts
                .iter()
                .map(readable)
                .collect::<Vec<_>>()
                .join(separator),
            _ => call(name, args),
        },
        ("Fn::Sub", Value::String(text)) => text.clone(),
        ("Fn::Sub", Value::Array(args)) => match (args.first(), args.get(1)) {
            (Some(Value::String(text)), Some(Value::Object(variables))) if args.len() == 2 => {
                substitute(text, variables)
            }
            _ => call(name, args),
        },
        (_, Value::Array(args)) => call(name, args),
        (_, other) => call(name, std::slice::from_ref(other)),
    }
}

/// `Fn::Name(a, b)`.
fn call(name: &str, args: &[Value]) -> String {
    format!(
        "{name}({})",
        args.iter().map(readable).collect::<Vec<_>>().join(", ")
    )
}

/// `text` with each `${name}` that `variables` defines replaced by its readable value; the
/// others (template references, `${!literal}`) stay as written.
fn substitute(text: &str, variables: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match variables.get(name) {
                    Some(value) => out.push_str(&readable(value)),
                    None => {
                        out.push_str("${");
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
