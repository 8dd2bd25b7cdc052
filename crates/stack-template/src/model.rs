//! A small CloudFormation template model: resources keyed by logical ID, with properties as
//! JSON in the order they are written, and helpers for the intrinsic functions we use.

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::ids::{CONSTRUCT_ROOT, construct_path};

/// A CloudFormation template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// `Description`.
    pub description: String,
    /// `Resources`, in template order.
    pub resources: IndexMap<String, Resource>,
}

/// One resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `Type`, e.g. `AWS::IAM::Role`.
    pub kind: &'static str,
    /// `Properties` (an object).
    pub properties: Value,
    /// `DependsOn`: only dependencies that no `Ref`/`GetAtt` already implies.
    pub depends_on: Vec<String>,
    /// `UpdateReplacePolicy` and `DeletionPolicy`, when set.
    pub delete_policy: Option<&'static str>,
}

impl Resource {
    /// A resource with properties and no explicit dependencies.
    pub fn new(kind: &'static str, properties: Value) -> Resource {
        Resource {
            kind,
            properties,
            depends_on: Vec::new(),
            delete_policy: None,
        }
    }

    /// Adds explicit dependencies.
    pub fn depends_on<I, S>(mut self, ids: I) -> Resource
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.depends_on.extend(ids.into_iter().map(Into::into));
        self
    }

    /// Sets `UpdateReplacePolicy` and `DeletionPolicy` to the same value.
    pub fn delete_policy(mut self, policy: &'static str) -> Resource {
        self.delete_policy = Some(policy);
        self
    }

    /// Renders the resource as CloudFormation JSON.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("Type".into(), json!(self.kind));
        if self.properties.as_object().is_some_and(|p| !p.is_empty()) {
            out.insert("Properties".into(), self.properties.clone());
        }
        if !self.depends_on.is_empty() {
            out.insert("DependsOn".into(), json!(self.depends_on));
        }
        if let Some(policy) = self.delete_policy {
            out.insert("UpdateReplacePolicy".into(), json!(policy));
            out.insert("DeletionPolicy".into(), json!(policy));
        }
        Value::Object(out)
    }
}

impl Template {
    /// Renders the template as CloudFormation JSON.
    pub fn to_json(&self) -> Value {
        let resources: Map<String, Value> = self
            .resources
            .iter()
            .map(|(id, r)| {
                let mut json = r.to_json();
                if let (Some(path), Value::Object(fields)) = (construct_path(id), &mut json) {
                    fields.insert(
                        "Metadata".into(),
                        json!({ "aws:cdk:path": format!("{CONSTRUCT_ROOT}/{path}") }),
                    );
                }
                (id.clone(), json)
            })
            .collect();
        json!({
            "Description": self.description,
            "Resources": resources,
        })
    }

    /// The template as pretty JSON (one-space indentation, as the original's `cdk synth`
    /// wrote it) with a trailing newline.
    pub fn to_pretty_string(&self) -> String {
        to_pretty_json(&self.to_json())
    }

    /// The resources of one type.
    pub fn resources_of_type<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Resource)> + 'a {
        self.resources.iter().filter(move |(_, r)| r.kind == kind)
    }
}

/// JSON with one-space indentation and a trailing newline, as `cdk synth` wrote templates.
pub fn to_pretty_json(value: &Value) -> String {
    let mut buf = Vec::with_capacity(64 * 1024);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
    serde::Serialize::serialize(value, &mut ser).expect("a JSON value always serializes");
    buf.push(b'\n');
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

/// `{"Ref": id}`.
pub fn reference(id: &str) -> Value {
    json!({ "Ref": id })
}

/// `{"Fn::GetAtt": [id, attribute]}`.
pub fn get_att(id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attribute] })
}

/// `{"Fn::Join": ["", parts]}`.
pub fn join(parts: Vec<Value>) -> Value {
    json!({ "Fn::Join": ["", parts] })
}

/// The ARN of an AWS managed policy, partition-independent (as CDK writes it).
pub fn aws_managed_policy(name: &str) -> Value {
    join(vec![
        json!("arn:"),
        reference("AWS::Partition"),
        json!(format!(":iam::aws:policy/{name}")),
    ])
}
