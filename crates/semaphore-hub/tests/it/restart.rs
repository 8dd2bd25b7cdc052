//! A hub stopped and started again on the same database keeps every agent type, registration,
//! job (queued, assigned, running, finished) and log line, and its tokens keep working.

use agent_protocol::hub_api;
use agent_protocol::{HubAction, JobRequest, JobResult, SyncRequest};
use reqwest::StatusCode;

use crate::support::{TestHub, events, finished, running, settings, start_on};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_a_restart_and_agents_carry_on() {
    let hub = TestHub::start(settings()).await;
    let registration = hub.create_agent_type("linux").await;
    let access = hub.register(&registration, "a1", false).await;
    let done = hub.submit("linux", &["echo 1"], None).await;
    hub.sync(&access, &SyncRequest::waiting()).await;
    hub.sync(&access, &finished(&done, JobResult::Passed)).await;
    let running_job = hub.submit("linux", &["echo 2"], None).await;
    let queued = hub.submit("linux", &["echo 3"], None).await;
    assert_eq!(
        hub.sync(&access, &SyncRequest::waiting())
            .await
            .job_id
            .as_deref(),
        Some(running_job.as_str())
    );
    let (_, body) = hub
        .agent_call(&hub_api::job_path(&running_job), &access, None)
        .await;
    let request: JobRequest = serde_json::from_str(&body).expect("job request");
    hub.sync(&access, &running(&running_job)).await;
    assert_eq!(
        hub.push(&request.logger.url, &request.logger.token, 0, &events(0, 3))
            .await,
        StatusCode::OK
    );

    let TestHub { handle, dir, http } = hub;
    let addr = handle.addr;
    handle.stop().await;
    let handle = start_on(addr, &dir.path().join("hub.db"), settings()).await;
    let hub = TestHub { handle, dir, http };

    // The same tokens work: the agent carries on where it was.
    assert_eq!(
        hub.sync(&access, &running(&running_job)).await.action,
        HubAction::Continue
    );
    assert_eq!(
        hub.push(&request.logger.url, &request.logger.token, 0, &events(0, 5))
            .await,
        StatusCode::OK
    );
    assert_eq!(hub.job(&running_job).await["log_events"], 5);
    assert_eq!(hub.job(&done).await["result"], "passed");
    assert_eq!(hub.job(&queued).await["state"], "queued");
    hub.sync(&access, &finished(&running_job, JobResult::Passed))
        .await;
    let next = hub.sync(&access, &SyncRequest::waiting()).await;
    assert_eq!(
        next.job_id.as_deref(),
        Some(queued.as_str()),
        "the queue kept its order"
    );
    let (status, _) = hub
        .agent_call(hub_api::METRICS_PATH, &registration, None)
        .await;
    assert_eq!(status, StatusCode::OK, "the registration token still works");
    // A new job id never reuses an old one's place in the queue.
    let later = hub.submit("linux", &["echo 4"], None).await;
    let (_, jobs) = hub.api("GET", "/jobs", None).await;
    let ids: Vec<&str> = jobs
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [
            done.as_str(),
            running_job.as_str(),
            queued.as_str(),
            later.as_str()
        ]
    );
    hub.handle.stop().await;
}
