//! The AZRebalance suspender: a Lambda-backed CloudFormation custom resource.
//!
//! On `Create` and `Update` it suspends the `AZRebalance` process of the group named by the
//! `AutoScalingGroupName` property (rebalancing terminates instances that may be running
//! jobs); on `Delete` it does nothing, since the group is going away. Whatever happens it
//! answers CloudFormation exactly once, `SUCCESS` or `FAILED` with a reason, before the
//! function's deadline, so a stack never waits for the custom resource timeout.
//!
//! The contract it implements (AWS custom resource request/response reference):
//! - the answer is a `PUT` of JSON to the pre-signed `ResponseURL` with an empty
//!   `Content-Type`, at most 4096 bytes, retried on failure;
//! - the physical id is the original's constant on create, and echoed on update and delete,
//!   so stacks created by the original update in place;
//! - the `ResponseURL` is a credential and is never logged.

use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceRequest as Request, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus as Status,
};
use aws_support::AwsFailure;
use serde_json::Value;
use tokio::time::Instant;

/// The physical id the original returned for every request; kept so existing stacks match.
pub const PHYSICAL_ID: &str = "CustomResourcePhysicalID";
/// The physical id the CDK provider framework gave a resource whose create failed.
pub const CDK_CREATE_FAILED: &str = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED";
/// CloudFormation rejects larger answers.
pub const MAX_RESPONSE_BYTES: usize = 4096;
/// Time kept back from the deadline for answering CloudFormation.
pub const RESPONSE_RESERVE: Duration = Duration::from_secs(5);
/// Attempts at delivering the answer.
pub const RESPONSE_ATTEMPTS: u32 = 6;

/// Suspends a group's `AZRebalance` process.
pub trait Suspender {
    /// `SuspendProcesses` with `AZRebalance` for `group`.
    fn suspend_az_rebalance(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<(), AwsFailure>> + Send;
}

/// Sends the answer to CloudFormation.
pub trait Responder {
    /// One `PUT` of `body` to `url`.
    fn put(&self, url: &str, body: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send;
}

/// The Auto Scaling client as a [`Suspender`].
impl Suspender for aws_sdk_autoscaling::Client {
    async fn suspend_az_rebalance(&self, group: &str) -> Result<(), AwsFailure> {
        self.suspend_processes()
            .auto_scaling_group_name(group)
            .scaling_processes("AZRebalance")
            .send()
            .await
            .map_err(|e| AwsFailure::new("SuspendProcesses", &e))?;
        Ok(())
    }
}

/// An HTTP client as a [`Responder`].
#[derive(Debug, Clone)]
pub struct HttpResponder(pub reqwest::Client);

impl Responder for HttpResponder {
    async fn put(&self, url: &str, body: Vec<u8>) -> Result<(), String> {
        // The URL is pre-signed for a PUT without a content type: an empty one must be sent
        // (or the signature does not match), and the URL itself must stay out of errors.
        let response = self
            .0
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "")
            .body(body)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| format!("request failed: {}", e.without_url()))?;
        let status = response.status();
        if status.is_client_error() || status.is_server_error() {
            return Err(format!("answered {status}"));
        }
        Ok(())
    }
}

/// What the handler did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Why the request failed; `None` when it succeeded.
    pub reason: Option<String>,
    /// The physical id sent.
    pub physical_id: String,
}

impl Outcome {
    /// The status sent: `SUCCESS`, or `FAILED` when there is a reason.
    pub fn status(&self) -> &'static str {
        match self.reason {
            None => "SUCCESS",
            Some(_) => "FAILED",
        }
    }
}

/// The fields every request carries, read leniently so a request that fails full parsing can
/// still be answered.
#[derive(Debug, Clone, Default)]
struct Envelope {
    request_type: String,
    response_url: String,
    stack_id: String,
    request_id: String,
    logical_id: String,
    physical_id: Option<String>,
}

impl Envelope {
    fn from_raw(event: &Value) -> Envelope {
        let field = |name: &str| event[name].as_str().unwrap_or_default().to_owned();
        Envelope {
            request_type: field("RequestType"),
            response_url: field("ResponseURL"),
            stack_id: field("StackId"),
            request_id: field("RequestId"),
            logical_id: field("LogicalResourceId"),
            physical_id: event["PhysicalResourceId"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        }
    }
}

/// Handles one request: acts, then answers CloudFormation before `deadline`.
///
/// Returns an error only when no answer could be delivered (the caller then fails the
/// invocation, and Lambda's retry delivers the same request again: the work is idempotent).
pub async fn handle(
    event: Value,
    deadline: Instant,
    suspender: &impl Suspender,
    responder: &impl Responder,
) -> Result<Outcome, String> {
    let envelope = Envelope::from_raw(&event);
    if envelope.response_url.is_empty() {
        return Err("the event has no ResponseURL: it is not a CloudFormation custom resource request, so there is nobody to answer".into());
    }
    tracing::info!(
        request_type = %envelope.request_type,
        logical_id = %envelope.logical_id,
        stack_id = %envelope.stack_id,
        request_id = %envelope.request_id,
        "custom resource request"
    );
    let work = async {
        match serde_json::from_value::<Request>(event) {
            Ok(request) => act(request, suspender).await,
            Err(e) => Err(format!("malformed custom resource request: {e}")),
        }
    };
    let work_deadline = deadline.checked_sub(RESPONSE_RESERVE).unwrap_or(deadline);
    let result = match tokio::time::timeout_at(work_deadline, work).await {
        Ok(result) => result,
        Err(_) => Err(
            "timed out before the function's deadline while suspending AZRebalance; nothing is known to have changed".to_owned(),
        ),
    };
    let outcome = outcome_for(&envelope, result);
    match &outcome.reason {
        Some(reason) => tracing::error!(%reason, "answering FAILED"),
        None => tracing::info!(physical_id = %outcome.physical_id, "answering SUCCESS"),
    }
    let body = response_body(&envelope, &outcome);
    deliver(responder, &envelope.response_url, body, deadline).await?;
    Ok(outcome)
}

/// Does the request's work; `Err` is the reason for `FAILED`.
async fn act(request: Request, suspender: &impl Suspender) -> Result<(), String> {
    let properties = match &request {
        Request::Create(r) => &r.resource_properties,
        Request::Update(r) => &r.resource_properties,
        Request::Delete(_) => {
            // Nothing to undo: the group is deleted with the stack. Resuming the process
            // here could only fail (the group may be gone already) and block the deletion.
            tracing::info!("delete: nothing to do");
            return Ok(());
        }
        _ => return Err("unknown RequestType".into()),
    };
    let group = match properties.get("AutoScalingGroupName") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim(),
        _ => {
            return Err(
                "the AutoScalingGroupName property is missing or empty; set it to the agents' Auto Scaling group name".into(),
            );
        }
    };
    tracing::info!(group, "suspending the AZRebalance process");
    suspender
        .suspend_az_rebalance(group)
        .await
        .map_err(|e| format!("cannot suspend AZRebalance on Auto Scaling group '{group}': {e}"))?;
    tracing::info!(group, "AZRebalance suspended");
    Ok(())
}

fn outcome_for(envelope: &Envelope, result: Result<(), String>) -> Outcome {
    // Create gets the original's constant; update and delete echo the id they were given, so
    // an update is never a replacement and a delete always matches.
    let physical_id = match (envelope.request_type.as_str(), &envelope.physical_id) {
        ("Create", _) | (_, None) => PHYSICAL_ID.to_owned(),
        (_, Some(id)) => id.clone(),
    };
    match result {
        Ok(()) => Outcome {
            reason: None,
            physical_id,
        },
        Err(reason) => Outcome {
            reason: Some(format!("{reason}{}", log_pointer())),
            physical_id,
        },
    }
}

/// " (logs: <group> <stream>)" when running in Lambda.
fn log_pointer() -> String {
    match (
        std::env::var("AWS_LAMBDA_LOG_GROUP_NAME"),
        std::env::var("AWS_LAMBDA_LOG_STREAM_NAME"),
    ) {
        (Ok(group), Ok(stream)) => format!(" (logs: {group} {stream})"),
        _ => String::new(),
    }
}

/// The answer's JSON, with the reason shortened until the whole fits in 4096 bytes.
fn response_body(envelope: &Envelope, outcome: &Outcome) -> Vec<u8> {
    let mut response = CloudFormationCustomResourceResponse::default();
    response.status = match outcome.reason {
        None => Status::Success,
        Some(_) => Status::Failed,
    };
    response.physical_resource_id = outcome.physical_id.clone();
    response.stack_id = envelope.stack_id.clone();
    response.request_id = envelope.request_id.clone();
    response.logical_resource_id = envelope.logical_id.clone();
    let serialize = |response: &CloudFormationCustomResourceResponse| {
        serde_json::to_vec(response).unwrap_or_default()
    };
    response.reason = outcome.reason.clone();
    let body = serialize(&response);
    let Some(reason) = outcome
        .reason
        .as_deref()
        .filter(|_| body.len() > MAX_RESPONSE_BYTES)
    else {
        return body;
    };
    // The longest prefix of the reason (on a character boundary) whose answer fits; JSON
    // escapes make the answer's size non-linear in the prefix, so search for it.
    let cuts: Vec<usize> = reason.char_indices().map(|(i, _)| i).collect();
    let with_prefix = |response: &mut CloudFormationCustomResourceResponse, end: usize| {
        response.reason = Some(format!("{} [truncated]", &reason[..end]));
        serialize(response)
    };
    let (mut fits, mut too_long) = (0, cuts.len());
    while too_long - fits > 1 {
        let mid = (fits + too_long) / 2;
        if with_prefix(&mut response, cuts[mid]).len() <= MAX_RESPONSE_BYTES {
            fits = mid;
        } else {
            too_long = mid;
        }
    }
    with_prefix(&mut response, cuts[fits])
}

/// PUTs the answer, retrying with growing, jittered pauses while time remains.
async fn deliver(
    responder: &impl Responder,
    url: &str,
    body: Vec<u8>,
    deadline: Instant,
) -> Result<(), String> {
    let mut pause = Duration::from_millis(250);
    let mut last_error = String::new();
    for attempt in 1..=RESPONSE_ATTEMPTS {
        match responder.put(url, body.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::warn!(attempt, error = %e, "answer to CloudFormation not delivered");
                last_error = e;
            }
        }
        let wait = pause.mul_f64(0.5 + jitter());
        if attempt == RESPONSE_ATTEMPTS || Instant::now() + wait >= deadline {
            break;
        }
        tokio::time::sleep(wait).await;
        pause *= 2;
    }
    Err(format!(
        "could not deliver the answer to CloudFormation: {last_error}"
    ))
}

/// A number in [0, 1) that varies between calls (enough to spread retries apart).
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    f64::from(nanos % 1000) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope() -> Envelope {
        Envelope {
            request_type: "Create".into(),
            response_url: "http://x".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/s/1".into(),
            request_id: "r-1".into(),
            logical_id: "azRebalanceSuspender".into(),
            physical_id: None,
        }
    }

    #[test]
    fn body_has_the_contract_fields() {
        let outcome = outcome_for(&envelope(), Ok(()));
        let body: Value =
            serde_json::from_slice(&response_body(&envelope(), &outcome)).expect("json");
        assert_eq!(body["Status"], "SUCCESS");
        assert_eq!(body["PhysicalResourceId"], PHYSICAL_ID);
        assert_eq!(
            body["StackId"],
            "arn:aws:cloudformation:us-east-1:1:stack/s/1"
        );
        assert_eq!(body["RequestId"], "r-1");
        assert_eq!(body["LogicalResourceId"], "azRebalanceSuspender");
    }

    #[test]
    fn long_reasons_are_cut_to_fit_4096_bytes() {
        for filler in ["x", "é", "\"", "\u{1}"] {
            let outcome = outcome_for(&envelope(), Err(filler.repeat(10_000)));
            let body = response_body(&envelope(), &outcome);
            assert!(
                body.len() <= MAX_RESPONSE_BYTES,
                "{} bytes for {filler:?}",
                body.len()
            );
            let json: Value = serde_json::from_slice(&body).expect("still JSON");
            let reason = json["Reason"].as_str().expect("reason");
            assert!(reason.ends_with("[truncated]"));
            assert!(
                body.len() > MAX_RESPONSE_BYTES - 100,
                "uses the room it has: {} bytes",
                body.len()
            );
        }
    }

    #[test]
    fn physical_ids_line_up_with_the_original() {
        let mut e = envelope();
        assert_eq!(outcome_for(&e, Ok(())).physical_id, PHYSICAL_ID);
        e.request_type = "Update".into();
        e.physical_id = Some("CustomResourcePhysicalID".into());
        assert_eq!(outcome_for(&e, Ok(())).physical_id, PHYSICAL_ID);
        e.request_type = "Delete".into();
        e.physical_id = Some(CDK_CREATE_FAILED.into());
        assert_eq!(outcome_for(&e, Ok(())).physical_id, CDK_CREATE_FAILED);
        let raw = json!({"RequestType": "Delete", "PhysicalResourceId": "abc"});
        assert_eq!(Envelope::from_raw(&raw).physical_id.as_deref(), Some("abc"));
    }
}
