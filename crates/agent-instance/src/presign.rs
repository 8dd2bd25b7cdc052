//! The agent name as a pre-signed STS `GetCallerIdentity` URL, for agent types whose names
//! are assigned by AWS STS: Semaphore performs the request and takes the instance's identity
//! from the answer. Signed in-process with SigV4, valid 15 minutes.

use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// The global STS endpoint, as the original's presigner (botocore without a region) used.
pub const STS_HOST: &str = "sts.amazonaws.com";
/// The region the global endpoint signs for.
pub const STS_REGION: &str = "us-east-1";
/// How long the URL is valid.
pub const EXPIRES: Duration = Duration::from_secs(900);

/// A pre-signed `GET https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15`.
pub fn caller_identity_url(credentials: &Credentials, now: SystemTime) -> Result<String> {
    let mut url = url::Url::parse(&format!(
        "https://{STS_HOST}/?Action=GetCallerIdentity&Version=2011-06-15"
    ))
    .context("the STS URL")?;
    let identity: Identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(EXPIRES);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(STS_REGION)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .context("SigV4 parameters")?
        .into();
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        std::iter::once(("host", STS_HOST)),
        SignableBody::Bytes(&[]),
    )
    .context("the request to sign")?;
    let (instructions, _signature) = sign(request, &params)
        .context("signing the STS request")?
        .into_parts();
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in instructions.params() {
            query.append_pair(name, value);
        }
    }
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn url_carries_the_signed_query_and_the_session_token() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", Some("session".into()), None, "t");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let url = url::Url::parse(&caller_identity_url(&creds, now).expect("signed")).expect("url");
        assert_eq!(url.host_str(), Some(STS_HOST));
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(query["Action"], "GetCallerIdentity");
        assert_eq!(query["Version"], "2011-06-15");
        assert_eq!(query["X-Amz-Algorithm"], "AWS4-HMAC-SHA256");
        assert_eq!(
            query["X-Amz-Credential"],
            "AKIDEXAMPLE/20231114/us-east-1/sts/aws4_request"
        );
        assert_eq!(query["X-Amz-Date"], "20231114T221320Z");
        assert_eq!(query["X-Amz-Expires"], "900");
        assert_eq!(query["X-Amz-SignedHeaders"], "host");
        assert_eq!(query["X-Amz-Security-Token"], "session");
        assert_eq!(query["X-Amz-Signature"].len(), 64);
        // Deterministic for the same inputs; another secret gives another signature.
        assert_eq!(
            caller_identity_url(&creds, now).expect("signed"),
            url.as_str()
        );
        let other = Credentials::new("AKIDEXAMPLE", "other", Some("session".into()), None, "t");
        assert_ne!(
            caller_identity_url(&other, now).expect("signed"),
            url.as_str()
        );
    }
}
