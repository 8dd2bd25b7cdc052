//! SIGTERM and SIGINT for the listener (spec 5.4): the agent does not exit on them; each one
//! becomes an `Interrupted` event (the state machine keeps only the first as
//! `interrupted_at` and forces a sync), and the hub decides when the agent stops.
//!
//! [`Signals`] is the seam: [`OsSignals`] listens to the process's signals, and
//! [`ChannelSignals`] delivers signals sent through a channel (tests).

use std::future::Future;

use tokio::sync::mpsc;

/// A stream of interruptions.
pub trait Signals: Send + 'static {
    /// The next SIGTERM or SIGINT; `None` when no more can come.
    fn next(&mut self) -> impl Future<Output = Option<()>> + Send;
}

/// SIGTERM and SIGINT of this process. Once created, neither signal kills the process any
/// more, for as long as it runs.
#[derive(Debug)]
pub struct OsSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl OsSignals {
    /// Installs the handlers.
    pub fn install() -> std::io::Result<OsSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(OsSignals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(OsSignals {})
        }
    }
}

impl Signals for OsSignals {
    async fn next(&mut self) -> Option<()> {
        #[cfg(unix)]
        {
            let name = tokio::select! {
                got = self.term.recv() => got.map(|()| "SIGTERM"),
                got = self.int.recv() => got.map(|()| "SIGINT"),
            }?;
            tracing::info!(
                signal = name,
                "received a termination signal; the hub decides when to stop"
            );
            Some(())
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.ok()
        }
    }
}

/// Signals sent through a channel: tests inject SIGTERM with [`ChannelSignals::sender`].
#[derive(Debug)]
pub struct ChannelSignals {
    rx: mpsc::UnboundedReceiver<()>,
}

impl ChannelSignals {
    /// A receiver and the sender that raises a signal on it.
    pub fn sender() -> (mpsc::UnboundedSender<()>, ChannelSignals) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, ChannelSignals { rx })
    }
}

impl Signals for ChannelSignals {
    async fn next(&mut self) -> Option<()> {
        self.rx.recv().await
    }
}
