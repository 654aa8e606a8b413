//! Lifecycle cleanup: find what keeps running or accumulating after it is
//! needed — idle endpoints, notebooks and Studio apps, jobs over budget, orphaned models and endpoint
//! configs, expired objects under greenpipe's prefixes, buckets without lifecycle rules, log groups
//! without retention — and stop, delete or fix it, safely.
//!
//! This module is the pure part: [`config`] (settings), [`inventory`] (what was listed), [`plan`] (the
//! decisions, with reasons) and [`report`] (outcomes, totals, avoided footprint, restore manifests). The
//! SDK calls live in [`handler`].

pub mod actions;
pub mod config;
pub mod endpoint_restore;
pub mod handler;
pub mod inventory;
pub mod listing;
pub mod notice;
pub mod plan;
pub mod report;
#[cfg(test)]
mod tests;

pub use config::{
    Area, CleanupConfig, EventOverrides, Overrides, Scope, BUDGET_TAG, IDEMPOTENCY_WINDOW, KEEP_TAG, MARK_TAG,
};
pub use handler::{handle, run, CleanupIdle, Clock, Deps};
pub use inventory::{Detail, Epoch, Inventory, Resource, ResourceKind, Variant};
pub use plan::{plan, right_sizing, Action, Avoided, Decision, Plan, PlanItem, SkipReason, VariantSizing};
pub use report::{ActionRecord, CleanupReport, Outcome, RestoreManifest, Totals};
