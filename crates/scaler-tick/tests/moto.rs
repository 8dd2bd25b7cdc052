//! The scaler's tick end to end on real clients: SSM and Auto Scaling on `moto_server`,
//! Semaphore served over HTTP on 127.0.0.1 by wiremock, and CloudWatch's `PutMetricData` on a
//! local stand-in that decodes what the SDK sent (moto does not speak the CBOR protocol the
//! Rust SDK uses for CloudWatch). Covers the faults of the issue's list. Skips without moto
//! (see `aws-test-support`).

use std::time::Duration;

use aws_config::SdkConfig;
use aws_test_support::{
    JSON_KMS_DENIED, QUERY_THROTTLING, create_group, fake_cloudwatch, group_state, moto,
    put_parameter, sent_metrics, unique,
};
use scaler_tick::Overprovision;
use scaler_tick::ports::TickError;
use scaler_tick::semaphore::SemaphoreError;
use scaler_tick::settings::{GroupSelector, Settings, metrics_url};
use scaler_tick::tick::Mode;
use scaler_tick::{AwsIo, AwsScaler, aws_scaler_on};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const METRICS_PATH: &str = "/api/v1/self_hosted_agents/metrics";
const TOKEN: &str = "registration-token-s3cr3t";

/// A stack with its token and group on moto, and a Semaphore answering `body`.
struct Setup {
    sdk: SdkConfig,
    stack: String,
    group: String,
    token_parameter: String,
    semaphore: MockServer,
    cloudwatch: MockServer,
}

async fn setup(test: &str, desired: i32, tagged: bool) -> Option<Setup> {
    let sdk = moto(test).await?;
    let stack = unique("stack");
    let group = format!("{stack}-autoScalingGroup-X1");
    let token_parameter = unique("token");
    put_parameter(&sdk, &token_parameter, TOKEN, true).await;
    create_group(
        &sdk,
        &group,
        (0, 5, desired),
        tagged.then_some(stack.as_str()),
    )
    .await;
    let semaphore = MockServer::start().await;
    let cloudwatch = fake_cloudwatch().await;
    Some(Setup {
        sdk,
        stack,
        group,
        token_parameter,
        semaphore,
        cloudwatch,
    })
}

impl Setup {
    fn settings(&self, overprovision: Overprovision, by_name: bool) -> Settings {
        Settings {
            token_parameter: self.token_parameter.clone(),
            stack_name: self.stack.clone(),
            metrics_url: metrics_url(&self.semaphore.uri()),
            overprovision,
            group: if by_name {
                GroupSelector::Name(self.group.clone())
            } else {
                GroupSelector::StackTag(self.stack.clone())
            },
        }
    }

    fn scaler(&self, overprovision: Overprovision, by_name: bool) -> AwsScaler {
        self.scaler_with(self.settings(overprovision, by_name))
    }

    /// The deployed scaler's parts, with CloudWatch on the local stand-in.
    fn scaler_with(&self, settings: Settings) -> AwsScaler {
        aws_scaler_on(settings, self.io(None, None))
    }

    /// Clients on moto, except CloudWatch (the stand-in) and the services given an endpoint.
    fn io(&self, ssm_at: Option<String>, autoscaling_at: Option<String>) -> AwsIo {
        let moto = || self.sdk.endpoint_url().map(str::to_owned);
        let mut ssm = aws_sdk_ssm::config::Builder::from(&self.sdk);
        ssm.set_endpoint_url(ssm_at.or_else(moto));
        let mut asg = aws_sdk_autoscaling::config::Builder::from(&self.sdk);
        asg.set_endpoint_url(autoscaling_at.or_else(moto));
        let cloudwatch = aws_sdk_cloudwatch::config::Builder::from(&self.sdk)
            .endpoint_url(self.cloudwatch.uri());
        AwsIo::from_clients(
            aws_sdk_ssm::Client::from_conf(ssm.build()),
            aws_sdk_autoscaling::Client::from_conf(asg.build()),
            aws_sdk_cloudwatch::Client::from_conf(cloudwatch.build()),
        )
    }

    async fn answer(&self, response: ResponseTemplate) {
        self.semaphore.reset().await;
        Mock::given(method("GET"))
            .and(path(METRICS_PATH))
            .respond_with(response)
            .mount(&self.semaphore)
            .await;
    }

    async fn desired(&self) -> i32 {
        group_state(&self.sdk, &self.group).await.0
    }
}

fn metrics_body(queued: u64, running: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_string(format!(
        r#"{{"jobs":{{"queued":{queued},"running":{running}}},"agents":{{"idle":0,"occupied":{running}}}}}"#
    ))
}

#[tokio::test]
async fn finds_the_group_by_stack_tag_scales_up_and_publishes_metrics() {
    let Some(s) = setup("tick_by_tag", 0, true).await else {
        return;
    };
    Mock::given(method("GET"))
        .and(path(METRICS_PATH))
        .and(header("authorization", format!("Token {TOKEN}").as_str()))
        .and(header("agent", "aws-dynamic-scaler"))
        .respond_with(metrics_body(3, 1))
        .expect(1)
        .mount(&s.semaphore)
        .await;
    let report = s.scaler(Overprovision::None, false).tick(Mode::Apply).await;
    assert!(report.ok(), "{:?}", report.error);
    assert!(report.scaled, "not scaled");
    assert!(
        report.published,
        "not published: {:?}",
        report.publish_error
    );
    assert_eq!(s.desired().await, 4);

    let sent = sent_metrics(&s.cloudwatch).await;
    let st = &s.stack;
    let seen: Vec<String> = sent
        .iter()
        .map(|d| {
            assert_eq!(
                (d.namespace.as_str(), d.unit.as_str()),
                ("Semaphore", "Count")
            );
            format!("{} {} {}", d.metric, d.dimensions.join(","), d.value)
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            format!("JobCount StackName={st},JobState=queued 3"),
            format!("JobCount StackName={st},JobState=running 1"),
            format!("AgentCount StackName={st},AgentState=idle 0"),
            format!("AgentCount StackName={st},AgentState=occupied 1"),
        ]
    );
}

#[tokio::test]
async fn by_name_with_overprovision_and_never_scales_down() {
    let Some(s) = setup("tick_by_name", 2, false).await else {
        return;
    };
    s.answer(metrics_body(1, 1)).await;
    let scaler = s.scaler(Overprovision::Percentage(50), true);
    let report = scaler.tick(Mode::Apply).await;
    assert!(report.ok(), "{:?}", report.error);
    assert_eq!(s.desired().await, 3, "2 jobs + ceil(50%) = 3");

    // demand falls: the scaler leaves scale-in to the agents
    s.answer(metrics_body(0, 0)).await;
    let report = scaler.tick(Mode::Apply).await;
    assert!(report.ok() && !report.scaled);
    assert_eq!(s.desired().await, 3);
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let Some(s) = setup("tick_dry_run", 0, false).await else {
        return;
    };
    s.answer(metrics_body(2, 0)).await;
    let report = s.scaler(Overprovision::None, true).tick(Mode::DryRun).await;
    assert!(report.ok() && !report.scaled && !report.published);
    assert_eq!(report.decision.map(|d| d.target), Some(2));
    assert_eq!(s.desired().await, 0);
}

/// Non-200, rejection, timeout, malformed and partial answers: the group is not touched,
/// each gives its own message, and the next tick (Semaphore healthy again) scales.
#[tokio::test]
async fn semaphore_faults_leave_the_group_alone() {
    let Some(s) = setup("tick_semaphore_faults", 1, false).await else {
        return;
    };
    let scaler = s.scaler(Overprovision::None, true);
    let faults: Vec<(ResponseTemplate, &str)> = vec![
        (
            ResponseTemplate::new(500).set_body_string("Internal Server Error"),
            "answered 500",
        ),
        (ResponseTemplate::new(429), "answered 429"),
        (
            ResponseTemplate::new(404).set_body_string("Not Found"),
            "rejected the agent type registration token with 404",
        ),
        (
            ResponseTemplate::new(401),
            "rejected the agent type registration token with 401",
        ),
        (
            metrics_body(9, 9).set_delay(Duration::from_secs(5)),
            "did not answer within 2000 ms",
        ),
        (
            ResponseTemplate::new(200).set_body_string("{\"jobs\":{\"queued\":3,\"runn"),
            "malformed metrics",
        ),
        (
            ResponseTemplate::new(200)
                .set_body_string(r#"{"jobs":{"queued":3},"agents":{"idle":0,"occupied":0}}"#),
            "missing field `jobs.running`",
        ),
        (
            ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"),
            "malformed metrics",
        ),
    ];
    for (response, expected) in faults {
        s.answer(response).await;
        let report = scaler.tick(Mode::Apply).await;
        let error = report.error.expect("tick fails").to_string();
        assert!(
            error.contains(expected),
            "expected {expected:?} in {error:?}"
        );
        assert!(!error.contains(TOKEN), "the token leaked into {error:?}");
        assert!(!report.published && !report.scaled);
        assert_eq!(s.desired().await, 1, "after {expected}");
    }
    s.answer(metrics_body(3, 0)).await;
    assert!(scaler.tick(Mode::Apply).await.ok());
    assert_eq!(s.desired().await, 3);
}

#[tokio::test]
async fn missing_token_parameter_and_missing_group_are_named() {
    let Some(s) = setup("tick_missing", 0, true).await else {
        return;
    };
    s.answer(metrics_body(3, 0)).await;
    let mut settings = s.settings(Overprovision::None, false);
    settings.token_parameter = unique("no-such-token");
    let report = s.scaler_with(settings.clone()).tick(Mode::Apply).await;
    assert!(
        matches!(&report.error, Some(TickError::TokenMissing { name }) if *name == settings.token_parameter)
    );
    assert!(
        s.semaphore
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );

    let mut settings = s.settings(Overprovision::None, false);
    settings.group = GroupSelector::StackTag(unique("other-stack"));
    let report = s.scaler_with(settings).tick(Mode::Apply).await;
    let error = report.error.expect("fails").to_string();
    assert!(
        error.starts_with("no Auto Scaling group tagged aws:cloudformation:stack-name=other-stack"),
        "{error}"
    );

    let mut settings = s.settings(Overprovision::None, true);
    settings.group = GroupSelector::Name("no-such-group".into());
    let report = s.scaler_with(settings).tick(Mode::Apply).await;
    assert!(matches!(report.error, Some(TickError::GroupNotFound(_))));
    assert_eq!(s.desired().await, 0);
}

/// AWS faults the emulator cannot produce, on the real SDK: Auto Scaling throttling (retried,
/// then reported) and a token KMS cannot decrypt. The fault injector is a local HTTP server
/// answering as the service would.
#[tokio::test]
async fn throttling_and_undecryptable_token_on_the_real_sdk() {
    let Some(s) = setup("tick_aws_faults", 0, false).await else {
        return;
    };
    s.answer(metrics_body(3, 0)).await;
    let injector = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_string(QUERY_THROTTLING)
                .insert_header("content-type", "text/xml"),
        )
        .mount(&injector)
        .await;
    let settings = s.settings(Overprovision::None, true);
    let scaler = aws_scaler_on(settings.clone(), s.io(None, Some(injector.uri())));
    let report = scaler.tick(Mode::Apply).await;
    let error = report.error.expect("fails").to_string();
    assert!(
        error.contains("DescribeAutoScalingGroups was throttled by AWS"),
        "{error}"
    );
    assert!(error.contains("Rate exceeded"), "{error}");
    let attempts = injector.received_requests().await.unwrap_or_default().len();
    assert_eq!(
        attempts, 3,
        "the SDK retried throttling up to its 3 attempts"
    );
    assert!(report.published, "metrics still published");

    let injector = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_string(JSON_KMS_DENIED)
                .insert_header("content-type", "application/x-amz-json-1.1"),
        )
        .mount(&injector)
        .await;
    let scaler = aws_scaler_on(settings, s.io(Some(injector.uri()), None));
    let report = scaler.tick(Mode::Apply).await;
    assert!(matches!(
        report.error,
        Some(TickError::TokenUnreadable { .. })
    ));
    let error = report.error.expect("fails").to_string();
    assert!(error.contains("kms:Decrypt"), "{error}");
    assert_eq!(s.desired().await, 0);
}

/// The fault list holds for whole invocations too: a Semaphore that never answers costs each
/// tick its budget, and the invocation still returns before its deadline.
#[tokio::test]
async fn an_unreachable_semaphore_does_not_overrun_the_invocation() {
    let Some(s) = setup("tick_unreachable", 0, false).await else {
        return;
    };
    let mut settings = s.settings(Overprovision::None, true);
    // nothing listens on port 9 of loopback
    settings.metrics_url = metrics_url("http://127.0.0.1:9");
    let scaler = s.scaler_with(settings);
    let report = scaler.tick(Mode::Apply).await;
    assert!(
        matches!(
            report.error,
            Some(TickError::Semaphore(SemaphoreError::Transport { .. }))
        ),
        "{:?}",
        report.error
    );
    assert!(report.elapsed_ms < 6000);
}
