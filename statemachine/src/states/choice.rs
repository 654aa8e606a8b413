//! Choice: the first matching rule picks the next state; otherwise `Default`, otherwise
//! `States.NoChoiceMatched`.

use crate::choice::{parse_rule, Choice};
use crate::error::{names, StatesError};
use crate::load::F;
use serde_json::Value;

#[derive(Debug)]
pub(crate) struct ChoiceState {
    pub choices: Vec<Choice>,
    pub default: Option<String>,
}

pub(crate) fn parse(f: &mut F<'_>) -> Option<ChoiceState> {
    let default = f.string("Default");
    let Some(list) = f.get("Choices").and_then(Value::as_array).cloned() else {
        f.err("Choices", "is required and must be a non-empty array of rules");
        return None;
    };
    if list.is_empty() {
        f.err("Choices", "must contain at least one rule");
    }
    let mut choices = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let Some(o) = r.as_object() else {
            f.err("Choices", format!("[{i}] must be a rule object"));
            continue;
        };
        match parse_rule(o, true, 0) {
            Ok((rule, Some(next))) => choices.push(Choice { rule, next }),
            Ok((_, None)) => f.err("Choices", format!("[{i}] needs 'Next'")),
            Err(e) => f.err("Choices", format!("[{i}]: {e}")),
        }
    }
    Some(ChoiceState { choices, default })
}

impl ChoiceState {
    pub(crate) fn choose(&self, input: &Value, ctx: &Value) -> Result<String, StatesError> {
        for c in &self.choices {
            if c.rule.eval(input, ctx)? {
                return Ok(c.next.clone());
            }
        }
        self.default.clone().ok_or_else(|| {
            StatesError::new(
                names::NO_CHOICE_MATCHED,
                "No Choice Rules matched and no Default was specified".to_string(),
            )
        })
    }
}
