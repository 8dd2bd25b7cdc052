//! The scaler as AWS runs it: the scaler Lambda's own tick (`scaler-tick`) on a schedule,
//! reading the hub's metrics and moving the group in the emulator.

use std::time::Duration;

use aws_config::SdkConfig;
use scaler_tick::{Mode, Settings, TickReport};
use tokio::sync::watch;

/// Runs a tick every `every` until `stop` turns true; each report goes to `reports`.
pub async fn run_scaler(
    settings: Settings,
    sdk: &SdkConfig,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    reports: tokio::sync::mpsc::UnboundedSender<TickReport>,
) {
    let scaler = scaler_tick::aws_scaler_on(settings, scaler_tick::AwsIo::new(sdk));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let report = scaler.tick(Mode::Apply).await;
                if let Some(error) = &report.error {
                    tracing::warn!("scaler tick failed: {error}");
                }
                let _ = reports.send(report);
            }
            _ = stop.changed() => return,
        }
    }
}
