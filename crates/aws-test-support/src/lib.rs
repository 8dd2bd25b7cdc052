//! Test helpers for code that talks to AWS.
//!
//! Tests that need AWS run against `moto_server`, which `scripts/test.sh` starts on a free
//! loopback port and names in `AWS_ENDPOINT_URL`. Without it [`moto`] returns `None` and the
//! test skips (saying so), so a plain `cargo test` still passes offline.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_autoscaling::types::Tag;
use aws_support::CallBudget;

/// The SDK configuration for moto, or `None` (with a note on stderr) when no emulator runs.
pub async fn moto(test: &str) -> Option<SdkConfig> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost") => {
            Some(aws_support::sdk_config(CallBudget::TICK).await)
        }
        _ => {
            eprintln!(
                "skipping {test}: AWS_ENDPOINT_URL does not point at a local moto_server (run scripts/test.sh)"
            );
            None
        }
    }
}

/// A name no other test (or earlier run against the same moto) uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates an Auto Scaling group `name` (min, max, desired), tagged
/// `aws:cloudformation:stack-name=<stack>` when `stack` is given (moto accepts the `aws:`
/// prefix that real AWS reserves, standing in for CloudFormation's own tagging).
pub async fn create_group(
    sdk: &SdkConfig,
    name: &str,
    (min, max, desired): (i32, i32, i32),
    stack: Option<&str>,
) {
    let asg = aws_sdk_autoscaling::Client::new(sdk);
    asg.create_launch_configuration()
        .launch_configuration_name(name)
        .image_id("ami-12c6146b")
        .instance_type("t3.micro")
        .send()
        .await
        .expect("moto creates the launch configuration");
    let mut request = asg
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(name)
        .min_size(min)
        .max_size(max)
        .desired_capacity(desired)
        .availability_zones("us-east-1a");
    if let Some(stack) = stack {
        request = request.tags(
            Tag::builder()
                .key("aws:cloudformation:stack-name")
                .value(stack)
                .propagate_at_launch(false)
                .build(),
        );
    }
    request.send().await.expect("moto creates the group");
}

/// The group's desired capacity and suspended processes.
pub async fn group_state(sdk: &SdkConfig, name: &str) -> (i32, Vec<String>) {
    let asg = aws_sdk_autoscaling::Client::new(sdk);
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .expect("moto describes the group");
    let group = out
        .auto_scaling_groups()
        .first()
        .cloned()
        .expect("group exists");
    let suspended = group
        .suspended_processes()
        .iter()
        .filter_map(|p| p.process_name().map(str::to_owned))
        .collect();
    (group.desired_capacity().unwrap_or(-1), suspended)
}

/// Stores `value` in SSM parameter `name` (`SecureString` when `secure`).
pub async fn put_parameter(sdk: &SdkConfig, name: &str, value: &str, secure: bool) {
    let kind = if secure {
        aws_sdk_ssm::types::ParameterType::SecureString
    } else {
        aws_sdk_ssm::types::ParameterType::String
    };
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(true)
        .send()
        .await
        .expect("moto stores the parameter");
}

/// The parameter's value and version.
pub async fn get_parameter(sdk: &SdkConfig, name: &str) -> Option<(String, i64)> {
    let out = aws_sdk_ssm::Client::new(sdk)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .ok()?;
    let p = out.parameter()?;
    Some((p.value()?.to_owned(), p.version()))
}

/// The error body an awsQuery service (Auto Scaling) sends when it throttles.
pub const QUERY_THROTTLING: &str = r#"<ErrorResponse xmlns="https://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>11111111-2222-3333-4444-555555555555</RequestId></ErrorResponse>"#;

/// The error body an awsJson service (SSM) sends when KMS cannot decrypt a parameter.
pub const JSON_KMS_DENIED: &str = r#"{"__type":"AccessDeniedException","message":"User is not authorized to perform: kms:Decrypt on the key used by this parameter"}"#;

/// The path the SDK posts `PutMetricData` to (CloudWatch speaks Smithy RPC v2 CBOR).
pub const PUT_METRIC_DATA_PATH: &str =
    "/service/GraniteServiceVersion20100801/operation/PutMetricData";

/// A stand-in for CloudWatch's `PutMetricData`.
///
/// moto 5.2.5 only speaks CloudWatch's older protocols, while the Rust SDK speaks RPC v2
/// CBOR; so tests send metrics here, and read back what the SDK put on the wire.
pub async fn fake_cloudwatch() -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(path(PUT_METRIC_DATA_PATH))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .insert_header("smithy-protocol", "rpc-v2-cbor")
                .insert_header("content-type", "application/cbor")
                // an empty CBOR map: PutMetricData has no output fields
                .set_body_bytes(vec![0xA0]),
        )
        .mount(&server)
        .await;
    server
}

/// One datum as the SDK sent it: metric name, dimensions in order, value, unit.
#[derive(Debug, Clone, PartialEq)]
pub struct SentDatum {
    /// The namespace of the request.
    pub namespace: String,
    /// `MetricName`.
    pub metric: String,
    /// `Dimensions` as `name=value`, in order.
    pub dimensions: Vec<String>,
    /// `Value`.
    pub value: f64,
    /// `Unit`.
    pub unit: String,
}

/// Every datum received by a [`fake_cloudwatch`], decoded from CBOR.
pub async fn sent_metrics(server: &wiremock::MockServer) -> Vec<SentDatum> {
    use ciborium::Value;
    fn field<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
        map.as_map()?
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v)
    }
    fn text(v: Option<&Value>) -> String {
        v.and_then(Value::as_text).unwrap_or_default().to_owned()
    }
    let mut data = Vec::new();
    for request in server.received_requests().await.unwrap_or_default() {
        let body: Value =
            ciborium::from_reader(request.body.as_slice()).expect("the SDK sent CBOR");
        let namespace = text(field(&body, "Namespace"));
        let metric_data = field(&body, "MetricData")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for datum in &metric_data {
            let dimensions = field(datum, "Dimensions")
                .and_then(Value::as_array)
                .map(|dims| {
                    dims.iter()
                        .map(|d| format!("{}={}", text(field(d, "Name")), text(field(d, "Value"))))
                        .collect()
                })
                .unwrap_or_default();
            let value = match field(datum, "Value") {
                Some(Value::Float(f)) => *f,
                Some(Value::Integer(i)) => i128::from(*i) as f64,
                _ => f64::NAN,
            };
            data.push(SentDatum {
                namespace: namespace.clone(),
                metric: text(field(datum, "MetricName")),
                dimensions,
                value,
                unit: text(field(datum, "Unit")),
            });
        }
    }
    data
}
