//! Every endpoint over HTTP on 127.0.0.1: the agent API, the loghub, the metrics call and the
//! job API, with their auth failures, de-duplicated log batches, the size limit, expired log
//! tokens, lost agents, time limits and concurrent syncs racing for jobs.

use std::collections::BTreeSet;
use std::time::Duration;

use agent_protocol::hub_api::{self, BASE_PATH};
use agent_protocol::{
    HubAction, JobRequest, JobResult, Metrics, Secret, ShutdownReason, SyncRequest,
};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestHub, events, finished, running, settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_goes_from_queued_to_passed_with_its_log_de_duplicated() {
    let hub = TestHub::start(settings()).await;
    let registration = hub.create_agent_type("linux").await;
    let access = hub.register(&registration, "agent-1", false).await;

    let idle = hub.sync(&access, &SyncRequest::waiting()).await;
    assert_eq!(idle.action, HubAction::Continue);
    assert_eq!(idle.next_sync_after_ms, Some(100));

    let id = hub.submit("linux", &["echo hello"], None).await;
    assert_eq!(hub.job(&id).await["state"], "queued");
    let run = hub.sync(&access, &SyncRequest::waiting()).await;
    assert_eq!(run.action, HubAction::RunJob);
    assert_eq!(run.job_id.as_deref(), Some(id.as_str()));
    let assigned = hub.job(&id).await;
    assert_eq!(assigned["state"], "assigned");
    assert_eq!(assigned["agent"], "agent-1");

    let (status, body) = hub.agent_call(&hub_api::job_path(&id), &access, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let request: JobRequest = serde_json::from_str(&body).expect("job request");
    assert_eq!(request.job_id, id);
    assert_eq!(request.commands[0].directive, "echo hello");
    assert_eq!(request.logger.url, hub.url(&format!("/api/v1/logs/{id}")));
    assert!(!request.logger.token.is_empty());
    let job_id_var = request
        .env_vars
        .iter()
        .find(|v| v.name == "SEMAPHORE_JOB_ID")
        .expect("SEMAPHORE_JOB_ID");
    assert_eq!(job_id_var.value.decode().expect("b64"), id.as_bytes());

    assert_eq!(
        hub.sync(&access, &running(&id)).await.action,
        HubAction::Continue
    );
    assert_eq!(hub.job(&id).await["state"], "started");

    let token = &request.logger.token;
    let url = &request.logger.url;
    assert_eq!(hub.push(url, token, 0, &events(0, 3)).await, StatusCode::OK);
    // The same batch again with two more (a retried push): only the two are new.
    assert_eq!(hub.push(url, token, 0, &events(0, 5)).await, StatusCode::OK);
    assert_eq!(hub.push(url, token, 5, &events(5, 1)).await, StatusCode::OK);
    // A gap cannot be filled: refused, nothing stored.
    assert_eq!(
        hub.push(url, token, 9, &events(9, 1)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        hub.push(url, &Secret::new("not-the-token"), 6, &events(6, 1))
            .await,
        StatusCode::UNAUTHORIZED
    );

    let finished_answer = hub.sync(&access, &finished(&id, JobResult::Passed)).await;
    assert_eq!(finished_answer.action, HubAction::WaitForJobs);
    let job = hub.job(&id).await;
    assert_eq!(job["state"], "finished");
    assert_eq!(job["result"], "passed");
    assert_eq!(job["log_events"], 6);
    for stamp in ["submitted_at", "assigned_at", "started_at", "finished_at"] {
        assert!(job[stamp].as_i64().is_some(), "{stamp}: {job}");
    }
    let (status, log) = hub.api("GET", &format!("/jobs/{id}/log"), None).await;
    assert_eq!(status, StatusCode::OK);
    let stored: Vec<String> = log
        .as_str()
        .expect("ndjson")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(stored, events(0, 6));

    // The finished job can no longer be fetched, and after /disconnect the token is dead.
    let (status, _) = hub.agent_call(&hub_api::job_path(&id), &access, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = hub
        .agent_call(hub_api::DISCONNECT_PATH, &access, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = hub
        .agent_call(
            hub_api::SYNC_PATH,
            &access,
            Some(r#"{"state":"waiting-for-jobs"}"#.into()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, agents) = hub.api("GET", "/agents", None).await;
    assert_eq!(agents[0]["status"], "disconnected");
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_api_refuses_bad_credentials_and_bodies() {
    let hub = TestHub::start(settings()).await;
    let registration = hub.create_agent_type("linux").await;
    let body = r#"{"name":"a1"}"#.to_owned();
    let (status, _) = hub
        .agent_call(
            hub_api::REGISTER_PATH,
            &Secret::new("wrong"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let bearer = hub
        .http
        .post(hub.url(hub_api::REGISTER_PATH))
        .header(
            "Authorization",
            hub_api::loghub_authorization(&registration),
        )
        .body(body.clone())
        .send()
        .await
        .expect("call");
    assert_eq!(
        bearer.status(),
        StatusCode::UNAUTHORIZED,
        "a Bearer credential is not a Token"
    );
    let (status, _) = hub
        .agent_call(
            hub_api::REGISTER_PATH,
            &registration,
            Some("not json".into()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let access = hub.register(&registration, "a1", false).await;
    // A second agent cannot take a connected agent's name.
    let (status, text) = hub
        .agent_call(hub_api::REGISTER_PATH, &registration, Some(body))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    // The registration token is not an access token, and the access token does not register.
    for path in [
        hub_api::SYNC_PATH,
        hub_api::REFRESH_PATH,
        hub_api::DISCONNECT_PATH,
    ] {
        let (status, _) = hub
            .agent_call(
                path,
                &registration,
                Some(r#"{"state":"waiting-for-jobs"}"#.into()),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, _) = hub
        .agent_call(
            hub_api::SYNC_PATH,
            &access,
            Some(r#"{"state":"dancing"}"#.into()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = hub
        .agent_call(&format!("{BASE_PATH}/jobs/nope"), &access, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Refresh without a job: nothing to refresh.
    let (status, _) = hub.agent_call(hub_api::REFRESH_PATH, &access, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A name the hub cannot show (a pre-signed STS URL) is replaced.
    let sts =
        r#"{"name":"https://sts.amazonaws.com/?Action=GetCallerIdentity&X-Amz-Signature=abc"}"#;
    let (status, text) = hub
        .agent_call(hub_api::REGISTER_PATH, &registration, Some(sts.into()))
        .await;
    assert_eq!(status, StatusCode::OK);
    let renamed: agent_protocol::RegisterResponse = serde_json::from_str(&text).expect("answer");
    assert!(renamed.name.starts_with("agent-"), "{}", renamed.name);
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_jobs_and_agents_as_the_scaler_reads_them() {
    let hub = TestHub::start(settings()).await;
    let linux = hub.create_agent_type("linux").await;
    let other = hub.create_agent_type("other").await;
    let metrics = |token: Secret| {
        let hub = &hub;
        async move { hub.agent_call(hub_api::METRICS_PATH, &token, None).await }
    };
    let read = |body: &str| Metrics::parse(body.as_bytes()).expect("metrics document");

    let (status, body) = metrics(linux.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read(&body).total_jobs(), 0);

    let busy = hub.register(&linux, "busy", false).await;
    let _idle = hub.register(&linux, "idle", false).await;
    let _elsewhere = hub.register(&other, "elsewhere", false).await;
    let started = hub.submit("linux", &["true"], None).await;
    hub.submit("linux", &["true"], None).await;
    hub.submit("linux", &["true"], None).await;
    hub.submit("other", &["true"], None).await;
    assert_eq!(
        hub.sync(&busy, &SyncRequest::waiting()).await.action,
        HubAction::RunJob
    );
    hub.sync(&busy, &running(&started)).await;

    let (status, body) = metrics(linux.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let m = read(&body);
    assert_eq!(m.jobs["queued"], 2);
    assert_eq!(m.jobs["running"], 1);
    assert_eq!(m.agents["idle"], 1);
    assert_eq!(m.agents["occupied"], 1);

    // As Semaphore answers: 401 without a Token credential, 404 for an unknown token.
    let (status, _) = metrics(Secret::new("unknown")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let anonymous = hub
        .http
        .get(hub.url(hub_api::METRICS_PATH))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let bearer = hub
        .http
        .get(hub.url(hub_api::METRICS_PATH))
        .header("Authorization", hub_api::loghub_authorization(&linux))
        .send()
        .await
        .expect("get");
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
    hub.handle.stop().await;
}

async fn started_job(hub: &TestHub, limit: Option<u64>) -> (Secret, String, JobRequest) {
    let registration = hub.create_agent_type("linux").await;
    let access = hub.register(&registration, "agent-1", false).await;
    let id = hub.submit("linux", &["sleep 60"], limit).await;
    assert_eq!(
        hub.sync(&access, &SyncRequest::waiting()).await.action,
        HubAction::RunJob
    );
    let (status, body) = hub.agent_call(&hub_api::job_path(&id), &access, None).await;
    assert_eq!(status, StatusCode::OK);
    hub.sync(&access, &running(&id)).await;
    (
        access,
        id,
        serde_json::from_str(&body).expect("job request"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_past_the_size_limit_is_refused_with_422_for_good() {
    let mut s = settings();
    s.log_limit_bytes = 500;
    let hub = TestHub::start(s).await;
    let (_, id, request) = started_job(&hub, None).await;
    let (url, token) = (&request.logger.url, &request.logger.token);
    assert_eq!(hub.push(url, token, 0, &events(0, 5)).await, StatusCode::OK);
    assert_eq!(
        hub.push(url, token, 5, &events(5, 5)).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        hub.push(url, token, 5, &events(5, 1)).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let job = hub.job(&id).await;
    assert_eq!(job["log_events"], 5);
    assert_eq!(job["log_trimmed"], true);
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_log_token_gets_401_and_refresh_gives_a_working_one() {
    let mut s = settings();
    // Two seconds: a token is never found expired by the push right after it was issued.
    s.log_token_ttl_secs = 2;
    let hub = TestHub::start(s).await;
    let (access, id, request) = started_job(&hub, None).await;
    let url = &request.logger.url;
    assert_eq!(
        hub.push(url, &request.logger.token, 0, &events(0, 2)).await,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        hub.push(url, &request.logger.token, 2, &events(2, 2)).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = hub.agent_call(hub_api::REFRESH_PATH, &access, None).await;
    assert_eq!(status, StatusCode::OK);
    let fresh: agent_protocol::RefreshResponse = serde_json::from_str(&body).expect("refresh");
    assert_ne!(fresh.token, request.logger.token);
    assert_eq!(
        hub.push(url, &fresh.token, 2, &events(2, 2)).await,
        StatusCode::OK
    );
    // A token is for its own job only.
    let other = hub.submit("linux", &["true"], None).await;
    let other_url = hub.url(&format!("/api/v1/logs/{other}"));
    assert_eq!(
        hub.push(&other_url, &fresh.token, 0, &events(0, 1)).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(hub.job(&id).await["log_events"], 4);
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_agent_is_lost_and_its_job_fails_with_a_reason() {
    let mut s = settings();
    s.agent_lost_after_secs = 1;
    let hub = TestHub::start(s).await;
    let (access, id, _) = started_job(&hub, None).await;
    // A second agent whose job never started: that job goes back to the queue.
    let registration = hub.create_agent_type("mac").await;
    let mac = hub.register(&registration, "mac-1", false).await;
    let mac_job = hub.submit("mac", &["true"], None).await;
    assert_eq!(
        hub.sync(&mac, &SyncRequest::waiting()).await.action,
        HubAction::RunJob
    );

    tokio::time::sleep(Duration::from_millis(2600)).await;
    let job = hub.job(&id).await;
    assert_eq!(job["state"], "finished", "{job}");
    assert_eq!(job["result"], "failed");
    assert!(
        job["reason"]
            .as_str()
            .expect("reason")
            .contains("agent-1 stopped syncing"),
        "{job}"
    );
    let requeued = hub.job(&mac_job).await;
    assert_eq!(requeued["state"], "queued", "{requeued}");
    assert!(requeued["agent"].is_null());
    let (_, agents) = hub.api("GET", "/agents", None).await;
    assert!(
        agents
            .as_array()
            .expect("agents")
            .iter()
            .all(|a| a["status"] == "lost"),
        "{agents}"
    );
    let (status, _) = hub
        .agent_call(
            hub_api::SYNC_PATH,
            &access,
            Some(serde_json::to_string(&running(&id)).expect("json")),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a lost agent's token no longer works"
    );
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_time_limit_is_stopped_and_ends_stopped_with_the_reason() {
    let hub = TestHub::start(settings()).await;
    let (access, id, _) = started_job(&hub, Some(1)).await;
    assert_eq!(
        hub.sync(&access, &running(&id)).await.action,
        HubAction::Continue
    );
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let stop = hub.sync(&access, &running(&id)).await;
    assert_eq!(stop.action, HubAction::StopJob);
    assert_eq!(stop.job_id.as_deref(), Some(id.as_str()));
    hub.sync(&access, &finished(&id, JobResult::Stopped)).await;
    let job = hub.job(&id).await;
    assert_eq!(job["result"], "stopped");
    assert_eq!(
        job["reason"],
        "the execution time limit of 1 s was exceeded"
    );
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_agents_syncing_at_once_never_share_a_job() {
    let hub = TestHub::start(settings()).await;
    let registration = hub.create_agent_type("linux").await;
    let mut tokens = Vec::new();
    for i in 0..200 {
        tokens.push(hub.register(&registration, &format!("a{i}"), false).await);
    }
    let mut submitted = BTreeSet::new();
    for _ in 0..25 {
        submitted.insert(hub.submit("linux", &["true"], None).await);
    }
    let mut tasks = Vec::new();
    for token in tokens {
        let http = hub.http.clone();
        let url = hub.url(hub_api::SYNC_PATH);
        tasks.push(tokio::spawn(async move {
            let body = http
                .post(url)
                .header("Authorization", hub_api::hub_authorization(&token))
                .body(r#"{"state":"waiting-for-jobs","job_id":"","job_result":"","interrupted_at":0}"#)
                .send()
                .await
                .expect("sync")
                .text()
                .await
                .expect("body");
            serde_json::from_str::<agent_protocol::SyncResponse>(&body).expect("answer")
        }));
    }
    let mut assigned = Vec::new();
    for task in tasks {
        let answer = task.await.expect("task");
        if answer.action == HubAction::RunJob {
            assigned.push(answer.job_id.expect("job id"));
        }
    }
    let distinct: BTreeSet<String> = assigned.iter().cloned().collect();
    assert_eq!(
        assigned.len(),
        25,
        "every job handed out once: {assigned:?}"
    );
    assert_eq!(distinct, submitted);
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_api_stops_jobs_disconnects_agents_and_refuses_bad_input() {
    let hub = TestHub::start(settings()).await;
    let anonymous = hub
        .http
        .get(hub.url("/api/v1/hub/jobs"))
        .send()
        .await
        .expect("get");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = hub
        .http
        .get(hub.url("/api/v1/hub/jobs"))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("get");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let registration = hub.create_agent_type("linux").await;
    let (status, body) = hub
        .api("POST", "/agent_types", Some(json!({ "name": "linux" })))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body.as_str()
            .expect("text")
            .contains("\"linux\" already exists"),
        "{body}"
    );
    let (status, _) = hub
        .api("POST", "/agent_types", Some(json!({ "name": "has space" })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = hub
        .api(
            "POST",
            "/jobs",
            Some(json!({ "agent_type": "windows", "request": { "commands": [] } })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body.as_str().expect("text").contains("\"windows\""),
        "{body}"
    );
    let (status, _) = hub
        .api("POST", "/jobs", Some(json!({ "request": 1 })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, jobs) = hub.api("GET", "/jobs", None).await;
    assert_eq!(jobs, json!([]), "refused submissions leave nothing behind");

    // A queued job stops at once.
    let queued = hub.submit("linux", &["true"], None).await;
    let (status, job) = hub.api("POST", &format!("/jobs/{queued}/stop"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(job["state"], "finished");
    assert_eq!(job["result"], "stopped");

    // A running job is stopped through its agent; a disconnect request follows the job.
    let access = hub.register(&registration, "a1", false).await;
    let id = hub.submit("linux", &["sleep 100"], None).await;
    hub.sync(&access, &SyncRequest::waiting()).await;
    hub.sync(&access, &running(&id)).await;
    let (status, _) = hub.api("POST", &format!("/jobs/{id}/stop"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        hub.sync(&access, &running(&id)).await.action,
        HubAction::StopJob
    );
    let (status, _) = hub.api("POST", "/agents/a1/disconnect", None).await;
    assert_eq!(status, StatusCode::OK);
    let last = hub.sync(&access, &finished(&id, JobResult::Stopped)).await;
    assert_eq!(last.action, HubAction::Shutdown);
    assert_eq!(last.shutdown_reason, Some(ShutdownReason::Requested));
    assert_eq!(hub.job(&id).await["reason"], "stopped through the API");
    let (status, _) = hub.api("POST", "/agents/nobody/disconnect", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = hub.api("GET", "/jobs/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    hub.handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_registration_token_replaces_the_old_one_and_agents_carry_on() {
    let hub = TestHub::start(settings()).await;
    let old = hub.create_agent_type("linux").await;
    let access = hub.register(&old, "before-rotation", false).await;
    let (status, body) = hub.api("POST", "/agent_types/linux/token", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = Secret::new(body["registration_token"].as_str().expect("token"));
    assert_ne!(new, old);
    let (status, _) = hub
        .agent_call(
            hub_api::REGISTER_PATH,
            &old,
            Some(r#"{"name":"with-the-old-one"}"#.into()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = hub.agent_call(hub_api::METRICS_PATH, &old, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = hub.agent_call(hub_api::METRICS_PATH, &new, None).await;
    assert_eq!(status, StatusCode::OK);
    hub.register(&new, "after-rotation", false).await;
    assert_eq!(
        hub.sync(&access, &SyncRequest::waiting()).await.action,
        HubAction::Continue
    );
    let (status, _) = hub.api("POST", "/agent_types/nope/token", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    hub.handle.stop().await;
}
