//! The scaler Lambda. EventBridge invokes it every minute; it ticks every 10 s until the
//! invocation's deadline nears (see `scaler_tick::tick`), raising the agents' group to meet
//! Semaphore's job demand. Configuration comes from the environment variables the stack sets.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use scaler_tick::{AwsScaler, Settings};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // A broken environment is reported by every invocation (so it shows in the function's
    // error metric) rather than by a crash loop.
    let scaler: Result<Arc<AwsScaler>, String> = match Settings::from_env() {
        Ok(settings) => Ok(Arc::new(scaler_tick::aws_scaler(settings).await)),
        Err(e) => Err(e.to_string()),
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        // Boxed: the tick future is deep enough to exceed the compiler's layout depth
        // limit when nested in the runtime's own futures.
        Box::pin(handle(scaler.clone(), event))
    }))
    .await
}

async fn handle(
    scaler: Result<Arc<AwsScaler>, String>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let scaler = scaler.map_err(|e| {
        tracing::error!("{e}");
        Error::from(e)
    })?;
    let deadline = aws_support::deadline_instant(event.context.deadline);
    let report = scaler.run_until(deadline).await;
    tracing::info!(
        ticks = report.ticks,
        failed = report.failed,
        scaled = report.scaled,
        "invocation done"
    );
    if report.ticks > 0 && report.failed == report.ticks {
        // Every tick failed: fail the invocation so the Errors metric (and any alarm on it)
        // shows it. Each tick already logged its reason.
        let last = report.last_error.unwrap_or_default();
        return Err(format!("all {} ticks failed; last error: {last}", report.ticks).into());
    }
    Ok(json!({
        "statusCode": 200,
        "message": "success",
        "ticks": report.ticks,
        "failed": report.failed,
        "scaled": report.scaled,
    }))
}
