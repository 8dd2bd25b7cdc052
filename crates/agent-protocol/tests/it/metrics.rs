//! The metrics document: the same acceptance rules as the scaler's own parser.

use agent_protocol::Metrics;

use crate::fixtures::round_trip;

#[test]
fn the_spec_document_round_trips() {
    let metrics: Metrics = round_trip("spec_metrics.json");
    assert_eq!(metrics.jobs["queued"], 3);
    assert_eq!(metrics.jobs["running"], 2);
    assert_eq!(metrics.agents["idle"], 1);
    assert_eq!(metrics.agents["occupied"], 2);
    assert_eq!(metrics.total_jobs(), 5);
}

#[test]
fn extra_states_are_kept_and_counted() {
    let m = Metrics::parse(
        br#"{"jobs":{"queued":3,"running":2,"scheduled":1},"agents":{"idle":1,"occupied":2},"x":0}"#,
    )
    .expect("valid");
    assert_eq!(m.total_jobs(), 6);
    assert_eq!(m.agents["occupied"], 2);
}

#[test]
fn partial_or_malformed_documents_are_errors() {
    for (body, expected) in [
        (
            &br#"{"jobs":{"queued":3},"agents":{"idle":1,"occupied":2}}"#[..],
            "missing field `jobs.running`",
        ),
        (
            br#"{"jobs":{"queued":3,"running":1},"agents":{"idle":1}}"#,
            "missing field `agents.occupied`",
        ),
        (
            br#"{"jobs":{"queued":3,"running":1}}"#,
            "missing field `agents`",
        ),
        (
            br#"{"jobs":{"queued":-1,"running":1},"agents":{"idle":1,"occupied":2}}"#,
            "invalid value",
        ),
        (
            br#"{"jobs":{"queued":"3","running":1},"agents":{}}"#,
            "invalid type",
        ),
        (br#"{"jobs":{"queued":3,"run"#, "EOF"),
        (b"<html>Not Found</html>", "expected value"),
    ] {
        let err = Metrics::parse(body).expect_err("must fail");
        assert!(err.contains(expected), "{err} should mention {expected}");
    }
}

#[test]
fn total_jobs_saturates() {
    let m = Metrics::parse(
        format!(
            r#"{{"jobs":{{"queued":{},"running":{}}},"agents":{{"idle":0,"occupied":0}}}}"#,
            u64::MAX,
            5
        )
        .as_bytes(),
    )
    .expect("valid");
    assert_eq!(m.total_jobs(), u64::MAX);
}
