//! CloudFormation's states as types: stack, resource and change-set statuses and change
//! actions, each parsed once from the SDK's own enum in [`crate::aws`], with one definition of
//! "settled", "failed" and "in progress" that the engine, the bootstrap and the CLI share.
//!
//! A value this crate does not know (a status AWS adds later) is kept as `Unknown(text)`,
//! never a panic; the predicates judge it by CloudFormation's naming (`*_IN_PROGRESS`,
//! `*_FAILED`, `*_COMPLETE`), which every status so far follows.

use std::fmt;

use aws_sdk_cloudformation::types as sdk;

/// Declares a status enum mirroring an SDK enum variant for variant: its text, its parser,
/// its conversion from the SDK type (a typo in a variant name does not compile), `Display`
/// and `Serialize` as CloudFormation's text.
macro_rules! status_enum {
    (
        $(#[$meta:meta])*
        $name:ident from $module:ident :: $sdk:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version does not know, as AWS sent it.
            Unknown(String),
        }

        impl $name {
            /// CloudFormation's text for it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Unknown(text) => text,
                }
            }

            /// Parses CloudFormation's text; unknown text is kept as `Unknown`.
            pub fn parse(text: &str) -> $name {
                match text {
                    $( $text => $name::$variant, )*
                    other => $name::Unknown(other.to_owned()),
                }
            }

            /// Converts the SDK's enum.
            pub fn from_sdk(value: &$module::$sdk) -> $name {
                match value {
                    $( $module::$sdk::$variant => $name::$variant, )*
                    other => $name::parse(other.as_str()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

status_enum! {
    /// A stack's status (`DescribeStacks`).
    StackStatus from sdk::StackStatus {
        /// `CREATE_IN_PROGRESS`.
        CreateInProgress = "CREATE_IN_PROGRESS",
        /// `CREATE_FAILED`: creation stopped without rolling back.
        CreateFailed = "CREATE_FAILED",
        /// `CREATE_COMPLETE`.
        CreateComplete = "CREATE_COMPLETE",
        /// `ROLLBACK_IN_PROGRESS`: the first creation failed and is being undone.
        RollbackInProgress = "ROLLBACK_IN_PROGRESS",
        /// `ROLLBACK_FAILED`: the first creation failed and so did its rollback.
        RollbackFailed = "ROLLBACK_FAILED",
        /// `ROLLBACK_COMPLETE`: the first creation failed; the stack can only be deleted.
        RollbackComplete = "ROLLBACK_COMPLETE",
        /// `DELETE_IN_PROGRESS`.
        DeleteInProgress = "DELETE_IN_PROGRESS",
        /// `DELETE_FAILED`.
        DeleteFailed = "DELETE_FAILED",
        /// `DELETE_COMPLETE`.
        DeleteComplete = "DELETE_COMPLETE",
        /// `UPDATE_IN_PROGRESS`.
        UpdateInProgress = "UPDATE_IN_PROGRESS",
        /// `UPDATE_COMPLETE_CLEANUP_IN_PROGRESS`.
        UpdateCompleteCleanupInProgress = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        /// `UPDATE_COMPLETE`.
        UpdateComplete = "UPDATE_COMPLETE",
        /// `UPDATE_FAILED`: an update stopped without rolling back.
        UpdateFailed = "UPDATE_FAILED",
        /// `UPDATE_ROLLBACK_IN_PROGRESS`.
        UpdateRollbackInProgress = "UPDATE_ROLLBACK_IN_PROGRESS",
        /// `UPDATE_ROLLBACK_FAILED`: an update failed and so did its rollback.
        UpdateRollbackFailed = "UPDATE_ROLLBACK_FAILED",
        /// `UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS`.
        UpdateRollbackCompleteCleanupInProgress = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        /// `UPDATE_ROLLBACK_COMPLETE`: an update failed; the previous state is back.
        UpdateRollbackComplete = "UPDATE_ROLLBACK_COMPLETE",
        /// `REVIEW_IN_PROGRESS`: an empty stack holding a change set that was never executed.
        ReviewInProgress = "REVIEW_IN_PROGRESS",
        /// `IMPORT_IN_PROGRESS`.
        ImportInProgress = "IMPORT_IN_PROGRESS",
        /// `IMPORT_COMPLETE`.
        ImportComplete = "IMPORT_COMPLETE",
        /// `IMPORT_ROLLBACK_IN_PROGRESS`.
        ImportRollbackInProgress = "IMPORT_ROLLBACK_IN_PROGRESS",
        /// `IMPORT_ROLLBACK_FAILED`.
        ImportRollbackFailed = "IMPORT_ROLLBACK_FAILED",
        /// `IMPORT_ROLLBACK_COMPLETE`.
        ImportRollbackComplete = "IMPORT_ROLLBACK_COMPLETE",
    }
}

/// What an existing stack allows before a deploy, decided from its status alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Settled in a state a change set can update.
    Updatable,
    /// An empty stack (`REVIEW_IN_PROGRESS`): created through a `CREATE` change set.
    Empty,
    /// Another operation runs on it.
    Busy,
    /// Its first creation failed (`ROLLBACK_COMPLETE`, `ROLLBACK_FAILED`): it can only be
    /// deleted and created again.
    CreationFailed,
    /// An update's rollback failed: the rollback must be continued first.
    RollbackFailed,
    /// A delete failed: it can only be deleted.
    DeleteFailed,
    /// An operation stopped without rolling back (`CREATE_FAILED`, `UPDATE_FAILED`,
    /// `IMPORT_ROLLBACK_FAILED`): it must be rolled back by hand.
    Stopped,
    /// Deleted.
    Deleted,
}

impl StackStatus {
    /// An operation is running (`*_IN_PROGRESS`, including an empty stack under review).
    pub fn is_in_progress(&self) -> bool {
        self.as_str().ends_with("_IN_PROGRESS")
    }

    /// No operation is running: the status will not change by itself.
    pub fn is_settled(&self) -> bool {
        !self.is_in_progress()
    }

    /// The last operation did not do what was asked: it failed, was rolled back, or is being
    /// rolled back.
    pub fn is_failed(&self) -> bool {
        self.as_str().ends_with("_FAILED") || self.is_rollback()
    }

    /// A rollback state (`ROLLBACK_*`, `UPDATE_ROLLBACK_*`, `IMPORT_ROLLBACK_*`).
    pub fn is_rollback(&self) -> bool {
        self.as_str().contains("ROLLBACK")
    }

    /// A create, update or import finished as asked.
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            StackStatus::CreateComplete | StackStatus::UpdateComplete | StackStatus::ImportComplete
        )
    }

    /// Settled on a template that works: the last good template is deployed (a rolled-back
    /// update counts, its previous state is back).
    pub fn is_usable(&self) -> bool {
        matches!(
            self,
            StackStatus::CreateComplete
                | StackStatus::UpdateComplete
                | StackStatus::UpdateRollbackComplete
                | StackStatus::ImportComplete
                | StackStatus::ImportRollbackComplete
        )
    }

    /// The stack is gone.
    pub fn is_deleted(&self) -> bool {
        *self == StackStatus::DeleteComplete
    }

    /// What a deploy can do with a stack in this status.
    pub fn readiness(&self) -> Readiness {
        match self {
            StackStatus::ReviewInProgress => Readiness::Empty,
            StackStatus::RollbackComplete | StackStatus::RollbackFailed => {
                Readiness::CreationFailed
            }
            StackStatus::UpdateRollbackFailed => Readiness::RollbackFailed,
            StackStatus::DeleteFailed => Readiness::DeleteFailed,
            StackStatus::CreateFailed
            | StackStatus::UpdateFailed
            | StackStatus::ImportRollbackFailed => Readiness::Stopped,
            StackStatus::DeleteComplete => Readiness::Deleted,
            s if s.is_in_progress() => Readiness::Busy,
            _ => Readiness::Updatable,
        }
    }
}

status_enum! {
    /// A resource's status, in stack events and resource lists. Stack-level events carry
    /// stack statuses here; the ones that are not resource statuses too
    /// (`UPDATE_COMPLETE_CLEANUP_IN_PROGRESS`, …) are `Unknown` and judged by their suffix.
    ResourceStatus from sdk::ResourceStatus {
        /// `CREATE_IN_PROGRESS`.
        CreateInProgress = "CREATE_IN_PROGRESS",
        /// `CREATE_FAILED`.
        CreateFailed = "CREATE_FAILED",
        /// `CREATE_COMPLETE`.
        CreateComplete = "CREATE_COMPLETE",
        /// `DELETE_IN_PROGRESS`.
        DeleteInProgress = "DELETE_IN_PROGRESS",
        /// `DELETE_FAILED`.
        DeleteFailed = "DELETE_FAILED",
        /// `DELETE_COMPLETE`.
        DeleteComplete = "DELETE_COMPLETE",
        /// `DELETE_SKIPPED`: retained on delete.
        DeleteSkipped = "DELETE_SKIPPED",
        /// `UPDATE_IN_PROGRESS`.
        UpdateInProgress = "UPDATE_IN_PROGRESS",
        /// `UPDATE_FAILED`.
        UpdateFailed = "UPDATE_FAILED",
        /// `UPDATE_COMPLETE`.
        UpdateComplete = "UPDATE_COMPLETE",
        /// `IMPORT_IN_PROGRESS`.
        ImportInProgress = "IMPORT_IN_PROGRESS",
        /// `IMPORT_FAILED`.
        ImportFailed = "IMPORT_FAILED",
        /// `IMPORT_COMPLETE`.
        ImportComplete = "IMPORT_COMPLETE",
        /// `IMPORT_ROLLBACK_IN_PROGRESS`.
        ImportRollbackInProgress = "IMPORT_ROLLBACK_IN_PROGRESS",
        /// `IMPORT_ROLLBACK_FAILED`.
        ImportRollbackFailed = "IMPORT_ROLLBACK_FAILED",
        /// `IMPORT_ROLLBACK_COMPLETE`.
        ImportRollbackComplete = "IMPORT_ROLLBACK_COMPLETE",
        /// `EXPORT_IN_PROGRESS`.
        ExportInProgress = "EXPORT_IN_PROGRESS",
        /// `EXPORT_FAILED`.
        ExportFailed = "EXPORT_FAILED",
        /// `EXPORT_COMPLETE`.
        ExportComplete = "EXPORT_COMPLETE",
        /// `EXPORT_ROLLBACK_IN_PROGRESS`.
        ExportRollbackInProgress = "EXPORT_ROLLBACK_IN_PROGRESS",
        /// `EXPORT_ROLLBACK_FAILED`.
        ExportRollbackFailed = "EXPORT_ROLLBACK_FAILED",
        /// `EXPORT_ROLLBACK_COMPLETE`.
        ExportRollbackComplete = "EXPORT_ROLLBACK_COMPLETE",
        /// `ROLLBACK_IN_PROGRESS` (stack events).
        RollbackInProgress = "ROLLBACK_IN_PROGRESS",
        /// `ROLLBACK_FAILED` (stack events).
        RollbackFailed = "ROLLBACK_FAILED",
        /// `ROLLBACK_COMPLETE` (stack events).
        RollbackComplete = "ROLLBACK_COMPLETE",
        /// `UPDATE_ROLLBACK_IN_PROGRESS` (stack events).
        UpdateRollbackInProgress = "UPDATE_ROLLBACK_IN_PROGRESS",
        /// `UPDATE_ROLLBACK_FAILED` (stack events).
        UpdateRollbackFailed = "UPDATE_ROLLBACK_FAILED",
        /// `UPDATE_ROLLBACK_COMPLETE` (stack events).
        UpdateRollbackComplete = "UPDATE_ROLLBACK_COMPLETE",
    }
}

impl ResourceStatus {
    /// Work on the resource is under way.
    pub fn is_in_progress(&self) -> bool {
        self.as_str().ends_with("_IN_PROGRESS")
    }

    /// The resource's part of the operation ended, well or not.
    pub fn is_settled(&self) -> bool {
        !self.is_in_progress()
    }

    /// The operation on the resource failed.
    pub fn is_failed(&self) -> bool {
        self.as_str().ends_with("_FAILED")
    }

    /// The operation on the resource completed (a rollback completing included).
    pub fn is_complete(&self) -> bool {
        self.as_str().ends_with("_COMPLETE") || *self == ResourceStatus::DeleteSkipped
    }

    /// Part of a rollback.
    pub fn is_rollback(&self) -> bool {
        self.as_str().contains("ROLLBACK")
    }

    /// Completed as asked (not a rollback).
    pub fn is_success(&self) -> bool {
        self.is_complete() && !self.is_rollback()
    }

    /// The resource no longer exists.
    pub fn is_deleted(&self) -> bool {
        *self == ResourceStatus::DeleteComplete
    }
}

status_enum! {
    /// A change set's status (`DescribeChangeSet`).
    ChangeSetStatus from sdk::ChangeSetStatus {
        /// `CREATE_PENDING`.
        CreatePending = "CREATE_PENDING",
        /// `CREATE_IN_PROGRESS`.
        CreateInProgress = "CREATE_IN_PROGRESS",
        /// `CREATE_COMPLETE`: ready to execute.
        CreateComplete = "CREATE_COMPLETE",
        /// `FAILED`: CloudFormation refused it (or it holds no changes).
        Failed = "FAILED",
        /// `DELETE_PENDING`.
        DeletePending = "DELETE_PENDING",
        /// `DELETE_IN_PROGRESS`.
        DeleteInProgress = "DELETE_IN_PROGRESS",
        /// `DELETE_FAILED`.
        DeleteFailed = "DELETE_FAILED",
        /// `DELETE_COMPLETE`.
        DeleteComplete = "DELETE_COMPLETE",
    }
}

impl ChangeSetStatus {
    /// Still being computed or deleted.
    pub fn is_in_progress(&self) -> bool {
        self.as_str().ends_with("_PENDING") || self.as_str().ends_with("_IN_PROGRESS")
    }

    /// No longer changing by itself.
    pub fn is_settled(&self) -> bool {
        !self.is_in_progress()
    }

    /// Computed and ready to execute.
    pub fn is_ready(&self) -> bool {
        *self == ChangeSetStatus::CreateComplete
    }

    /// Refused, or its deletion failed.
    pub fn is_failed(&self) -> bool {
        self.as_str().ends_with("FAILED")
    }
}

status_enum! {
    /// What a change set does to a resource.
    ChangeAction from sdk::ChangeAction {
        /// `Add`.
        Add = "Add",
        /// `Modify`.
        Modify = "Modify",
        /// `Remove`.
        Remove = "Remove",
        /// `Import`.
        Import = "Import",
        /// `Dynamic`: decided at execution (a value resolved at deploy time).
        Dynamic = "Dynamic",
        /// `SyncWithActual`.
        SyncWithActual = "SyncWithActual",
    }
}

impl ChangeAction {
    /// The resource stays and may change (`Modify`, `Dynamic`).
    pub fn is_modification(&self) -> bool {
        matches!(self, ChangeAction::Modify | ChangeAction::Dynamic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_status_predicates() {
        // (name, status, in progress, failed, success, usable)
        let cases = [
            (
                "a finished create succeeded",
                "CREATE_COMPLETE",
                false,
                false,
                true,
                true,
            ),
            (
                "a finished update succeeded",
                "UPDATE_COMPLETE",
                false,
                false,
                true,
                true,
            ),
            (
                "an update cleaning up is still running",
                "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
                true,
                false,
                false,
                false,
            ),
            (
                "a rolled-back update failed but is usable",
                "UPDATE_ROLLBACK_COMPLETE",
                false,
                true,
                false,
                true,
            ),
            (
                "a rolling-back update has failed already",
                "UPDATE_ROLLBACK_IN_PROGRESS",
                true,
                true,
                false,
                false,
            ),
            (
                "a failed rollback is failed and unusable",
                "UPDATE_ROLLBACK_FAILED",
                false,
                true,
                false,
                false,
            ),
            (
                "a failed first creation is failed",
                "ROLLBACK_COMPLETE",
                false,
                true,
                false,
                false,
            ),
            (
                "a stopped create is failed",
                "CREATE_FAILED",
                false,
                true,
                false,
                false,
            ),
            (
                "a delete in progress is running",
                "DELETE_IN_PROGRESS",
                true,
                false,
                false,
                false,
            ),
            (
                "an empty stack under review counts as running",
                "REVIEW_IN_PROGRESS",
                true,
                false,
                false,
                false,
            ),
            (
                "an unknown running status is judged by its suffix",
                "MIGRATE_IN_PROGRESS",
                true,
                false,
                false,
                false,
            ),
            (
                "an unknown failed status is judged by its suffix",
                "MIGRATE_FAILED",
                false,
                true,
                false,
                false,
            ),
        ];
        for (name, text, in_progress, failed, success, usable) in cases {
            let s = StackStatus::parse(text);
            assert_eq!(s.is_in_progress(), in_progress, "{name}: in progress");
            assert_eq!(s.is_settled(), !in_progress, "{name}: settled");
            assert_eq!(s.is_failed(), failed, "{name}: failed");
            assert_eq!(s.is_success(), success, "{name}: success");
            assert_eq!(s.is_usable(), usable, "{name}: usable");
            assert_eq!(s.as_str(), text, "{name}: text round trip");
        }
    }

    #[test]
    fn stack_readiness() {
        let cases = [
            (
                "a complete stack is updated",
                "UPDATE_COMPLETE",
                Readiness::Updatable,
            ),
            (
                "a rolled-back update is updated",
                "UPDATE_ROLLBACK_COMPLETE",
                Readiness::Updatable,
            ),
            (
                "an empty stack takes a create change set",
                "REVIEW_IN_PROGRESS",
                Readiness::Empty,
            ),
            (
                "a running update is busy",
                "UPDATE_IN_PROGRESS",
                Readiness::Busy,
            ),
            (
                "a cleanup is busy",
                "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
                Readiness::Busy,
            ),
            (
                "a failed first creation must be recreated",
                "ROLLBACK_COMPLETE",
                Readiness::CreationFailed,
            ),
            (
                "a failed first rollback must be recreated",
                "ROLLBACK_FAILED",
                Readiness::CreationFailed,
            ),
            (
                "a failed rollback is continued",
                "UPDATE_ROLLBACK_FAILED",
                Readiness::RollbackFailed,
            ),
            (
                "a failed delete can only be deleted",
                "DELETE_FAILED",
                Readiness::DeleteFailed,
            ),
            (
                "a stopped update is rolled back by hand",
                "UPDATE_FAILED",
                Readiness::Stopped,
            ),
            (
                "a deleted stack is gone",
                "DELETE_COMPLETE",
                Readiness::Deleted,
            ),
            (
                "an unknown running status is busy",
                "MIGRATE_IN_PROGRESS",
                Readiness::Busy,
            ),
        ];
        for (name, text, expected) in cases {
            assert_eq!(StackStatus::parse(text).readiness(), expected, "{name}");
        }
    }

    #[test]
    fn sdk_values_convert_variant_for_variant() {
        let cases = [
            (
                "known",
                sdk::StackStatus::UpdateRollbackFailed,
                StackStatus::UpdateRollbackFailed,
            ),
            (
                "cleanup",
                sdk::StackStatus::UpdateCompleteCleanupInProgress,
                StackStatus::UpdateCompleteCleanupInProgress,
            ),
            (
                "unknown to the SDK",
                sdk::StackStatus::from("FUTURE_COMPLETE"),
                StackStatus::Unknown("FUTURE_COMPLETE".into()),
            ),
        ];
        for (name, value, expected) in cases {
            assert_eq!(StackStatus::from_sdk(&value), expected, "{name}");
        }
        // Every SDK value parses to the variant of the same name, and back to the same text.
        for value in sdk::StackStatus::values() {
            let ours = StackStatus::parse(value);
            assert!(!matches!(ours, StackStatus::Unknown(_)), "{value} is known");
            assert_eq!(ours.as_str(), *value);
        }
        for value in sdk::ResourceStatus::values() {
            let ours = ResourceStatus::parse(value);
            assert!(
                !matches!(ours, ResourceStatus::Unknown(_)),
                "{value} is known"
            );
            assert_eq!(
                ours,
                ResourceStatus::from_sdk(&sdk::ResourceStatus::from(*value))
            );
        }
        for value in sdk::ChangeSetStatus::values() {
            assert!(
                !matches!(ChangeSetStatus::parse(value), ChangeSetStatus::Unknown(_)),
                "{value}"
            );
        }
        for value in sdk::ChangeAction::values() {
            assert!(
                !matches!(ChangeAction::parse(value), ChangeAction::Unknown(_)),
                "{value}"
            );
        }
    }

    #[test]
    fn resource_status_predicates() {
        // (name, status, in progress, failed, complete, success)
        let cases = [
            ("created", "CREATE_COMPLETE", false, false, true, true),
            ("creating", "CREATE_IN_PROGRESS", true, false, false, false),
            ("update failed", "UPDATE_FAILED", false, true, false, false),
            (
                "rolled back",
                "UPDATE_ROLLBACK_COMPLETE",
                false,
                false,
                true,
                false,
            ),
            (
                "retained on delete",
                "DELETE_SKIPPED",
                false,
                false,
                true,
                true,
            ),
            (
                "a stack-only status from an event",
                "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
                true,
                false,
                false,
                false,
            ),
        ];
        for (name, text, in_progress, failed, complete, success) in cases {
            let s = ResourceStatus::parse(text);
            assert_eq!(s.is_in_progress(), in_progress, "{name}: in progress");
            assert_eq!(s.is_settled(), !in_progress, "{name}: settled");
            assert_eq!(s.is_failed(), failed, "{name}: failed");
            assert_eq!(s.is_complete(), complete, "{name}: complete");
            assert_eq!(s.is_success(), success, "{name}: success");
        }
    }

    #[test]
    fn change_set_status_predicates() {
        // (name, status, in progress, ready, failed)
        let cases = [
            ("pending", "CREATE_PENDING", true, false, false),
            ("computing", "CREATE_IN_PROGRESS", true, false, false),
            ("ready", "CREATE_COMPLETE", false, true, false),
            ("refused", "FAILED", false, false, true),
            ("deletion failed", "DELETE_FAILED", false, false, true),
        ];
        for (name, text, in_progress, ready, failed) in cases {
            let s = ChangeSetStatus::parse(text);
            assert_eq!(s.is_in_progress(), in_progress, "{name}: in progress");
            assert_eq!(s.is_settled(), !in_progress, "{name}: settled");
            assert_eq!(s.is_ready(), ready, "{name}: ready");
            assert_eq!(s.is_failed(), failed, "{name}: failed");
        }
    }

    #[test]
    fn statuses_serialize_as_cloudformation_text() {
        let json = serde_json::to_string(&StackStatus::UpdateRollbackComplete).expect("json");
        assert_eq!(json, "\"UPDATE_ROLLBACK_COMPLETE\"");
        let json =
            serde_json::to_string(&ResourceStatus::Unknown("X_FAILED".into())).expect("json");
        assert_eq!(json, "\"X_FAILED\"");
    }
}
