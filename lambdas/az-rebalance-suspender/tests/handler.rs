//! The custom resource handler end to end: Auto Scaling on `moto_server`, CloudFormation's
//! pre-signed response URL served by a local HTTP server that records the answer. Deadline
//! and retry paths run against in-memory fakes on tokio's paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_support::AwsFailure;
use aws_test_support::{create_group, group_state, moto, unique};
use az_rebalance_suspender::{
    HttpResponder, MAX_RESPONSE_BYTES, PHYSICAL_ID, Responder, Suspender, handle,
};
use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RESPONSE_PATH: &str = "/cloudformation-custom-resource-response";

fn event(kind: &str, response_url: &str, properties: Value) -> Value {
    let mut event = json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:stack-azRebalanceSuspender",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/stack/guid",
        "RequestId": "req-1",
        "ResourceType": "AWS::CloudFormation::CustomResource",
        "LogicalResourceId": "azRebalanceSuspender",
        "ResourceProperties": properties,
    });
    if kind != "Create" {
        event["PhysicalResourceId"] = json!(PHYSICAL_ID);
    }
    if kind == "Update" {
        event["OldResourceProperties"] = json!({});
    }
    event
}

/// CloudFormation's side: accepts PUTs on the pre-signed path.
async fn cloudformation() -> (MockServer, String) {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(RESPONSE_PATH))
        .and(query_param("X-Amz-Signature", "s3cr3t"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let url = format!("{}{RESPONSE_PATH}?X-Amz-Signature=s3cr3t", server.uri());
    (server, url)
}

/// The answers CloudFormation received, checking each was sent as the URL requires.
async fn answers(server: &MockServer) -> Vec<Value> {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .map(|r| {
            assert_eq!(
                r.headers.get("content-type").map(|v| v.as_bytes()),
                Some(&b""[..]),
                "pre-signed PUTs need an empty Content-Type"
            );
            assert!(r.body.len() <= MAX_RESPONSE_BYTES);
            serde_json::from_slice(&r.body).expect("JSON answer")
        })
        .collect()
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn create_and_update_suspend_az_rebalance_and_answer_success() {
    let Some(sdk) = moto("suspender_create").await else {
        return;
    };
    let group = unique("asg");
    create_group(&sdk, &group, (0, 2, 0), None).await;
    let asg = aws_sdk_autoscaling::Client::new(&sdk);
    let (server, url) = cloudformation().await;
    let responder = HttpResponder(reqwest::Client::new());

    let props = json!({"ServiceToken": "x", "AutoScalingGroupName": group});
    let outcome = handle(
        event("Create", &url, props.clone()),
        soon(),
        &asg,
        &responder,
    )
    .await
    .expect("answered");
    assert_eq!(outcome.status(), "SUCCESS");
    assert_eq!(group_state(&sdk, &group).await.1, vec!["AZRebalance"]);

    // idempotent: an update (or Lambda's retry of the same request) succeeds again
    handle(event("Update", &url, props), soon(), &asg, &responder)
        .await
        .expect("answered");
    let answers = answers(&server).await;
    assert_eq!(answers.len(), 2);
    for answer in &answers {
        assert_eq!(answer["Status"], "SUCCESS");
        assert_eq!(answer["PhysicalResourceId"], PHYSICAL_ID);
        assert_eq!(answer["RequestId"], "req-1");
        assert_eq!(answer["LogicalResourceId"], "azRebalanceSuspender");
        assert_eq!(
            answer["StackId"],
            "arn:aws:cloudformation:us-east-1:123456789012:stack/stack/guid"
        );
    }
}

#[tokio::test]
async fn failures_are_answered_with_a_reason() {
    let Some(sdk) = moto("suspender_failures").await else {
        return;
    };
    let asg = aws_sdk_autoscaling::Client::new(&sdk);
    let (server, url) = cloudformation().await;
    let responder = HttpResponder(reqwest::Client::new());

    let missing = unique("missing-asg");
    let outcome = handle(
        event("Create", &url, json!({"AutoScalingGroupName": missing})),
        soon(),
        &asg,
        &responder,
    )
    .await
    .expect("answered");
    assert_eq!(outcome.status(), "FAILED");

    handle(event("Create", &url, json!({})), soon(), &asg, &responder)
        .await
        .expect("answered");
    handle(event("Explode", &url, json!({})), soon(), &asg, &responder)
        .await
        .expect("answered");

    let answers = answers(&server).await;
    let reasons: Vec<&str> = answers
        .iter()
        .map(|a| {
            assert_eq!(a["Status"], "FAILED");
            assert_eq!(a["PhysicalResourceId"], PHYSICAL_ID, "never empty");
            a["Reason"].as_str().expect("reason")
        })
        .collect();
    assert!(
        reasons[0].contains(&format!(
            "cannot suspend AZRebalance on Auto Scaling group '{missing}'"
        )),
        "{}",
        reasons[0]
    );
    assert!(reasons[1].contains("AutoScalingGroupName property is missing"));
    assert!(reasons[2].contains("malformed custom resource request"));
}

#[tokio::test]
async fn delete_succeeds_even_when_the_group_is_gone() {
    let Some(sdk) = moto("suspender_delete").await else {
        return;
    };
    let asg = aws_sdk_autoscaling::Client::new(&sdk);
    let (server, url) = cloudformation().await;
    let responder = HttpResponder(reqwest::Client::new());
    let mut delete = event(
        "Delete",
        &url,
        json!({"AutoScalingGroupName": "gone-long-ago"}),
    );
    delete["PhysicalResourceId"] = json!("AWSCDK::CustomResourceProviderFramework::CREATE_FAILED");
    let outcome = handle(delete, soon(), &asg, &responder)
        .await
        .expect("answered");
    assert_eq!(outcome.status(), "SUCCESS");
    let answers = answers(&server).await;
    assert_eq!(
        answers[0]["PhysicalResourceId"], "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED",
        "a delete echoes the id it was given"
    );
}

#[tokio::test]
async fn no_response_url_means_nobody_to_answer() {
    let (server, _) = cloudformation().await;
    let responder = HttpResponder(reqwest::Client::new());
    let asg = Hanging;
    let err = handle(json!({"RequestType": "Create"}), soon(), &asg, &responder)
        .await
        .expect_err("not a custom resource request");
    assert!(err.contains("no ResponseURL"));
    assert!(answers(&server).await.is_empty());
}

/// A suspender that never returns (a hung API call).
struct Hanging;

impl Suspender for Hanging {
    async fn suspend_az_rebalance(&self, _group: &str) -> Result<(), AwsFailure> {
        std::future::pending().await
    }
}

/// Records answers; fails the first `failures` PUTs.
#[derive(Clone, Default)]
struct Recorder {
    failures: Arc<Mutex<u32>>,
    bodies: Arc<Mutex<Vec<(Instant, Value)>>>,
    attempts: Arc<Mutex<u32>>,
}

impl Responder for Recorder {
    async fn put(&self, url: &str, body: Vec<u8>) -> Result<(), String> {
        assert_eq!(url, "https://cfn.example/response");
        *self.attempts.lock().expect("lock") += 1;
        let mut failures = self.failures.lock().expect("lock");
        if *failures > 0 {
            *failures -= 1;
            return Err("answered 503 Service Unavailable".into());
        }
        let value = serde_json::from_slice(&body).expect("JSON");
        self.bodies
            .lock()
            .expect("lock")
            .push((Instant::now(), value));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_call_is_answered_failed_before_the_deadline() {
    let recorder = Recorder::default();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    let props = json!({"AutoScalingGroupName": "g"});
    let outcome = handle(
        event("Create", "https://cfn.example/response", props),
        deadline,
        &Hanging,
        &recorder,
    )
    .await
    .expect("answered");
    assert_eq!(outcome.status(), "FAILED");
    let bodies = recorder.bodies.lock().expect("lock");
    let (at, answer) = &bodies[0];
    assert_eq!(
        *at - started,
        Duration::from_secs(55),
        "5 s kept for answering"
    );
    assert!(
        answer["Reason"]
            .as_str()
            .expect("reason")
            .contains("timed out")
    );
}

/// A delete answered through a responder that fails its first `failures` PUTs; returns the
/// handler's result and the number of attempts.
async fn delete_with_failing_answers(
    failures: u32,
) -> (Result<az_rebalance_suspender::Outcome, String>, u32) {
    let recorder = Recorder::default();
    *recorder.failures.lock().expect("lock") = failures;
    let delete = event(
        "Delete",
        "https://cfn.example/response",
        json!({"AutoScalingGroupName": "g"}),
    );
    let result = handle(delete, soon(), &Hanging, &recorder).await;
    let attempts = *recorder.attempts.lock().expect("lock");
    (result, attempts)
}

#[tokio::test(start_paused = true)]
async fn the_answer_is_retried_until_delivered() {
    let (result, attempts) = delete_with_failing_answers(3).await;
    assert_eq!(
        result.expect("delivered on the fourth attempt").status(),
        "SUCCESS"
    );
    assert_eq!(attempts, 4);

    // never delivered: the handler fails so Lambda retries the (idempotent) request
    let (result, attempts) = delete_with_failing_answers(100).await;
    let err = result.expect_err("undeliverable");
    assert!(err.contains("503"), "{err}");
    assert_eq!(attempts, 6);
}
