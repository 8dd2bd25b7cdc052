//! One instance's metadata service: IMDSv2 on a loopback port, answering what the image's boot
//! program, shutdown hook and the AWS SDK read (identity, region, zone, instance-profile
//! credentials for the emulator, the Auto Scaling lifecycle state) and, when asked to, a spot
//! interruption notice. Every read needs the session token from `PUT /latest/api/token`,
//! as on EC2.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The header that carries the session token.
pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// The header a token request must carry.
pub const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
/// The instance profile's role name.
pub const ROLE: &str = "local-fleet-instance-role";

/// What the metadata service says about its instance.
#[derive(Debug, Clone)]
pub struct InstanceIdentity {
    /// `i-...` as moto launched it.
    pub instance_id: String,
    /// The region.
    pub region: String,
    /// The availability zone.
    pub availability_zone: String,
}

struct Shared {
    identity: InstanceIdentity,
    session: String,
    spot_action: Mutex<Option<String>>,
}

/// A running metadata service.
pub struct Imds {
    /// `http://127.0.0.1:<port>`, for `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub endpoint: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Imds {
    /// Serves the instance's metadata on a free loopback port.
    pub async fn start(identity: InstanceIdentity) -> anyhow::Result<Imds> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            session: format!("imds-session-{}", identity.instance_id),
            identity,
            spot_action: Mutex::new(None),
        });
        let app = Router::new()
            .route("/latest/api/token", put(token))
            .route("/latest/meta-data/{*path}", get(meta_data))
            .route("/latest/dynamic/instance-identity/document", get(document))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Imds {
            endpoint,
            shared,
            server,
        })
    }

    /// From now on `spot/instance-action` announces a termination `in` from now.
    pub fn announce_spot_interruption(&self, within: Duration) {
        let at = rfc3339(unix_secs() + within.as_secs());
        let notice = format!(r#"{{"action":"terminate","time":"{at}"}}"#);
        *self
            .shared
            .spot_action
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(notice);
    }
}

impl Drop for Imds {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match headers.get(TTL_HEADER) {
        Some(ttl) => (
            StatusCode::OK,
            [(TTL_HEADER, ttl.clone())],
            s.session.clone(),
        )
            .into_response(),
        None => StatusCode::BAD_REQUEST.into_response(),
    }
}

fn authorized(s: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == s.session)
}

async fn meta_data(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(path): Path<String>,
) -> Response {
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let id = &s.identity;
    let body = match path.as_str() {
        "instance-id" => id.instance_id.clone(),
        "placement/region" => id.region.clone(),
        "placement/availability-zone" => id.availability_zone.clone(),
        "iam/security-credentials" | "iam/security-credentials/" => ROLE.to_owned(),
        p if p == format!("iam/security-credentials/{ROLE}") => {
            // The emulator accepts any credentials; these expire as real ones do.
            let expires = rfc3339(unix_secs() + 3600);
            format!(
                r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"testing","SecretAccessKey":"testing","Token":"local-fleet-session","Expiration":"{expires}","LastUpdated":"{}"}}"#,
                rfc3339(unix_secs())
            )
        }
        "autoscaling/target-lifecycle-state" => "InService".to_owned(),
        "spot/instance-action" => {
            match s
                .spot_action
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
            {
                Some(notice) => notice,
                None => return StatusCode::NOT_FOUND.into_response(),
            }
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (StatusCode::OK, body).into_response()
}

async fn document(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let id = &s.identity;
    let doc = serde_json::json!({
        "instanceId": id.instance_id,
        "region": id.region,
        "availabilityZone": id.availability_zone,
    });
    (StatusCode::OK, doc.to_string()).into_response()
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SSZ`, as IMDS writes times.
fn rfc3339(secs: u64) -> String {
    let time = aws_smithy_types::DateTime::from_secs(i64::try_from(secs).unwrap_or(i64::MAX));
    time.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_396_373), "2026-11-23T01:12:53Z");
    }
}
