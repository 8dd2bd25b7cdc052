//! `/register`: the captured request, the response, and the Go agent's leniency.

use agent_protocol::{RegisterRequest, RegisterResponse, Secret};

use crate::fixtures::{first_line, round_trip, round_trip_text};

#[test]
fn captured_register_request_round_trips_byte_for_byte() {
    let request: RegisterRequest = round_trip("captured_register_request.json");
    assert_eq!(
        request,
        RegisterRequest {
            name: "capture-agent-01".into(),
            version: "v2.3-local".into(),
            pid: 23812,
            os: String::new(),
            arch: "x86_64".into(),
            hostname: "vm".into(),
            single_job: true,
            idle_timeout_secs: 300,
            interruption_grace_period_secs: 15,
            job_id: None,
        }
    );
    // Same key order as the Go agent.
    assert_eq!(
        serde_json::to_string(&request).expect("serializes"),
        first_line("captured_register_request.json")
    );
}

#[test]
fn a_job_id_is_written_as_is_and_none_as_empty_string() {
    let mut request = RegisterRequest {
        job_id: Some("j1".into()),
        ..RegisterRequest::default()
    };
    let json = serde_json::to_value(&request).expect("serializes");
    assert_eq!(json["job_id"], "j1");
    request.job_id = None;
    let json = serde_json::to_value(&request).expect("serializes");
    assert_eq!(json["job_id"], "");
}

#[test]
fn register_response_gives_the_name_and_access_token() {
    let response: RegisterResponse = round_trip("spec_register_response.json");
    assert_eq!(response.name, "assigned-by-hub");
    assert_eq!(response.token, Secret::new("access-tok-1"));
}

#[test]
fn register_response_tolerates_missing_null_and_unknown_fields() {
    // The Ruby e2e hub's answer: both fields end up empty, as in the Go agent.
    let ruby: RegisterResponse =
        serde_json::from_str(r#"{"access_token":"abc"}"#).expect("tolerated");
    assert_eq!(ruby, RegisterResponse::default());
    assert!(ruby.token.is_empty());
    let nulls: RegisterResponse =
        serde_json::from_str(r#"{"name":null,"token":null}"#).expect("tolerated");
    assert_eq!(nulls, RegisterResponse::default());
}

#[test]
fn a_hub_reads_a_register_request_with_fields_missing() {
    let request: RegisterRequest =
        serde_json::from_str(r#"{"name":"abcdefgh","single_job":true,"future":1}"#)
            .expect("tolerated");
    assert_eq!(request.name, "abcdefgh");
    assert!(request.single_job);
    assert_eq!(request.idle_timeout_secs, 0);
    assert_eq!(request.job_id, None);
    let _: RegisterRequest = round_trip_text(
        r#"{"name":"n","version":"v","pid":1,"os":"Ubuntu 24.04 LTS","arch":"arm64","hostname":"h","single_job":false,"idle_timeout":0,"interruption_grace_period":0,"job_id":"j9"}"#,
        "register request with a job id",
    );
}
