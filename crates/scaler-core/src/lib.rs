//! The scaler's sizing decision: pure, no I/O, no async, no clock.
//!
//! The rules are the original scaler's (spec §1.7): the demand is the sum of the agent type's
//! jobs in every state; below the group's minimum the target is the minimum (no buffer);
//! otherwise the overprovision buffer is added and the result is capped at the maximum. The
//! scaler only ever raises the desired capacity: agents lower it themselves when they leave.

pub use stack_contract::scaler_env::Overprovision;

/// The Auto Scaling group as the tick found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupState {
    /// `AutoScalingGroupName`.
    pub name: String,
    /// `DesiredCapacity`.
    pub desired: u32,
    /// `MinSize`.
    pub min: u32,
    /// `MaxSize`.
    pub max: u32,
}

/// What the scaler decided for one tick.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    /// Jobs counted as demand (all states).
    pub demand: u64,
    /// The size the fleet should have: demand plus buffer, within min and max.
    pub target: u32,
    /// Whether to change the group.
    pub action: Action,
}

/// The change to make, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Raise the desired capacity from `from` to `to` (always `to > from`).
    ScaleUp {
        /// The desired capacity before.
        from: u32,
        /// The new desired capacity.
        to: u32,
    },
    /// Leave the group alone: it already has at least the target.
    Hold,
}

/// The fleet size for `demand` jobs: `min` when demand is below it, else demand plus the
/// buffer, never more than `max`.
pub fn target_size(demand: u64, min: u32, max: u32, overprovision: Overprovision) -> u32 {
    if demand < u64::from(min) {
        return min;
    }
    let wanted = overprovision.apply(demand);
    // `min <= max` in every real group; if someone managed otherwise, max wins, as in the
    // original.
    u32::try_from(wanted.min(u64::from(max))).unwrap_or(max)
}

/// Decides one tick: scale up to the target when it is above the current desired capacity.
pub fn decide(demand: u64, group: &GroupState, overprovision: Overprovision) -> Decision {
    let target = target_size(demand, group.min, group.max, overprovision);
    let action = if target > group.desired {
        Action::ScaleUp {
            from: group.desired,
            to: target,
        }
    } else {
        Action::Hold
    };
    Decision {
        demand,
        target,
        action,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn group(min: u32, max: u32, desired: u32) -> GroupState {
        GroupState {
            name: "g".into(),
            desired,
            min,
            max,
        }
    }

    /// Every worked example of spec §1.7, plus edges.
    #[test]
    fn worked_examples() {
        use Overprovision::*;
        // (min, max, strategy, queued + running, desired before, expected target, scales?)
        let cases: &[(u32, u32, Overprovision, u64, u32, u32, bool)] = &[
            (0, 5, None, 3, 0, 3, true),
            (0, 5, None, 2, 3, 2, false),
            (0, 5, None, 7, 2, 5, true),
            (0, 10, Number(2), 4, 4, 6, true),
            (0, 10, Number(2), 0, 0, 2, true),
            (2, 10, Number(2), 1, 2, 2, false),
            (2, 10, Number(2), 2, 2, 4, true),
            (0, 10, Percentage(50), 5, 5, 8, true),
            (0, 10, Percentage(10), 1, 0, 2, true),
            (0, 10, Percentage(50), 0, 0, 0, false),
            (0, 10, Percentage(300), 4, 3, 10, true),
            (1, 3, None, 0, 1, 1, false),
            // at max already: nothing to do even with huge demand
            (0, 5, None, 1000, 5, 5, false),
            // desired above max (max lowered by hand): never scale, never lower
            (0, 2, None, 10, 4, 2, false),
            // counts near the type's limits do not overflow
            (
                0,
                u32::MAX,
                Percentage(u32::MAX),
                u64::MAX,
                0,
                u32::MAX,
                true,
            ),
        ];
        for &(min, max, strategy, demand, desired, target, scales) in cases {
            let d = decide(demand, &group(min, max, desired), strategy);
            assert_eq!(
                d.target, target,
                "target for min={min} max={max} {strategy} demand={demand}"
            );
            let expected = if scales {
                Action::ScaleUp {
                    from: desired,
                    to: target,
                }
            } else {
                Action::Hold
            };
            assert_eq!(d.action, expected, "action for {d:?}");
        }
    }

    fn strategy() -> impl Strategy<Value = Overprovision> {
        prop_oneof![
            Just(Overprovision::None),
            (0u32..1000).prop_map(Overprovision::Number),
            (0u32..1000).prop_map(Overprovision::Percentage),
        ]
    }

    /// (min, max) with min <= max, as Auto Scaling enforces.
    fn limits() -> impl Strategy<Value = (u32, u32)> {
        (0u32..500, 0u32..500).prop_map(|(a, b)| (a.min(b), a.max(b)))
    }

    proptest! {
        #[test]
        fn never_above_max_nor_below_min(
            (min, max) in limits(), desired in 0u32..600, demand in 0u64..100_000, s in strategy()
        ) {
            let d = decide(demand, &group(min, max, desired), s);
            prop_assert!(d.target <= max);
            prop_assert!(d.target >= min);
            if let Action::ScaleUp { to, .. } = d.action {
                prop_assert!(to <= max && to >= min);
            }
        }

        #[test]
        fn never_lowers_the_desired_capacity(
            (min, max) in limits(), desired in 0u32..600, demand in 0u64..100_000, s in strategy()
        ) {
            let d = decide(demand, &group(min, max, desired), s);
            match d.action {
                Action::ScaleUp { from, to } => {
                    prop_assert_eq!(from, desired);
                    prop_assert!(to > desired);
                }
                Action::Hold => prop_assert!(d.target <= desired),
            }
        }

        #[test]
        fn monotone_in_demand(
            (min, max) in limits(), desired in 0u32..600,
            a in 0u64..100_000, b in 0u64..100_000, s in strategy()
        ) {
            let (low, high) = (a.min(b), a.max(b));
            let g = group(min, max, desired);
            prop_assert!(decide(low, &g, s).target <= decide(high, &g, s).target);
            // more demand never turns a scale-up into a hold
            if matches!(decide(low, &g, s).action, Action::ScaleUp { .. }) {
                let is_scale_up = matches!(decide(high, &g, s).action, Action::ScaleUp { .. });
                prop_assert!(is_scale_up);
            }
        }

        #[test]
        fn meets_demand_when_max_allows(
            (min, max) in limits(), demand in 0u64..100_000, s in strategy()
        ) {
            let target = target_size(demand, min, max, s);
            prop_assert!(u64::from(target) >= demand.min(u64::from(max)));
        }
    }
}
