//! `SEMAPHORE_AGENT_ASG_LAUNCH_TEMPLATE_OVERRIDES_JSON`: launch-template overrides for the Auto
//! Scaling group's mixed instances policy, converted to CloudFormation's property names.
//!
//! The original accepted only CDK's camelCase keys and silently dropped everything else
//! (so CloudFormation's own PascalCase spelling rendered as `{}`). Here every key may be written
//! in either spelling, unknown keys are rejected with their path, value types are checked, and
//! an array of override objects is accepted as well as a single object.

use serde_json::{Map, Value};

/// The shape a value must have.
#[derive(Clone, Copy)]
enum Shape {
    String,
    Number,
    Bool,
    StringList,
    /// `{min, max}` of numbers.
    Range,
    Object(&'static [Field]),
    /// A list of objects.
    ObjectList(&'static [Field]),
}

/// One known key: CDK camelCase name, CloudFormation name, shape, and whether it is required.
struct Field {
    camel: &'static str,
    pascal: &'static str,
    shape: Shape,
    required: bool,
}

const fn f(camel: &'static str, pascal: &'static str, shape: Shape) -> Field {
    Field {
        camel,
        pascal,
        shape,
        required: false,
    }
}

const fn required(camel: &'static str, pascal: &'static str, shape: Shape) -> Field {
    Field {
        camel,
        pascal,
        shape,
        required: true,
    }
}

const RANGE_FIELDS: &[Field] = &[
    f("min", "Min", Shape::Number),
    f("max", "Max", Shape::Number),
];

const LAUNCH_TEMPLATE_SPECIFICATION: &[Field] = &[
    f("launchTemplateId", "LaunchTemplateId", Shape::String),
    f("launchTemplateName", "LaunchTemplateName", Shape::String),
    f("version", "Version", Shape::String),
];

const REFERENCE: &[Field] = &[f("instanceFamily", "InstanceFamily", Shape::String)];
const CPU: &[Field] = &[f("references", "References", Shape::ObjectList(REFERENCE))];
const PERFORMANCE_FACTORS: &[Field] = &[f("cpu", "Cpu", Shape::Object(CPU))];

const INSTANCE_REQUIREMENTS: &[Field] = &[
    f("acceleratorCount", "AcceleratorCount", Shape::Range),
    f(
        "acceleratorManufacturers",
        "AcceleratorManufacturers",
        Shape::StringList,
    ),
    f("acceleratorNames", "AcceleratorNames", Shape::StringList),
    f(
        "acceleratorTotalMemoryMiB",
        "AcceleratorTotalMemoryMiB",
        Shape::Range,
    ),
    f("acceleratorTypes", "AcceleratorTypes", Shape::StringList),
    f(
        "allowedInstanceTypes",
        "AllowedInstanceTypes",
        Shape::StringList,
    ),
    f("bareMetal", "BareMetal", Shape::String),
    f(
        "baselineEbsBandwidthMbps",
        "BaselineEbsBandwidthMbps",
        Shape::Range,
    ),
    f(
        "baselinePerformanceFactors",
        "BaselinePerformanceFactors",
        Shape::Object(PERFORMANCE_FACTORS),
    ),
    f(
        "burstablePerformance",
        "BurstablePerformance",
        Shape::String,
    ),
    f("cpuManufacturers", "CpuManufacturers", Shape::StringList),
    f(
        "excludedInstanceTypes",
        "ExcludedInstanceTypes",
        Shape::StringList,
    ),
    f(
        "instanceGenerations",
        "InstanceGenerations",
        Shape::StringList,
    ),
    f("localStorage", "LocalStorage", Shape::String),
    f("localStorageTypes", "LocalStorageTypes", Shape::StringList),
    f(
        "maxSpotPriceAsPercentageOfOptimalOnDemandPrice",
        "MaxSpotPriceAsPercentageOfOptimalOnDemandPrice",
        Shape::Number,
    ),
    f("memoryGiBPerVCpu", "MemoryGiBPerVCpu", Shape::Range),
    required("memoryMiB", "MemoryMiB", Shape::Range),
    f("networkBandwidthGbps", "NetworkBandwidthGbps", Shape::Range),
    f(
        "networkInterfaceCount",
        "NetworkInterfaceCount",
        Shape::Range,
    ),
    f(
        "onDemandMaxPricePercentageOverLowestPrice",
        "OnDemandMaxPricePercentageOverLowestPrice",
        Shape::Number,
    ),
    f(
        "requireHibernateSupport",
        "RequireHibernateSupport",
        Shape::Bool,
    ),
    f(
        "spotMaxPricePercentageOverLowestPrice",
        "SpotMaxPricePercentageOverLowestPrice",
        Shape::Number,
    ),
    f("totalLocalStorageGb", "TotalLocalStorageGB", Shape::Range),
    required("vCpuCount", "VCpuCount", Shape::Range),
];

const OVERRIDE: &[Field] = &[
    f("imageId", "ImageId", Shape::String),
    f(
        "instanceRequirements",
        "InstanceRequirements",
        Shape::Object(INSTANCE_REQUIREMENTS),
    ),
    f("instanceType", "InstanceType", Shape::String),
    f(
        "launchTemplateSpecification",
        "LaunchTemplateSpecification",
        Shape::Object(LAUNCH_TEMPLATE_SPECIFICATION),
    ),
    f("weightedCapacity", "WeightedCapacity", Shape::String),
];

/// Parses the parameter's JSON text into a list of override objects with CloudFormation
/// property names (keys in alphabetical order, as CDK wrote them). Returns every problem
/// found, each naming the offending key path.
pub fn parse(text: &str) -> Result<Vec<Value>, Vec<String>> {
    let json: Value =
        serde_json::from_str(text).map_err(|e| vec![format!("is not valid JSON ({e})")])?;
    let (items, is_array) = match json {
        Value::Object(_) => (vec![json], false),
        Value::Array(items) if !items.is_empty() => (items, true),
        Value::Array(_) => {
            return Err(vec!["is an empty array; give at least one override".into()]);
        }
        _ => return Err(vec!["must be a JSON object or an array of objects".into()]),
    };
    let mut problems = Vec::new();
    let mut converted = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let path = if is_array {
            format!("[{index}]")
        } else {
            String::new()
        };
        match item {
            Value::Object(object) => {
                converted.push(convert_object(object, OVERRIDE, &path, &mut problems));
            }
            _ => problems.push(format!("{} must be an object", display_path(&path))),
        }
    }
    if problems.is_empty() {
        Ok(converted)
    } else {
        Err(problems)
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "the value".to_owned()
    } else {
        format!("'{path}'")
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn convert_object(
    object: &Map<String, Value>,
    fields: &'static [Field],
    path: &str,
    problems: &mut Vec<String>,
) -> Value {
    let mut out = Map::new();
    for (key, value) in object {
        let key_path = join(path, key);
        let Some(field) = fields.iter().find(|f| f.camel == key || f.pascal == key) else {
            let known: Vec<&str> = fields.iter().map(|f| f.pascal).collect();
            problems.push(format!(
                "has an unknown key '{key_path}' (expected one of {}, or their camelCase forms)",
                known.join(", ")
            ));
            continue;
        };
        if out.contains_key(field.pascal) {
            problems.push(format!(
                "sets '{}' twice ({} and {})",
                join(path, field.pascal),
                field.camel,
                field.pascal
            ));
            continue;
        }
        if let Some(converted) = convert_value(value, field.shape, &key_path, problems) {
            out.insert(field.pascal.to_owned(), converted);
        }
    }
    for field in fields.iter().filter(|f| f.required) {
        if !out.contains_key(field.pascal) && !object_has_field(object, field) {
            problems.push(format!(
                "is missing the required key '{}'",
                join(path, field.camel)
            ));
        }
    }
    out.sort_keys();
    Value::Object(out)
}

fn object_has_field(object: &Map<String, Value>, field: &Field) -> bool {
    object.contains_key(field.camel) || object.contains_key(field.pascal)
}

fn convert_value(
    value: &Value,
    shape: Shape,
    path: &str,
    problems: &mut Vec<String>,
) -> Option<Value> {
    let mut wrong = |expected: &str| {
        problems.push(format!("'{path}' must be {expected}"));
        None
    };
    match shape {
        Shape::String => match value {
            Value::String(_) => Some(value.clone()),
            _ => wrong("a string"),
        },
        Shape::Number => match value {
            Value::Number(_) => Some(value.clone()),
            _ => wrong("a number"),
        },
        Shape::Bool => match value {
            Value::Bool(_) => Some(value.clone()),
            _ => wrong("true or false"),
        },
        Shape::StringList => match value {
            Value::Array(items) if items.iter().all(Value::is_string) => Some(value.clone()),
            _ => wrong("an array of strings"),
        },
        Shape::Range => match value {
            Value::Object(object) => Some(convert_object(object, RANGE_FIELDS, path, problems)),
            _ => wrong("an object like {\"min\": 1, \"max\": 4}"),
        },
        Shape::Object(fields) => match value {
            Value::Object(object) => Some(convert_object(object, fields, path, problems)),
            _ => wrong("an object"),
        },
        Shape::ObjectList(fields) => match value {
            Value::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}[{i}]");
                    match item {
                        Value::Object(object) => {
                            out.push(convert_object(object, fields, &item_path, problems))
                        }
                        _ => problems.push(format!("'{item_path}' must be an object")),
                    }
                }
                Some(Value::Array(out))
            }
            _ => wrong("an array of objects"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn camel_case_is_converted_like_cdk() {
        let parsed = parse(
            r#"{"instanceRequirements":{"vCpuCount":{"min":2,"max":8},"memoryMiB":{"min":4096},"cpuManufacturers":["intel","amd"]}}"#,
        )
        .expect("valid");
        assert_eq!(
            parsed,
            vec![
                json!({"InstanceRequirements":{"CpuManufacturers":["intel","amd"],"MemoryMiB":{"Min":4096},"VCpuCount":{"Max":8,"Min":2}}})
            ]
        );
        // Key order follows CloudFormation names alphabetically, as CDK emitted them.
        let text = serde_json::to_string(&parsed[0]).expect("serializes");
        assert_eq!(
            text,
            r#"{"InstanceRequirements":{"CpuManufacturers":["intel","amd"],"MemoryMiB":{"Min":4096},"VCpuCount":{"Max":8,"Min":2}}}"#
        );
    }

    #[test]
    fn pascal_case_is_kept() {
        let parsed = parse(r#"{"InstanceType":"t3.large","WeightedCapacity":"2"}"#).expect("valid");
        assert_eq!(
            parsed,
            vec![json!({"InstanceType":"t3.large","WeightedCapacity":"2"})]
        );
    }

    #[test]
    fn total_local_storage_has_an_irregular_name() {
        let parsed = parse(
            r#"{"instanceRequirements":{"vCpuCount":{"min":1},"memoryMiB":{"min":1},"totalLocalStorageGb":{"min":10}}}"#,
        )
        .expect("valid");
        assert_eq!(
            parsed[0]["InstanceRequirements"]["TotalLocalStorageGB"],
            json!({"Min": 10})
        );
    }

    #[test]
    fn arrays_give_several_overrides() {
        let parsed =
            parse(r#"[{"instanceType":"t3.large"},{"InstanceType":"m5.large"}]"#).expect("valid");
        assert_eq!(
            parsed,
            vec![
                json!({"InstanceType":"t3.large"}),
                json!({"InstanceType":"m5.large"})
            ]
        );
    }

    #[test]
    fn performance_factors_nest() {
        let parsed = parse(
            r#"{"instanceRequirements":{"vCpuCount":{"min":1},"memoryMiB":{"min":1},"baselinePerformanceFactors":{"cpu":{"references":[{"instanceFamily":"c6i"}]}}}}"#,
        )
        .expect("valid");
        assert_eq!(
            parsed[0]["InstanceRequirements"]["BaselinePerformanceFactors"],
            json!({"Cpu":{"References":[{"InstanceFamily":"c6i"}]}})
        );
    }

    #[test]
    fn problems_name_the_key_path() {
        let cases: &[(&str, &str)] = &[
            (
                r#"{"instancetype":"t3.large"}"#,
                "unknown key 'instancetype'",
            ),
            (
                r#"{"instanceRequirements":{"vcpuCount":{"min":1},"memoryMiB":{"min":1}}}"#,
                "unknown key 'instanceRequirements.vcpuCount'",
            ),
            (
                r#"{"instanceRequirements":{"memoryMiB":{"min":1}}}"#,
                "missing the required key 'instanceRequirements.vCpuCount'",
            ),
            (
                r#"{"weightedCapacity":2}"#,
                "'weightedCapacity' must be a string",
            ),
            (r#"null"#, "must be a JSON object or an array of objects"),
            (r#"[]"#, "empty array"),
            (
                r#"{"instanceType":"a","InstanceType":"b"}"#,
                "sets 'InstanceType' twice",
            ),
            (r#"[{"instanceType":"a"}, 3]"#, "'[1]' must be an object"),
            (r#"{"instanceType": "a""#, "is not valid JSON"),
        ];
        for (input, expected) in cases {
            let problems = parse(input).expect_err(input);
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{input}: {problems:?} should mention {expected:?}"
            );
        }
    }
}
