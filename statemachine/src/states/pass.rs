//! Pass: passes its input (or `Result`, or its Parameters) on, through ResultPath/OutputPath.

use crate::load::F;
use serde_json::Value;

#[derive(Debug)]
pub(crate) struct Pass {
    /// `Result`, when given, replaces the effective input as the state's result.
    pub result: Option<Value>,
}

pub(crate) fn parse(f: &mut F<'_>) -> Option<Pass> {
    Some(Pass {
        result: f.get("Result").cloned(),
    })
}
