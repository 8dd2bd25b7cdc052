//! The hub's state: everything in memory for fast answers, written through to SQLite (WAL)
//! before any answer depends on it, and read back whole at start. Every operation runs
//! under one lock (see `server.rs`), so a queued job can only ever be handed to one agent.
//!
//! What is not written: when each agent last synced. A restarted hub counts every agent as
//! heard from at its start, so agents that carry on are not declared lost.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use agent_protocol::{
    AgentState, EnvVar, JobRequest, JobResult, Logger, LoggerMethod, Metrics, RegisterRequest,
    RegisterResponse, Secret, SyncRequest, SyncResponse,
};
use rusqlite::{Connection, params};

use crate::error::HubError;
use crate::records::{AgentRecord, AgentStatus, AgentTypeRecord, JobRecord, JobState};
use crate::rules::{self, AgentView, Effect, JobView, SweepEffect, SweptAgent, SweptJob};
use crate::settings::HubSettings;
use crate::token;

/// The hub's whole state and its database.
pub struct HubState {
    db: Connection,
    settings: HubSettings,
    types: BTreeMap<String, AgentTypeRecord>,
    type_by_digest: HashMap<String, String>,
    agents: BTreeMap<String, AgentRecord>,
    agent_by_digest: HashMap<String, String>,
    jobs: HashMap<String, JobRecord>,
    /// Jobs not finished, by id.
    open_jobs: BTreeSet<String>,
    /// Queued jobs per agent type, in submission order.
    queues: HashMap<String, BTreeMap<u64, String>>,
    /// Loghub tokens: digest → (job, expiry).
    log_tokens: HashMap<String, (String, i64)>,
    next_seq: u64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agent_types (
    name TEXT PRIMARY KEY, token_digest TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agents (
    name TEXT PRIMARY KEY, token_digest TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log_tokens (
    token_digest TEXT PRIMARY KEY, job_id TEXT NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS log_lines (
    job_id TEXT NOT NULL, idx INTEGER NOT NULL, line TEXT NOT NULL,
    PRIMARY KEY (job_id, idx)) WITHOUT ROWID;
";

impl HubState {
    /// Opens (or creates) the database at `path` and loads it. `now` is the hub's start: every
    /// active agent counts as heard from then.
    pub fn open(path: &Path, settings: HubSettings, now: i64) -> Result<HubState, HubError> {
        let db = Connection::open(path).map_err(|e| HubError::Database(e.to_string()))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        let mut state = HubState {
            db,
            settings,
            types: BTreeMap::new(),
            type_by_digest: HashMap::new(),
            agents: BTreeMap::new(),
            agent_by_digest: HashMap::new(),
            jobs: HashMap::new(),
            open_jobs: BTreeSet::new(),
            queues: HashMap::new(),
            log_tokens: HashMap::new(),
            next_seq: 1,
        };
        state.load(now)?;
        Ok(state)
    }

    fn load(&mut self, now: i64) -> Result<(), HubError> {
        let types = self.digest_and_record("agent_types")?;
        let types = types.into_iter().map(|(digest, json)| {
            let mut record: AgentTypeRecord = from_json(&json)?;
            record.token_digest = digest;
            Ok::<_, HubError>(record)
        });
        let types: Vec<AgentTypeRecord> = types.collect::<Result<_, _>>()?;
        for t in types {
            self.type_by_digest
                .insert(t.token_digest.clone(), t.name.clone());
            self.types.insert(t.name.clone(), t);
        }
        let agents = self.digest_and_record("agents")?;
        let agents = agents.into_iter().map(|(digest, json)| {
            let mut record: AgentRecord = from_json(&json)?;
            record.token_digest = digest;
            record.last_sync = now;
            Ok::<_, HubError>(record)
        });
        let agents: Vec<AgentRecord> = agents.collect::<Result<_, _>>()?;
        for a in agents {
            if a.status == AgentStatus::Active {
                self.agent_by_digest
                    .insert(a.token_digest.clone(), a.name.clone());
            }
            self.agents.insert(a.name.clone(), a);
        }
        let jobs: Vec<JobRecord> = {
            let mut stmt = self.db.prepare("SELECT record FROM jobs")?;
            let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
            let mut out = Vec::new();
            for row in rows {
                out.push(from_json::<JobRecord>(&row?)?);
            }
            out
        };
        for j in jobs {
            self.next_seq = self.next_seq.max(j.seq + 1);
            if j.state != JobState::Finished {
                self.open_jobs.insert(j.id.clone());
            }
            if j.state == JobState::Queued {
                self.queues
                    .entry(j.agent_type.clone())
                    .or_default()
                    .insert(j.seq, j.id.clone());
            }
            self.jobs.insert(j.id.clone(), j);
        }
        let tokens: Vec<(String, String, i64)> = {
            let mut stmt = self
                .db
                .prepare("SELECT token_digest, job_id, expires_at FROM log_tokens")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (digest, job, expires) in tokens {
            self.log_tokens.insert(digest, (job, expires));
        }
        Ok(())
    }

    /// Every `(token_digest, record)` row of a table that stores records beside their digest.
    fn digest_and_record(&self, table: &str) -> Result<Vec<(String, String)>, HubError> {
        let mut stmt = self
            .db
            .prepare(&format!("SELECT token_digest, record FROM {table}"))?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- agent types ----------------------------------------------------------------------

    /// Creates an agent type; the token is returned once and stored only as a digest.
    pub fn create_agent_type(
        &mut self,
        name: &str,
        now: i64,
    ) -> Result<(AgentTypeRecord, Secret), HubError> {
        validate_name("agent type name", name)?;
        if self.types.contains_key(name) {
            return Err(HubError::Conflict(format!(
                "an agent type named {name:?} already exists"
            )));
        }
        let secret = token::new_token();
        let record = AgentTypeRecord {
            name: name.to_owned(),
            created_at: now,
            token_digest: token::digest(&secret),
        };
        self.db.execute(
            "INSERT INTO agent_types (name, token_digest, record) VALUES (?1, ?2, ?3)",
            params![record.name, record.token_digest, to_json(&record)],
        )?;
        self.type_by_digest
            .insert(record.token_digest.clone(), record.name.clone());
        self.types.insert(record.name.clone(), record.clone());
        Ok((record, secret))
    }

    /// Gives an agent type a new registration token; the old one stops working at once
    /// (registrations and metrics), while registered agents keep their access tokens.
    pub fn rotate_registration_token(&mut self, name: &str) -> Result<Secret, HubError> {
        let mut record = self
            .types
            .get(name)
            .cloned()
            .ok_or_else(|| HubError::NotFound(format!("no agent type named {name:?}")))?;
        let secret = token::new_token();
        let old = std::mem::replace(&mut record.token_digest, token::digest(&secret));
        self.db.execute(
            "UPDATE agent_types SET token_digest = ?1 WHERE name = ?2",
            params![record.token_digest, name],
        )?;
        self.type_by_digest.remove(&old);
        self.type_by_digest
            .insert(record.token_digest.clone(), name.to_owned());
        self.types.insert(name.to_owned(), record);
        tracing::info!(agent_type = %name, "registration token rotated");
        Ok(secret)
    }

    /// Every agent type.
    pub fn agent_types(&self) -> Vec<AgentTypeRecord> {
        self.types.values().cloned().collect()
    }

    fn agent_type_of(&self, registration: &Secret) -> Option<&AgentTypeRecord> {
        let digest = token::digest(registration);
        let name = self.type_by_digest.get(&digest)?;
        let record = self.types.get(name)?;
        token::same_digest(&digest, &record.token_digest).then_some(record)
    }

    // ---- the agent API ----------------------------------------------------------------------

    /// `POST /register`.
    pub fn register(
        &mut self,
        registration: &Secret,
        request: RegisterRequest,
        now: i64,
    ) -> Result<RegisterResponse, HubError> {
        let agent_type = self
            .agent_type_of(registration)
            .ok_or(HubError::Unauthorized("unknown registration token"))?
            .name
            .clone();
        // Like Semaphore, the hub may rename an agent: a name it cannot show as is (empty, or
        // a pre-signed STS URL it has no AWS to verify) becomes `agent-<random>`.
        let name = if validate_name("agent name", &request.name).is_ok() {
            request.name.clone()
        } else {
            format!("agent-{}", &token::new_job_id()[..8])
        };
        if self
            .agents
            .get(&name)
            .is_some_and(|a| a.status == AgentStatus::Active)
        {
            return Err(HubError::Conflict(format!(
                "an agent named {name:?} is already registered"
            )));
        }
        let secret = token::new_token();
        let record = AgentRecord {
            name: name.clone(),
            agent_type,
            version: request.version,
            os: request.os,
            arch: request.arch,
            hostname: request.hostname,
            pid: request.pid,
            single_job: request.single_job,
            idle_timeout_secs: request.idle_timeout_secs.max(0),
            grace_period_secs: request.interruption_grace_period_secs.max(0),
            pinned_job: request.job_id,
            registered_at: now,
            status: AgentStatus::Active,
            ended_at: None,
            end_reason: None,
            state: AgentState::WaitingForJobs,
            job: None,
            idle_since: now,
            interrupted_at: None,
            disconnect_requested: false,
            last_sync: now,
            token_digest: token::digest(&secret),
        };
        self.save_agent(&self.db, &record)?;
        if let Some(old) = self.agents.get(&name) {
            self.agent_by_digest.remove(&old.token_digest);
        }
        self.agent_by_digest
            .insert(record.token_digest.clone(), name.clone());
        self.agents.insert(name.clone(), record);
        tracing::info!(agent = %name, "agent registered");
        Ok(RegisterResponse {
            name,
            token: secret,
        })
    }

    fn agent_name_of(&self, access: &Secret) -> Result<String, HubError> {
        let digest = token::digest(access);
        let name = self
            .agent_by_digest
            .get(&digest)
            .ok_or(HubError::Unauthorized("unknown access token"))?;
        let agent = self
            .agents
            .get(name)
            .ok_or(HubError::Unauthorized("unknown access token"))?;
        if !token::same_digest(&digest, &agent.token_digest) {
            return Err(HubError::Unauthorized("unknown access token"));
        }
        Ok(name.clone())
    }

    /// `POST /sync`: the rules' answer, with their effects stored first.
    pub fn sync(
        &mut self,
        access: &Secret,
        request: &SyncRequest,
        now: i64,
    ) -> Result<SyncResponse, HubError> {
        let name = self.agent_name_of(access)?;
        let agent = &self.agents[&name];
        let view = AgentView {
            single_job: agent.single_job,
            idle_timeout_secs: agent.idle_timeout_secs,
            grace_period_secs: agent.grace_period_secs,
            idle_since: agent.idle_since,
            disconnect_requested: agent.disconnect_requested,
        };
        let job = agent
            .job
            .as_ref()
            .and_then(|id| self.jobs.get(id))
            .map(|j| JobView {
                id: j.id.clone(),
                started: j.state == JobState::Started,
                stop_requested: j.stop_reason.is_some(),
            });
        let next = self.next_job_for(agent);
        let decision = rules::decide(&view, job.as_ref(), next.as_deref(), request, now);

        let mut agent = agent.clone();
        let changed_agent = agent.state != request.state
            || agent.interrupted_at != request.interrupted_at
            || !decision.effects.is_empty();
        agent.state = request.state;
        agent.interrupted_at = request.interrupted_at;
        agent.last_sync = now;
        let mut jobs_changed = Vec::new();
        for effect in &decision.effects {
            match effect {
                Effect::Assign(id) => {
                    if let Some(mut job) = self.jobs.get(id).cloned() {
                        job.state = JobState::Assigned;
                        job.agent = Some(name.clone());
                        job.assigned_at = Some(now);
                        agent.job = Some(id.clone());
                        jobs_changed.push(job);
                    }
                }
                Effect::Started(id) => {
                    if let Some(mut job) = self.jobs.get(id).cloned() {
                        job.state = JobState::Started;
                        job.started_at.get_or_insert(now);
                        jobs_changed.push(job);
                    }
                }
                Effect::Finished {
                    job_id,
                    result,
                    reason,
                } => {
                    let current = jobs_changed
                        .iter()
                        .position(|j: &JobRecord| &j.id == job_id)
                        .map(|i| jobs_changed.remove(i))
                        .or_else(|| self.jobs.get(job_id).cloned());
                    if let Some(mut job) = current {
                        if job.state != JobState::Finished {
                            finish(&mut job, *result, reason.clone(), now);
                        }
                        jobs_changed.push(job);
                    }
                }
                Effect::Release => {
                    agent.job = None;
                    agent.idle_since = now;
                }
            }
        }
        if changed_agent {
            let tx = self.db.unchecked_transaction()?;
            self.save_agent(&tx, &agent)?;
            for job in &jobs_changed {
                save_job(&tx, job)?;
            }
            tx.commit()?;
        }
        for job in jobs_changed {
            self.put_job(job);
        }
        self.agents.insert(name, agent);
        let mut response = decision.response;
        response.next_sync_after_ms = Some(self.settings.next_sync_after_ms);
        Ok(response)
    }

    fn next_job_for(&self, agent: &AgentRecord) -> Option<String> {
        let queue = self.queues.get(&agent.agent_type)?;
        match &agent.pinned_job {
            Some(pinned) => queue.values().find(|id| *id == pinned).cloned(),
            None => queue.values().next().cloned(),
        }
    }

    /// `GET /jobs/{id}`: the job request of a job assigned to this agent, with a fresh loghub
    /// token.
    pub fn job_request(
        &mut self,
        access: &Secret,
        job_id: &str,
        now: i64,
    ) -> Result<JobRequest, HubError> {
        let name = self.agent_name_of(access)?;
        let job = self
            .jobs
            .get(job_id)
            .filter(|j| j.agent.as_deref() == Some(name.as_str()))
            .filter(|j| j.state != JobState::Finished)
            .ok_or_else(|| HubError::NotFound(format!("no job {job_id} assigned to {name}")))?;
        let mut request = job.request.clone();
        request.job_id = job.id.clone();
        request.logger = Logger {
            method: LoggerMethod::Push,
            url: agent_protocol::hub_api::loghub_url(&self.settings.public_url, &job.id),
            token: self.issue_log_token(job_id, now)?,
            max_size_in_bytes: None,
        };
        Ok(request)
    }

    fn issue_log_token(&mut self, job_id: &str, now: i64) -> Result<Secret, HubError> {
        let secret = token::new_token();
        let digest = token::digest(&secret);
        let expires = now + self.settings.log_token_ttl_secs;
        self.db.execute(
            "INSERT INTO log_tokens (token_digest, job_id, expires_at) VALUES (?1, ?2, ?3)",
            params![digest, job_id, expires],
        )?;
        self.log_tokens.insert(digest, (job_id.to_owned(), expires));
        Ok(secret)
    }

    /// `POST /refresh`: a new loghub token for the agent's current job.
    pub fn refresh(&mut self, access: &Secret, now: i64) -> Result<Secret, HubError> {
        let name = self.agent_name_of(access)?;
        let job = self.agents[&name]
            .job
            .clone()
            .ok_or_else(|| HubError::NotFound(format!("agent {name} holds no job")))?;
        self.issue_log_token(&job, now)
    }

    /// `POST /disconnect`: the agent leaves. A job it held and started fails; one it never
    /// started is queued again.
    pub fn disconnect(&mut self, access: &Secret, now: i64) -> Result<(), HubError> {
        let name = self.agent_name_of(access)?;
        self.end_agent(
            &name,
            AgentStatus::Disconnected,
            "the agent disconnected",
            now,
        )?;
        tracing::info!(agent = %name, "agent disconnected");
        Ok(())
    }

    fn end_agent(
        &mut self,
        name: &str,
        status: AgentStatus,
        reason: &str,
        now: i64,
    ) -> Result<(), HubError> {
        let Some(mut agent) = self.agents.get(name).cloned() else {
            return Ok(());
        };
        let mut job_change = None;
        if let Some(job) = agent.job.take().and_then(|id| self.jobs.get(&id).cloned()) {
            let mut job = job;
            match job.state {
                JobState::Assigned => requeue(&mut job),
                JobState::Started => finish(
                    &mut job,
                    JobResult::Failed,
                    Some(format!("{reason} while running the job")),
                    now,
                ),
                JobState::Queued | JobState::Finished => {}
            }
            job_change = Some(job);
        }
        agent.status = status;
        agent.ended_at = Some(now);
        agent.end_reason = Some(reason.to_owned());
        let tx = self.db.unchecked_transaction()?;
        self.save_agent(&tx, &agent)?;
        if let Some(job) = &job_change {
            save_job(&tx, job)?;
        }
        tx.commit()?;
        self.agent_by_digest.remove(&agent.token_digest);
        self.agents.insert(name.to_owned(), agent);
        if let Some(job) = job_change {
            self.put_job(job);
        }
        Ok(())
    }

    // ---- the loghub -------------------------------------------------------------------------

    /// `POST /api/v1/logs/{job}?start_from=N`: stores the batch's events not stored yet.
    pub fn push_logs(
        &mut self,
        job_id: &str,
        bearer: &Secret,
        start_from: u64,
        body: &str,
        now: i64,
    ) -> Result<(), HubError> {
        // Found by its digest (the map's key): the token itself is never compared.
        let digest = token::digest(bearer);
        match self.log_tokens.get(&digest) {
            Some((job, expires)) if job == job_id && *expires > now => {}
            _ => {
                return Err(HubError::Unauthorized(
                    "unknown or expired log token for this job",
                ));
            }
        }
        let Some(job) = self.jobs.get(job_id) else {
            return Err(HubError::NotFound(format!("no job {job_id}")));
        };
        if job.log_trimmed {
            return Err(HubError::LogFull);
        }
        if start_from > job.log_events {
            return Err(HubError::Invalid(format!(
                "start_from={start_from} leaves a gap: {} events are stored",
                job.log_events
            )));
        }
        let already = usize::try_from(job.log_events - start_from).unwrap_or(usize::MAX);
        let lines: Vec<&str> = body
            .split('\n')
            .filter(|l| !l.is_empty())
            .skip(already)
            .collect();
        let mut job = job.clone();
        if lines.is_empty() {
            return Ok(());
        }
        let bytes: u64 = lines.iter().map(|l| l.len() as u64 + 1).sum();
        if job.log_bytes + bytes > self.settings.log_limit_bytes {
            job.log_trimmed = true;
            save_job(&self.db, &job)?;
            self.put_job(job);
            return Err(HubError::LogFull);
        }
        let tx = self.db.unchecked_transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO log_lines (job_id, idx, line) VALUES (?1, ?2, ?3)",
            )?;
            for (i, line) in lines.iter().enumerate() {
                insert.execute(params![job_id, job.log_events + i as u64, line])?;
            }
        }
        job.log_events += lines.len() as u64;
        job.log_bytes += bytes;
        save_job(&tx, &job)?;
        tx.commit()?;
        self.put_job(job);
        Ok(())
    }

    /// A job's stored events, one JSON line each, from index `from` on.
    pub fn log_lines(&self, job_id: &str, from: u64) -> Result<Vec<String>, HubError> {
        if !self.jobs.contains_key(job_id) {
            return Err(HubError::NotFound(format!("no job {job_id}")));
        }
        let mut stmt = self.db.prepare_cached(
            "SELECT line FROM log_lines WHERE job_id = ?1 AND idx >= ?2 ORDER BY idx",
        )?;
        let rows = stmt.query_map(params![job_id, from], |row| row.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- metrics ----------------------------------------------------------------------------

    /// `GET /metrics` for the agent type of `registration`.
    pub fn metrics(&self, registration: &Secret) -> Result<Metrics, HubError> {
        let agent_type = self
            .agent_type_of(registration)
            .ok_or_else(|| HubError::NotFound("unknown registration token".to_owned()))?
            .name
            .clone();
        let (mut queued, mut running) = (0, 0);
        for id in &self.open_jobs {
            let job = &self.jobs[id];
            if job.agent_type != agent_type {
                continue;
            }
            match job.state {
                JobState::Queued | JobState::Assigned => queued += 1,
                JobState::Started => running += 1,
                JobState::Finished => {}
            }
        }
        let (mut idle, mut occupied) = (0, 0);
        for agent in self.agents.values() {
            if agent.status != AgentStatus::Active || agent.agent_type != agent_type {
                continue;
            }
            if agent.job.is_some() {
                occupied += 1;
            } else {
                idle += 1;
            }
        }
        Ok(Metrics {
            jobs: BTreeMap::from([("queued".into(), queued), ("running".into(), running)]),
            agents: BTreeMap::from([("idle".into(), idle), ("occupied".into(), occupied)]),
        })
    }

    // ---- the job API ------------------------------------------------------------------------

    /// Queues a job for an agent type; returns its id.
    pub fn submit_job(
        &mut self,
        agent_type: &str,
        mut request: JobRequest,
        time_limit_secs: Option<u64>,
        now: i64,
    ) -> Result<String, HubError> {
        if !self.types.contains_key(agent_type) {
            return Err(HubError::NotFound(format!(
                "no agent type named {agent_type:?}: create it first (agent-type create)"
            )));
        }
        let id = token::new_job_id();
        request.job_id = id.clone();
        request.logger = Logger::default();
        if !request
            .env_vars
            .iter()
            .any(|v| v.name == "SEMAPHORE_JOB_ID")
        {
            request.env_vars.push(EnvVar {
                name: "SEMAPHORE_JOB_ID".into(),
                value: agent_protocol::Base64::encode(id.as_bytes()),
            });
        }
        let job = JobRecord {
            id: id.clone(),
            seq: self.next_seq,
            agent_type: agent_type.to_owned(),
            state: JobState::Queued,
            agent: None,
            submitted_at: now,
            assigned_at: None,
            started_at: None,
            finished_at: None,
            result: None,
            reason: None,
            stop_reason: None,
            time_limit_secs: time_limit_secs.or(self.settings.default_time_limit_secs),
            log_events: 0,
            log_bytes: 0,
            log_trimmed: false,
            request,
        };
        save_job(&self.db, &job)?;
        self.next_seq += 1;
        self.put_job(job);
        tracing::info!(job = %id, agent_type, "job submitted");
        Ok(id)
    }

    /// Every job, oldest first.
    pub fn jobs(&self) -> Vec<JobRecord> {
        let mut jobs: Vec<JobRecord> = self.jobs.values().cloned().collect();
        jobs.sort_by_key(|j| j.seq);
        jobs
    }

    /// One job.
    pub fn job(&self, id: &str) -> Result<JobRecord, HubError> {
        self.jobs
            .get(id)
            .cloned()
            .ok_or_else(|| HubError::NotFound(format!("no job {id}")))
    }

    /// Stops a job: a queued one ends at once as stopped; a running one is stopped by its
    /// agent at its next sync. Stopping a finished job changes nothing.
    pub fn stop_job(&mut self, id: &str, reason: &str, now: i64) -> Result<JobRecord, HubError> {
        let mut job = self.job(id)?;
        match job.state {
            JobState::Finished => return Ok(job),
            JobState::Queued => finish(&mut job, JobResult::Stopped, Some(reason.to_owned()), now),
            JobState::Assigned | JobState::Started => {
                if job.stop_reason.is_some() {
                    return Ok(job);
                }
                job.stop_reason = Some(reason.to_owned());
            }
        }
        save_job(&self.db, &job)?;
        self.put_job(job.clone());
        tracing::info!(job = %id, reason, "job stop requested");
        Ok(job)
    }

    /// Every agent, active ones first.
    pub fn agents(&self) -> Vec<AgentRecord> {
        let mut agents: Vec<AgentRecord> = self.agents.values().cloned().collect();
        agents.sort_by_key(|a| (a.status != AgentStatus::Active, a.registered_at));
        agents
    }

    /// Asks an active agent to disconnect: at its next sync when idle, after its job
    /// otherwise (its job is stopped).
    pub fn request_disconnect(&mut self, name: &str) -> Result<AgentRecord, HubError> {
        let mut agent = self
            .agents
            .get(name)
            .filter(|a| a.status == AgentStatus::Active)
            .cloned()
            .ok_or_else(|| HubError::NotFound(format!("no active agent named {name:?}")))?;
        agent.disconnect_requested = true;
        self.save_agent(&self.db, &agent)?;
        self.agents.insert(name.to_owned(), agent.clone());
        Ok(agent)
    }

    // ---- the clock --------------------------------------------------------------------------

    /// Applies what the clock changes (lost agents, time limits, expired log tokens).
    pub fn sweep(&mut self, now: i64) -> Result<Vec<SweepEffect>, HubError> {
        let agents: Vec<SweptAgent> = self
            .agents
            .values()
            .filter(|a| a.status == AgentStatus::Active)
            .map(|a| SweptAgent {
                name: a.name.clone(),
                last_sync: a.last_sync,
                job: a.job.as_ref().and_then(|id| {
                    self.jobs
                        .get(id)
                        .map(|j| (id.clone(), j.state == JobState::Started))
                }),
            })
            .collect();
        let jobs: Vec<SweptJob> = self
            .open_jobs
            .iter()
            .filter_map(|id| self.jobs.get(id))
            .filter(|j| j.state == JobState::Started)
            .map(|j| SweptJob {
                id: j.id.clone(),
                started_at: j.started_at.unwrap_or(now),
                time_limit_secs: j.time_limit_secs,
                stop_requested: j.stop_reason.is_some(),
            })
            .collect();
        let effects = rules::sweep(&agents, &jobs, self.settings.agent_lost_after_secs, now);
        for effect in &effects {
            match effect {
                SweepEffect::AgentLost { agent, reason } => {
                    tracing::warn!(agent = %agent, "{reason}: declared lost");
                    self.end_agent(agent, AgentStatus::Lost, reason, now)?;
                }
                // `end_agent` fails or requeues the lost agent's job itself.
                SweepEffect::JobFailed { .. } | SweepEffect::JobRequeued(_) => {}
                SweepEffect::StopJob { job_id, reason } => {
                    tracing::warn!(job = %job_id, "{reason}: stopping it");
                    self.stop_job(job_id, reason, now)?;
                }
            }
        }
        let expired: Vec<String> = self
            .log_tokens
            .iter()
            .filter(|(_, (_, expires))| *expires <= now)
            .map(|(digest, _)| digest.clone())
            .collect();
        if !expired.is_empty() {
            self.db.execute(
                "DELETE FROM log_tokens WHERE expires_at <= ?1",
                params![now],
            )?;
            for digest in expired {
                self.log_tokens.remove(&digest);
            }
        }
        Ok(effects)
    }

    // ---- storage ----------------------------------------------------------------------------

    fn save_agent(&self, db: &Connection, agent: &AgentRecord) -> Result<(), HubError> {
        db.prepare_cached(
            "INSERT OR REPLACE INTO agents (name, token_digest, record) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![agent.name, agent.token_digest, to_json(agent)])?;
        Ok(())
    }

    fn put_job(&mut self, job: JobRecord) {
        if let Some(queue) = self.queues.get_mut(&job.agent_type) {
            queue.remove(&job.seq);
        }
        if job.state == JobState::Queued {
            self.queues
                .entry(job.agent_type.clone())
                .or_default()
                .insert(job.seq, job.id.clone());
        }
        if job.state == JobState::Finished {
            self.open_jobs.remove(&job.id);
        } else {
            self.open_jobs.insert(job.id.clone());
        }
        self.jobs.insert(job.id.clone(), job);
    }
}

fn finish(job: &mut JobRecord, result: JobResult, reason: Option<String>, now: i64) {
    job.state = JobState::Finished;
    job.result = Some(result);
    job.finished_at = Some(now);
    if reason.is_some() {
        job.reason = reason;
    } else if job.reason.is_none() {
        job.reason = job.stop_reason.clone();
    }
}

fn requeue(job: &mut JobRecord) {
    job.state = JobState::Queued;
    job.agent = None;
    job.assigned_at = None;
}

fn save_job(db: &Connection, job: &JobRecord) -> Result<(), HubError> {
    db.prepare_cached("INSERT OR REPLACE INTO jobs (id, seq, record) VALUES (?1, ?2, ?3)")?
        .execute(params![job.id, job.seq, to_json(job)])?;
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Records are plain data (strings, numbers, enums): serializing them cannot fail.
    serde_json::to_string(value).expect("a hub record serializes to JSON")
}

fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, HubError> {
    serde_json::from_str(json)
        .map_err(|e| HubError::Database(format!("a stored record does not parse: {e}")))
}

fn validate_name(what: &str, name: &str) -> Result<(), HubError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(HubError::Invalid(format!(
            "{what} {name:?} is not valid: use 1 to 255 letters, digits, '-', '_' or '.'"
        )))
    }
}
