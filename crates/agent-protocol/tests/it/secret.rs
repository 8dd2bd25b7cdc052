//! Tokens: plain on the wire, never in `Debug`.

use agent_protocol::{AgentConfig, RegisterResponse, Secret};

#[test]
fn debug_is_redacted_and_says_when_empty() {
    assert_eq!(format!("{:?}", Secret::new("s3cr3t")), "Secret(<redacted>)");
    assert_eq!(format!("{:?}", Secret::default()), "Secret(<empty>)");
    let response = RegisterResponse {
        name: "n".into(),
        token: Secret::new("s3cr3t"),
    };
    assert!(!format!("{response:?}").contains("s3cr3t"));
    let config = AgentConfig {
        token: Secret::new("s3cr3t"),
        ..AgentConfig::default()
    };
    assert!(!format!("{config:?}").contains("s3cr3t"));
    assert!(!format!("{config:#?}").contains("s3cr3t"));
}

#[test]
fn the_wire_form_is_the_plain_string() {
    let token = Secret::new("tok-1");
    assert_eq!(
        serde_json::to_string(&token).expect("serializes"),
        "\"tok-1\""
    );
    let back: Secret = serde_json::from_str("\"tok-1\"").expect("parses");
    assert_eq!(back.expose(), "tok-1");
    let null: Secret = serde_json::from_str("null").expect("parses");
    assert!(null.is_empty());
}

#[test]
fn equality_compares_the_whole_token() {
    for (a, b, equal) in [
        ("abc", "abc", true),
        ("abc", "abd", false),
        ("abc", "ab", false),
        ("", "", true),
        ("x", "", false),
    ] {
        assert_eq!(Secret::new(a) == Secret::new(b), equal, "{a:?} vs {b:?}");
    }
}

#[test]
fn authorization_headers() {
    let token = Secret::new("tok");
    assert_eq!(
        agent_protocol::hub_api::hub_authorization(&token),
        "Token tok"
    );
    assert_eq!(
        agent_protocol::hub_api::loghub_authorization(&token),
        "Bearer tok"
    );
    assert_eq!(
        agent_protocol::hub_api::user_agent("dev"),
        "SemaphoreAgent/dev"
    );
    assert_eq!(
        agent_protocol::hub_api::job_path("j1"),
        "/api/v1/self_hosted_agents/jobs/j1"
    );
    assert_eq!(
        agent_protocol::hub_api::log_push_url("https://h/api/v1/logs/j1", 7),
        "https://h/api/v1/logs/j1?start_from=7"
    );
}

#[test]
fn authorization_values_parse_back_only_in_their_own_scheme() {
    use agent_protocol::hub_api::{AuthScheme, parse_authorization};
    let token = Secret::new("tok");
    let hub = agent_protocol::hub_api::hub_authorization(&token);
    let loghub = agent_protocol::hub_api::loghub_authorization(&token);
    assert_eq!(
        parse_authorization(&hub, AuthScheme::Token),
        Some(token.clone())
    );
    assert_eq!(
        parse_authorization(&loghub, AuthScheme::Bearer),
        Some(token)
    );
    for (value, scheme) in [
        ("Token tok", AuthScheme::Bearer),
        ("Bearer tok", AuthScheme::Token),
        ("Token", AuthScheme::Token),
        ("Token ", AuthScheme::Token),
        ("token tok", AuthScheme::Token),
        ("Tokentok", AuthScheme::Token),
        ("", AuthScheme::Bearer),
    ] {
        assert_eq!(
            parse_authorization(value, scheme),
            None,
            "{value:?} as {scheme:?}"
        );
    }
}

#[test]
fn loghub_urls_sit_under_the_control_planes_base() {
    assert_eq!(
        agent_protocol::hub_api::loghub_url("http://127.0.0.1:9/", "j1"),
        "http://127.0.0.1:9/api/v1/logs/j1"
    );
}
