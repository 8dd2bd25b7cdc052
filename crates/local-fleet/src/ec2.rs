//! The stand-in for EC2: it watches the Auto Scaling group in the emulator and keeps one local
//! instance per instance the group holds. A new instance boots after the launch delay; an
//! instance gone from the group (the shutdown hook's TerminateInstanceInAutoScalingGroup, a
//! scale-in) has its processes killed; an instance that powered itself off is terminated in
//! the group without decrement, so the group replaces it, as EC2 and Auto Scaling would.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use aws_sdk_autoscaling::Client as AutoScaling;

use crate::instance::{InstanceSpec, LocalInstance};

/// Something that happened to the fleet, with when (since the stand-in started).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetEvent {
    /// The group launched an instance.
    Launched(String),
    /// Its boot program started.
    Booted(String),
    /// It left the group and its processes were killed.
    Terminated(String),
    /// It powered itself off; it was terminated in the group so that it is replaced.
    PoweredOff(String),
    /// It was marked unhealthy (a failed boot); it was terminated in the group so that it is
    /// replaced, as Auto Scaling replaces unhealthy instances (moto does not).
    Unhealthy(String),
    /// It was killed without warning (a hardware failure); the group replaces it.
    Killed(String),
    /// It got a spot interruption notice.
    SpotNotice(String),
    /// Its spot capacity was reclaimed: OS shutdown (SIGTERM), then power-off; the group
    /// replaces it.
    SpotReclaimed(String),
}

/// How long an OS shutdown waits for processes after SIGTERM before the machine goes.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// A spot interruption under way.
#[derive(Debug, Clone, Copy)]
struct Reclaim {
    /// When the OS shutdown starts (the notice's time).
    at: Instant,
    /// Whether SIGTERM was sent.
    signalled: bool,
}

/// The stand-in's state.
pub struct Ec2StandIn {
    asg: AutoScaling,
    group: String,
    spec: InstanceSpec,
    instances: BTreeMap<String, LocalInstance>,
    started: Instant,
    /// Everything that happened, in order.
    pub events: Vec<(Duration, FleetEvent)>,
    /// The group's desired capacity at each change.
    pub sizes: Vec<(Duration, i32)>,
    reclaims: BTreeMap<String, Reclaim>,
}

impl Ec2StandIn {
    /// A stand-in for `group`, whose instances run as `spec` says.
    pub fn new(asg: AutoScaling, group: &str, spec: InstanceSpec) -> Ec2StandIn {
        Ec2StandIn {
            asg,
            group: group.to_owned(),
            spec,
            instances: BTreeMap::new(),
            started: Instant::now(),
            events: Vec::new(),
            sizes: Vec::new(),
            reclaims: BTreeMap::new(),
        }
    }

    fn record(&mut self, event: FleetEvent) {
        tracing::info!(?event, "fleet");
        self.events.push((self.started.elapsed(), event));
    }

    /// One look at the group: launch, boot, terminate and replace as needed.
    pub async fn step(&mut self) -> Result<()> {
        let out = self
            .asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.group)
            .send()
            .await
            .with_context(|| format!("cannot describe the Auto Scaling group {}", self.group))?;
        let Some(group) = out.auto_scaling_groups().first() else {
            anyhow::bail!("the Auto Scaling group {} does not exist", self.group);
        };
        let desired = group.desired_capacity().unwrap_or(0);
        if self.sizes.last().map(|(_, d)| *d) != Some(desired) {
            self.sizes.push((self.started.elapsed(), desired));
        }
        let listed: BTreeMap<String, String> = group
            .instances()
            .iter()
            .filter_map(|i| {
                Some((
                    i.instance_id()?.to_owned(),
                    i.availability_zone().unwrap_or("us-east-1a").to_owned(),
                ))
            })
            .collect();
        // One unhealthy instance per look: the group's list changes with its replacement.
        let unhealthy = group
            .instances()
            .iter()
            .find(|i| i.health_status() == Some("Unhealthy"))
            .and_then(|i| i.instance_id())
            .map(str::to_owned);
        if let Some(id) = unhealthy {
            if let Some(mut instance) = self.instances.remove(&id) {
                instance.terminate();
            }
            self.replace(&id).await?;
            self.record(FleetEvent::Unhealthy(id));
            return Ok(());
        }

        let gone: Vec<String> = self
            .instances
            .keys()
            .filter(|id| !listed.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(mut instance) = self.instances.remove(&id) {
                instance.terminate();
            }
            self.record(FleetEvent::Terminated(id));
        }
        for (id, zone) in &listed {
            if !self.instances.contains_key(id) {
                let instance = LocalInstance::create(&self.spec, id, zone).await?;
                self.instances.insert(id.clone(), instance);
                self.record(FleetEvent::Launched(id.clone()));
            }
        }
        let mut to_boot = Vec::new();
        let mut powered_off = Vec::new();
        for (id, instance) in &self.instances {
            if !instance.booted() && instance.launched_at.elapsed() >= self.spec.boot_delay {
                to_boot.push(id.clone());
            } else if instance.powered_off() {
                powered_off.push(id.clone());
            }
        }
        for id in to_boot {
            if let Some(instance) = self.instances.get_mut(&id) {
                instance.boot()?;
            }
            self.record(FleetEvent::Booted(id));
        }
        self.reclaim_spot().await?;
        for id in powered_off {
            if let Some(mut instance) = self.instances.remove(&id) {
                instance.terminate();
            }
            self.replace(&id).await?;
            self.record(FleetEvent::PoweredOff(id));
        }
        Ok(())
    }

    /// Terminates an instance in its group without decrement: the group launches another.
    async fn replace(&self, id: &str) -> Result<()> {
        self.asg
            .terminate_instance_in_auto_scaling_group()
            .instance_id(id)
            .should_decrement_desired_capacity(false)
            .send()
            .await
            .with_context(|| format!("cannot terminate {id} in the group"))?;
        Ok(())
    }

    /// Announces a spot interruption on an instance (its IMDS `spot/instance-action`), and
    /// reclaims it `lead` later as EC2 does: OS shutdown (SIGTERM to the agent, as the image's unit has systemd do), then, after
    /// [`SHUTDOWN_WAIT`], the machine goes and the group replaces it.
    pub fn spot_interrupt(&mut self, id: &str, lead: Duration) -> Result<()> {
        let instance = self
            .instances
            .get(id)
            .with_context(|| format!("no local instance {id}"))?;
        instance.imds().announce_spot_interruption(lead);
        self.reclaims.insert(
            id.to_owned(),
            Reclaim {
                at: Instant::now() + lead,
                signalled: false,
            },
        );
        self.record(FleetEvent::SpotNotice(id.to_owned()));
        Ok(())
    }

    async fn reclaim_spot(&mut self) -> Result<()> {
        let now = Instant::now();
        let mut gone = Vec::new();
        for (id, reclaim) in self.reclaims.iter_mut() {
            if now < reclaim.at {
                continue;
            }
            let Some(instance) = self.instances.get(id) else {
                // It left the group by itself (its shutdown hook) before the end.
                gone.push(id.clone());
                continue;
            };
            if !reclaim.signalled {
                instance.signal_shutdown();
                reclaim.signalled = true;
            } else if now >= reclaim.at + SHUTDOWN_WAIT {
                gone.push(id.clone());
            }
        }
        for id in gone {
            self.reclaims.remove(&id);
            if let Some(mut instance) = self.instances.remove(&id) {
                instance.terminate();
                self.replace(&id).await?;
                self.record(FleetEvent::SpotReclaimed(id));
            }
        }
        Ok(())
    }

    /// Kills an instance without warning, as a hardware failure would: its processes end at
    /// once (the agent cannot tell the hub), and the group replaces it.
    pub async fn kill(&mut self, id: &str) -> Result<()> {
        if let Some(mut instance) = self.instances.remove(id) {
            instance.terminate();
        }
        self.replace(id).await?;
        self.record(FleetEvent::Killed(id.to_owned()));
        Ok(())
    }

    /// The local instances now running.
    pub fn instances(&self) -> impl Iterator<Item = &LocalInstance> {
        self.instances.values()
    }

    /// One local instance.
    pub fn instance(&self, id: &str) -> Option<&LocalInstance> {
        self.instances.get(id)
    }

    /// Kills every local instance (the group is left as it is).
    pub fn shutdown(&mut self) {
        for (_, mut instance) in std::mem::take(&mut self.instances) {
            instance.terminate();
        }
    }
}

impl Drop for Ec2StandIn {
    fn drop(&mut self) {
        self.shutdown();
    }
}
