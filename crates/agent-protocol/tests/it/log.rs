//! Job log events and the token refresh answer.

use agent_protocol::{JobResult, LogEvent, RefreshResponse, Secret};
use serde_json::Value;

use crate::fixtures::{round_trip, text};

#[test]
fn the_five_events_round_trip_and_write_go_lines() {
    let events: Vec<LogEvent> = round_trip("spec_job_events.json");
    assert_eq!(
        events,
        vec![
            LogEvent::JobStarted {
                timestamp: 1_795_396_373
            },
            LogEvent::CmdStarted {
                timestamp: 1_795_396_373,
                directive: "echo Hello World".into()
            },
            LogEvent::CmdOutput {
                timestamp: 1_795_396_373,
                output: "Hello World\n".into()
            },
            LogEvent::CmdFinished {
                timestamp: 1_795_396_373,
                directive: "echo Hello World".into(),
                exit_code: 0,
                started_at: 1_795_396_373,
                finished_at: 1_795_396_373,
            },
            LogEvent::JobFinished {
                timestamp: 1_795_396_381,
                result: JobResult::Passed
            },
        ]
    );
    // Byte for byte, in the spec's key order (the fixture keeps its order when parsed).
    let spec: Vec<Value> = serde_json::from_str(&text("spec_job_events.json")).expect("json");
    for (event, spec) in events.iter().zip(&spec) {
        let expected = format!("{}\n", serde_json::to_string(spec).expect("serializes"));
        assert_eq!(event.to_line(), expected);
    }
    assert_eq!(events[4].timestamp(), 1_795_396_381);
}

#[test]
fn lines_escape_html_and_line_separators_like_go() {
    let event = LogEvent::CmdOutput {
        timestamp: 1,
        output: "<a href=\"x\">&</a>\u{2028}\u{2029}é\t\u{1b}\n".into(),
    };
    assert_eq!(
        event.to_line(),
        "{\"event\":\"cmd_output\",\"timestamp\":1,\"output\":\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\\u2028\\u2029é\\t\\u001b\\n\"}\n"
    );
    // And it still reads back as the same event.
    let back: LogEvent = serde_json::from_str(event.to_line().trim_end()).expect("parses");
    assert_eq!(back, event);
}

#[test]
fn unknown_event_kinds_are_refused_and_extra_fields_ignored() {
    let err = serde_json::from_str::<LogEvent>(r#"{"event":"cmd_paused","timestamp":1}"#)
        .expect_err("refused");
    assert!(err.to_string().contains("cmd_paused"), "{err}");
    let event: LogEvent =
        serde_json::from_str(r#"{"event":"job_started","timestamp":5,"agent":"x"}"#)
            .expect("tolerated");
    assert_eq!(event, LogEvent::JobStarted { timestamp: 5 });
}

#[test]
fn captured_refresh_response_gives_the_new_log_token() {
    let response: RefreshResponse = round_trip("captured_refresh_response.json");
    assert_eq!(response.token, Secret::new("fresh-log-token"));
    let empty: RefreshResponse = serde_json::from_str("{}").expect("tolerated");
    assert!(empty.token.is_empty());
}
