//! The updater end to end: GitHub's meta API served over HTTP on 127.0.0.1, the parameter on
//! `moto_server`. Skips without moto.

use aws_config::SdkConfig;
use aws_test_support::{get_parameter, moto, put_parameter, unique};
use ssh_keys_updater::{Outcome, UpdateError, update};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const KEY_B: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=";
const KEY_C: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCj7ndNxQowgcQnjshcLrqPEiiphnt+VTTvDP6mHBL9j1aNUkY4Ue1gvwnGLVlOhGeYrnZaMgRK6+PKCUXaDbC7qtbW8gIkhL7aGCsOr/C56SJMy/BCZfxd1nWzAOxSDPgVsmerOBYfNqltV9/hWCqBywINIR+5dIg6JTJ72pcEpEjcYgXkE2YEFXV1JHnsKgbLWNlhScqb2UmyRkQyytRLtL+38TGxkxCflmO+5Z8CSSNY7GidjMIZ7Q4zMjA2n1nGrlTDkzwDCsw+wqFPGQA179cnfGWOWRVruj16z6XyvxvjJwbz0wQZ75XK5tKSb7FNyeIEs4TT4jk+S4dhPeAUC5y+bDYirYgM4GC7uEnztnZyaVWQ7B381AK4Qdrwt51ZqExKbQpTUNn+EjqoTwvqNj4kqx5QUCI0ThS/YkOxJCXmPUWZbhjpCg56i+2aB6CmK2JGhn57K5mj0MNdBXA4/WnwH6XoPWJzK5Nyu2zB3nAZp+S5hpQs+p1vN1/wsjk=";

async fn github(keys: &[&str]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/meta"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"ssh_keys": keys, "hooks": ["192.30.252.0/22"]})),
        )
        .mount(&server)
        .await;
    server
}

async fn run(sdk: &SdkConfig, meta: &MockServer, name: &str) -> Result<Outcome, UpdateError> {
    let ssm = aws_sdk_ssm::Client::new(sdk);
    update(
        &reqwest::Client::new(),
        &format!("{}/meta", meta.uri()),
        &ssm,
        name,
    )
    .await
}

#[tokio::test]
async fn writes_only_when_the_keys_changed() {
    let Some(sdk) = moto("updater_changes").await else {
        return;
    };
    let name = unique("stack-ssh-public-keys");

    // no parameter yet: created, in GitHub's order, as synth writes it
    let meta = github(&[KEY_A, KEY_B]).await;
    let outcome = run(&sdk, &meta, &name).await.expect("runs");
    assert_eq!(outcome, Outcome::Updated { keys: 2 });
    let (value, version) = get_parameter(&sdk, &name).await.expect("created");
    assert_eq!(value, serde_json::to_string(&[KEY_A, KEY_B]).expect("json"));

    // same keys in another order: not a change, nothing written
    let meta = github(&[KEY_B, KEY_A]).await;
    let outcome = run(&sdk, &meta, &name).await.expect("runs");
    assert_eq!(outcome, Outcome::Unchanged);
    assert_eq!(get_parameter(&sdk, &name).await.expect("kept").1, version);

    // a key rotated: written
    let meta = github(&[KEY_A, KEY_C]).await;
    let outcome = run(&sdk, &meta, &name).await.expect("runs");
    assert_eq!(outcome, Outcome::Updated { keys: 2 });
    let (value, new_version) = get_parameter(&sdk, &name).await.expect("updated");
    assert!(value.contains("ssh-rsa") && !value.contains("ecdsa"));
    assert_eq!(new_version, version + 1);
}

#[tokio::test]
async fn a_parameter_with_garbage_is_replaced() {
    let Some(sdk) = moto("updater_garbage").await else {
        return;
    };
    let name = unique("stack-ssh-public-keys");
    put_parameter(&sdk, &name, "not json", false).await;
    let meta = github(&[KEY_A]).await;
    let outcome = run(&sdk, &meta, &name).await.expect("runs");
    assert_eq!(outcome, Outcome::Updated { keys: 1 });
    let stored = get_parameter(&sdk, &name).await.expect("kept").0;
    assert_eq!(stored, format!("[\"{KEY_A}\"]"));
}

/// GitHub failing in any way leaves the parameter exactly as it was.
#[tokio::test]
async fn a_failed_fetch_changes_nothing() {
    let Some(sdk) = moto("updater_fetch_fails").await else {
        return;
    };
    let name = unique("stack-ssh-public-keys");
    let before = serde_json::to_string(&[KEY_A]).expect("json");
    put_parameter(&sdk, &name, &before, false).await;
    let failures = [
        ResponseTemplate::new(503),
        ResponseTemplate::new(403).set_body_string("API rate limit exceeded"),
        ResponseTemplate::new(200).set_body_string("{\"ssh_keys\": [\"ssh-ed25519"),
        ResponseTemplate::new(200).set_body_json(serde_json::json!({"ssh_keys": []})),
        ResponseTemplate::new(200).set_body_json(serde_json::json!({"hooks": []})),
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"ssh_keys": [KEY_B]}))
            .set_delay(std::time::Duration::from_secs(8)),
    ];
    for failure in failures {
        let meta = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(failure)
            .mount(&meta)
            .await;
        let err = run(&sdk, &meta, &name).await.expect_err("fetch fails");
        assert!(matches!(err, UpdateError::Fetch(_)), "{err}");
        assert!(err.to_string().contains("left as it was"));
        let (value, version) = get_parameter(&sdk, &name).await.expect("kept");
        assert_eq!((value.as_str(), version), (before.as_str(), 1));
    }
}
