//! The SSH keys updater Lambda, run daily by EventBridge. See the library.

use aws_support::CallBudget;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use ssh_keys_updater::{META_URL_ENV, Outcome, PARAMETER_ENV, UpdateError, update};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = aws_support::sdk_config(CallBudget::PATIENT).await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let http = reqwest::Client::new();
    let parameter = std::env::var(PARAMETER_ENV).ok().filter(|p| !p.is_empty());
    let meta_url = std::env::var(META_URL_ENV).unwrap_or_else(|_| github_keys::META_URL.to_owned());
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| {
        let (ssm, http, parameter, meta_url) = (&ssm, &http, &parameter, &meta_url);
        async move {
            let name = parameter.as_deref().ok_or(UpdateError::NoParameter)?;
            let outcome = update(http, meta_url, ssm, name).await.inspect_err(|e| {
                tracing::error!(error = %e, "update failed");
            })?;
            Ok::<_, Error>(json!({
                "statusCode": 200,
                "message": "success",
                "updated": matches!(outcome, Outcome::Updated { .. }),
            }))
        }
    }))
    .await
}
