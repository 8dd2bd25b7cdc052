//! The AZRebalance suspender Lambda: the stack's custom resource `azRebalanceSuspender`
//! points its ServiceToken here. See the library for the contract.

use aws_support::CallBudget;
use az_rebalance_suspender::{HttpResponder, handle};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = aws_support::sdk_config(CallBudget::PATIENT).await;
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    let responder = HttpResponder(reqwest::Client::new());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (autoscaling, responder) = (&autoscaling, &responder);
        async move {
            let deadline = aws_support::deadline_instant(event.context.deadline);
            let outcome = handle(event.payload, deadline, autoscaling, responder).await?;
            Ok::<_, Error>(json!({
                "Status": outcome.status(),
                "PhysicalResourceId": outcome.physical_id,
            }))
        }
    }))
    .await
}
