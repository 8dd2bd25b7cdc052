//! The difference between two CloudFormation templates, resource by resource, and what it
//! does to security: IAM statements, managed policies, Lambda permissions and security group
//! rules added or removed.
//!
//! Pure functions over JSON values; the deploy engine adds what a change set knows
//! (replacement decided by CloudFormation itself) on top.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::replacement::{self, Replacement};

/// Everything that differs between a deployed template and a new one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TemplateDiff {
    /// Changes to `Parameters`, `Outputs`, `Conditions`, `Rules`, `Mappings`, `Description`.
    pub sections: Vec<SectionChange>,
    /// Changed resources, in the new template's order, then the removed ones.
    pub resources: Vec<ResourceDiff>,
    /// IAM and security group changes.
    pub security: SecurityDiff,
}

impl TemplateDiff {
    /// True when the templates are the same in every section.
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty() && self.resources.is_empty()
    }

    /// The diff for a stack that does not exist yet: everything is added.
    pub fn creation(new: &Value) -> TemplateDiff {
        compare(&Value::Object(Map::new()), new)
    }

    /// Counts of added, modified, replaced and removed resources.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for r in &self.resources {
            match r.change {
                Change::Added => counts.added += 1,
                Change::Removed => counts.removed += 1,
                Change::Modified => {
                    counts.modified += 1;
                    if r.replacement != Replacement::Never {
                        counts.replaced += 1;
                    }
                }
            }
        }
        counts
    }
}

/// How many resources a diff touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// New resources.
    pub added: usize,
    /// Changed resources (including those replaced).
    pub modified: usize,
    /// Changed resources that are, or may be, replaced.
    pub replaced: usize,
    /// Resources deleted.
    pub removed: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to add, {} to change ({} replaced or possibly replaced), {} to remove",
            self.added, self.modified, self.replaced, self.removed
        )
    }
}

/// Added, removed or modified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Change {
    /// Only in the new template.
    Added,
    /// Only in the deployed template.
    Removed,
    /// In both, different.
    Modified,
}

impl Change {
    /// `[+]`, `[-]` or `[~]`.
    pub fn marker(self) -> &'static str {
        match self {
            Change::Added => "[+]",
            Change::Removed => "[-]",
            Change::Modified => "[~]",
        }
    }
}

/// A change in a template section other than `Resources`.
#[derive(Debug, Clone, Serialize)]
pub struct SectionChange {
    /// `Parameters`, `Outputs`, …
    pub section: String,
    /// The entry's name (empty for `Description`).
    pub name: String,
    /// What happened to it.
    pub change: Change,
}

/// One resource that differs.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceDiff {
    /// Logical id.
    pub logical_id: String,
    /// Resource type (the new one when it changed).
    pub resource_type: String,
    /// What happened to it.
    pub change: Change,
    /// Whether the change replaces the resource (always `Never` for added and removed ones).
    pub replacement: Replacement,
    /// The changed values, for modified resources.
    pub details: Vec<Detail>,
}

/// One changed value inside a resource.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    /// Where, e.g. `Properties.MixedInstancesPolicy.LaunchTemplate` or `DependsOn`.
    pub path: String,
    /// The deployed value, if any.
    pub old: Option<Value>,
    /// The new value, if any.
    pub new: Option<Value>,
    /// Whether this change alone replaces the resource.
    pub replacement: Replacement,
}

const SECTIONS: &[&str] = &[
    "Description",
    "Parameters",
    "Mappings",
    "Conditions",
    "Rules",
    "Outputs",
];

/// Compares a deployed template with a new one.
pub fn compare(old: &Value, new: &Value) -> TemplateDiff {
    let mut sections = Vec::new();
    for section in SECTIONS {
        let (a, b) = (old.get(section), new.get(section));
        if *section == "Description" {
            if a != b {
                sections.push(SectionChange {
                    section: (*section).into(),
                    name: String::new(),
                    change: change_of(a, b),
                });
            }
            continue;
        }
        let empty = Map::new();
        let a = a.and_then(Value::as_object).unwrap_or(&empty);
        let b = b.and_then(Value::as_object).unwrap_or(&empty);
        for name in union_keys(a, b) {
            let (x, y) = (a.get(&name), b.get(&name));
            if x != y {
                sections.push(SectionChange {
                    section: (*section).into(),
                    name,
                    change: change_of(x, y),
                });
            }
        }
    }

    let empty = Map::new();
    let old_resources = old
        .get("Resources")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let new_resources = new
        .get("Resources")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut resources = Vec::new();
    for id in union_keys(old_resources, new_resources) {
        let (a, b) = (old_resources.get(&id), new_resources.get(&id));
        if a == b {
            continue;
        }
        let resource_type = b
            .or(a)
            .and_then(|r| r.get("Type"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let (change, details) = match (a, b) {
            (Some(a), Some(b)) => (Change::Modified, resource_details(a, b, &resource_type)),
            (None, _) => (Change::Added, Vec::new()),
            (_, None) => (Change::Removed, Vec::new()),
        };
        let replacement = details
            .iter()
            .map(|d| d.replacement)
            .max()
            .unwrap_or(Replacement::Never);
        resources.push(ResourceDiff {
            logical_id: id,
            resource_type,
            change,
            replacement,
            details,
        });
    }
    propagate_replacements(&mut resources, new_resources);

    TemplateDiff {
        sections,
        resources,
        security: security_diff(old, new),
    }
}

fn change_of(a: Option<&Value>, b: Option<&Value>) -> Change {
    match (a, b) {
        (None, _) => Change::Added,
        (_, None) => Change::Removed,
        _ => Change::Modified,
    }
}

/// Keys of `b` in order, then those only in `a`.
fn union_keys(a: &Map<String, Value>, b: &Map<String, Value>) -> Vec<String> {
    let mut keys: Vec<String> = b.keys().cloned().collect();
    keys.extend(a.keys().filter(|k| !b.contains_key(*k)).cloned());
    keys
}

fn resource_details(old: &Value, new: &Value, resource_type: &str) -> Vec<Detail> {
    let mut details = Vec::new();
    let empty = Map::new();
    let a = old.as_object().unwrap_or(&empty);
    let b = new.as_object().unwrap_or(&empty);
    for key in union_keys(a, b) {
        let (x, y) = (a.get(&key), b.get(&key));
        if x == y {
            continue;
        }
        match key.as_str() {
            "Type" => details.push(Detail {
                path: key.clone(),
                old: x.cloned(),
                new: y.cloned(),
                replacement: Replacement::Always,
            }),
            "Properties" => {
                let pa = x.and_then(Value::as_object).unwrap_or(&empty);
                let pb = y.and_then(Value::as_object).unwrap_or(&empty);
                for prop in union_keys(pa, pb) {
                    let replacement = replacement::of_property(resource_type, &prop);
                    leaf_changes(
                        &format!("Properties.{prop}"),
                        pa.get(&prop),
                        pb.get(&prop),
                        replacement,
                        &mut details,
                    );
                }
            }
            // DependsOn, Metadata, DeletionPolicy, UpdatePolicy, Condition…: never replace.
            _ => details.push(Detail {
                path: key.clone(),
                old: x.cloned(),
                new: y.cloned(),
                replacement: Replacement::Never,
            }),
        }
    }
    details
}

/// Descends into objects so a detail names the innermost changed key; arrays and scalars are
/// reported whole.
fn leaf_changes(
    path: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    replacement: Replacement,
    out: &mut Vec<Detail>,
) {
    if old == new {
        return;
    }
    if let (Some(Value::Object(a)), Some(Value::Object(b))) = (old, new)
        && !is_intrinsic(a)
        && !is_intrinsic(b)
    {
        for key in union_keys(a, b) {
            leaf_changes(
                &format!("{path}.{key}"),
                a.get(&key),
                b.get(&key),
                replacement,
                out,
            );
        }
        return;
    }
    out.push(Detail {
        path: path.to_owned(),
        old: old.cloned(),
        new: new.cloned(),
        replacement,
    });
}

/// Whether a template object is an intrinsic function call (`{"Ref": ...}`, `{"Fn::X": ...}`).
pub(crate) fn is_intrinsic(object: &Map<String, Value>) -> bool {
    object.len() == 1
        && object
            .keys()
            .next()
            .is_some_and(|k| k == "Ref" || k.starts_with("Fn::"))
}

/// A resource whose create-only property refers to a replaced resource gets a new value at
/// deploy time, so it may be replaced too (repeated until nothing more follows).
fn propagate_replacements(resources: &mut Vec<ResourceDiff>, new_resources: &Map<String, Value>) {
    loop {
        let replaced: BTreeSet<String> = resources
            .iter()
            .filter(|r| r.change == Change::Modified && r.replacement != Replacement::Never)
            .map(|r| r.logical_id.clone())
            .collect();
        let mut changed = false;
        for (id, resource) in new_resources {
            let resource_type = resource.get("Type").and_then(Value::as_str).unwrap_or("?");
            let Some(props) = resource.get("Properties").and_then(Value::as_object) else {
                continue;
            };
            let cause = props.iter().find_map(|(prop, value)| {
                if replacement::of_property(resource_type, prop) == Replacement::Never {
                    return None;
                }
                let cause = references(value)
                    .into_iter()
                    .find(|r| replaced.contains(r))?;
                Some((prop.clone(), cause))
            });
            let Some((prop, cause)) = cause else {
                continue;
            };
            let detail = Detail {
                path: format!("Properties.{prop}"),
                old: None,
                new: Some(Value::String(format!(
                    "(a new value when {cause} is replaced)"
                ))),
                replacement: Replacement::Conditional,
            };
            match resources.iter_mut().find(|r| r.logical_id == *id) {
                Some(r) if r.change == Change::Modified && r.replacement == Replacement::Never => {
                    r.replacement = Replacement::Conditional;
                    r.details.push(detail);
                    changed = true;
                }
                Some(_) => {}
                None => {
                    resources.push(ResourceDiff {
                        logical_id: id.clone(),
                        resource_type: resource_type.to_owned(),
                        change: Change::Modified,
                        replacement: Replacement::Conditional,
                        details: vec![detail],
                    });
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
    }
}

/// Logical ids that `value` refers to with `Ref`, `Fn::GetAtt` or `${…}` in `Fn::Sub`.
pub fn references(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_references(value, &mut out);
    out
}

fn collect_references(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("Ref", Value::String(id)) if !id.starts_with("AWS::") => {
                        out.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        if let Some(Value::String(id)) = parts.first() {
                            out.insert(id.clone());
                        }
                    }
                    ("Fn::GetAtt", Value::String(dotted)) => {
                        if let Some((id, _)) = dotted.split_once('.') {
                            out.insert(id.to_owned());
                        }
                    }
                    ("Fn::Sub", sub) => {
                        let text = match sub {
                            Value::String(s) => Some(s.as_str()),
                            Value::Array(parts) => parts.first().and_then(Value::as_str),
                            _ => None,
                        };
                        for part in text.unwrap_or("").split("${").skip(1) {
                            if let Some((name, _)) = part.split_once('}') {
                                let id = name.split('.').next().unwrap_or(name);
                                if !id.starts_with("AWS::") && !id.starts_with('!') {
                                    out.insert(id.to_owned());
                                }
                            }
                        }
                        if let Value::Array(parts) = sub {
                            parts
                                .iter()
                                .skip(1)
                                .for_each(|p| collect_references(p, out));
                        }
                    }
                    _ => collect_references(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Security

/// IAM and network grants added and removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecurityDiff {
    /// Grants only in the new template.
    pub added: Vec<Grant>,
    /// Grants only in the deployed template.
    pub removed: Vec<Grant>,
}

impl SecurityDiff {
    /// True when the new template may grant something the deployed one did not: a new IAM
    /// statement, trust, managed policy, instance profile role, Lambda permission or security
    /// group rule, or a removed `Deny` (or a removed statement whose effect cannot be read).
    ///
    /// Not broadening: an added `Deny`, and an added grant that only narrows one it replaces
    /// (fewer actions, resources or principals, an added condition, a new rule description).
    /// Anything else the gate cannot read counts as broadening.
    pub fn is_broadening(&self) -> bool {
        let widens = |new: &Grant| {
            effect(new) != Some("Deny") && !self.removed.iter().any(|old| narrows(old, new))
        };
        let unblocks = |old: &Grant| is_statement(old) && effect(old) != Some("Allow");
        self.added.iter().any(widens) || self.removed.iter().any(unblocks)
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// One permission-bearing item of a template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Grant {
    /// What kind of grant.
    pub kind: GrantKind,
    /// The resource that holds it (policy, role, permission or security group).
    pub holder: String,
    /// Who gets it: the holder's own logical id for a role's inline, trust and managed
    /// policies, an instance profile and a group's inline rules; the identities a policy is
    /// attached to (`{"Roles":[…],"Users":[…],"Groups":[…]}` as canonical JSON); the function
    /// of a Lambda permission or the group of a standalone rule (canonical JSON of the
    /// reference).
    pub subject: String,
    /// The grant, as canonical compact JSON (object keys sorted, action and resource lists
    /// sorted).
    pub what: String,
}

/// The kinds of grants compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum GrantKind {
    /// A statement of an identity policy (inline or managed).
    IamStatement,
    /// A statement of a role's trust policy.
    TrustStatement,
    /// A managed policy attached to a role.
    ManagedPolicy,
    /// A role given to the instances launched with an instance profile.
    InstanceProfileRole,
    /// A Lambda resource policy entry (`AWS::Lambda::Permission`).
    LambdaPermission,
    /// A security group ingress rule.
    Ingress,
    /// A security group egress rule.
    Egress,
}

impl fmt::Display for GrantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GrantKind::IamStatement => "IAM statement",
            GrantKind::TrustStatement => "trust statement",
            GrantKind::ManagedPolicy => "managed policy",
            GrantKind::InstanceProfileRole => "instance profile role",
            GrantKind::LambdaPermission => "Lambda permission",
            GrantKind::Ingress => "ingress rule",
            GrantKind::Egress => "egress rule",
        })
    }
}

fn security_diff(old: &Value, new: &Value) -> SecurityDiff {
    let a = grants(old);
    let b = grants(new);
    SecurityDiff {
        added: b.difference(&a).cloned().collect(),
        removed: a.difference(&b).cloned().collect(),
    }
}

/// Every grant in a template.
pub fn grants(template: &Value) -> BTreeSet<Grant> {
    let mut out = BTreeSet::new();
    let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
        return out;
    };
    for (id, resource) in resources {
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        let empty = Value::Object(Map::new());
        let props = resource.get("Properties").unwrap_or(&empty);
        let mut push = |kind: GrantKind, subject: String, what: &Value| {
            out.insert(Grant {
                kind,
                holder: id.clone(),
                subject,
                what: canonical(what).to_string(),
            });
        };
        match kind {
            "AWS::IAM::Role" => {
                for statement in statements(props.get("AssumeRolePolicyDocument")) {
                    push(GrantKind::TrustStatement, id.clone(), &statement);
                }
                for policy in items(props.get("Policies")) {
                    // An unreadable entry (an `Fn::If`) is taken whole as its document.
                    let document = policy.get("PolicyDocument").unwrap_or(policy);
                    for statement in statements(Some(document)) {
                        push(GrantKind::IamStatement, id.clone(), &statement);
                    }
                }
                for arn in items(props.get("ManagedPolicyArns")) {
                    push(GrantKind::ManagedPolicy, id.clone(), arn);
                }
            }
            "AWS::IAM::InstanceProfile" => {
                for role in items(props.get("Roles")) {
                    push(GrantKind::InstanceProfileRole, id.clone(), role);
                }
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
                // `{"Groups":[…],"Roles":[…],"Users":[…]}` with the lists present, sorted.
                let subject = Value::Object(
                    ["Groups", "Roles", "Users"]
                        .iter()
                        .filter_map(|k| Some(((*k).to_owned(), sorted_list(props.get(*k)?))))
                        .collect(),
                )
                .to_string();
                for statement in statements(props.get("PolicyDocument")) {
                    push(GrantKind::IamStatement, subject.clone(), &statement);
                }
            }
            "AWS::Lambda::Permission" => {
                let subject = props
                    .get("FunctionName")
                    .map(|v| canonical(v).to_string())
                    .unwrap_or_default();
                push(GrantKind::LambdaPermission, subject, props);
            }
            "AWS::EC2::SecurityGroup" => {
                for (key, kind) in [
                    ("SecurityGroupIngress", GrantKind::Ingress),
                    ("SecurityGroupEgress", GrantKind::Egress),
                ] {
                    for rule in items(props.get(key)) {
                        push(kind, id.clone(), rule);
                    }
                }
            }
            "AWS::EC2::SecurityGroupIngress" | "AWS::EC2::SecurityGroupEgress" => {
                let mut rule = props.as_object().cloned().unwrap_or_default();
                let group = rule
                    .remove("GroupId")
                    .map(|v| canonical(&v).to_string())
                    .unwrap_or_default();
                let kind = if kind.ends_with("Ingress") {
                    GrantKind::Ingress
                } else {
                    GrantKind::Egress
                };
                push(kind, group, &Value::Object(rule));
            }
            _ => {}
        }
    }
    out
}

/// The statements of a policy document, one statement per action-resource group as written.
/// A document whose statements cannot be read (an `Fn::If`) is one opaque statement, so that
/// a change to it still counts.
fn statements(document: Option<&Value>) -> Vec<Value> {
    let Some(document) = document else {
        return Vec::new();
    };
    match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => vec![document.clone()],
    }
}

/// The entries of a list property; anything else (an `Fn::If`) is one opaque entry.
fn items(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

fn is_statement(grant: &Grant) -> bool {
    matches!(
        grant.kind,
        GrantKind::IamStatement | GrantKind::TrustStatement
    )
}

/// The `Effect` of a statement grant, when it is a plain string.
fn effect(grant: &Grant) -> Option<&'static str> {
    if !is_statement(grant) {
        return None;
    }
    let statement: Value = serde_json::from_str(&grant.what).ok()?;
    match statement.get("Effect")?.as_str()? {
        "Allow" => Some("Allow"),
        "Deny" => Some("Deny"),
        _ => None,
    }
}

/// Whether `new` allows nothing that `old`, which it replaces, did not: same kind, holder and
/// subject, and either two `Allow` statements where `new` has a subset of the actions,
/// resources and principals and the same everything else (or a condition where `old` had
/// none), or two security group rules that differ only in their description. Wildcards,
/// `Not…` lists, conditions and port ranges are not interpreted, so a change to them counts.
fn narrows(old: &Grant, new: &Grant) -> bool {
    if (old.kind, &old.holder, &old.subject) != (new.kind, &new.holder, &new.subject) {
        return false;
    }
    let parse = |g: &Grant| match serde_json::from_str(&g.what) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    };
    let (Some(mut a), Some(mut b)) = (parse(old), parse(new)) else {
        return false;
    };
    match new.kind {
        GrantKind::IamStatement | GrantKind::TrustStatement => {
            if effect(old) != Some("Allow") || effect(new) != Some("Allow") {
                return false;
            }
            // A condition only ever restricts an `Allow`.
            if !a.contains_key("Condition") {
                b.remove("Condition");
            }
            a.len() == b.len()
                && b.iter().all(|(key, vb)| {
                    let Some(va) = a.get(key) else {
                        return false;
                    };
                    match (key.as_str(), va, vb) {
                        ("Action" | "Resource", _, _) => subset(va, vb),
                        ("Principal", Value::Object(pa), Value::Object(pb)) => pb
                            .iter()
                            .all(|(k, v)| pa.get(k).is_some_and(|o| subset(o, v))),
                        _ => va == vb,
                    }
                })
        }
        GrantKind::Ingress | GrantKind::Egress => {
            a.remove("Description");
            b.remove("Description");
            a == b
        }
        _ => false,
    }
}

/// Whether every entry of list (or single value) `inner` is in `outer`.
fn subset(outer: &Value, inner: &Value) -> bool {
    let outer = items(Some(outer));
    items(Some(inner)).iter().all(|v| outer.contains(v))
}

/// Sorted object keys everywhere; `Action`/`Resource` (and `Not…`) and the principals of a
/// `Principal` as sorted lists, so reordering or `"a"` versus `["a"]` is not a change.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> = map
                .iter()
                .map(|(k, v)| {
                    let v = if matches!(
                        k.as_str(),
                        "Action"
                            | "NotAction"
                            | "Resource"
                            | "NotResource"
                            // The principal types of `Principal` and `NotPrincipal`.
                            | "AWS"
                            | "Service"
                            | "Federated"
                            | "CanonicalUser"
                    ) {
                        sorted_list(v)
                    } else {
                        canonical(v)
                    };
                    (k, v)
                })
                .collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn sorted_list(value: &Value) -> Value {
    let mut items: Vec<Value> = match value {
        Value::Array(items) => items.iter().map(canonical).collect(),
        other => vec![canonical(other)],
    };
    items.sort_by_key(|v| v.to_string());
    items.dedup();
    Value::Array(items)
}

#[cfg(test)]
mod tests;
