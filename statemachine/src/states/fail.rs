//! Fail: ends the execution (or the branch) with an error name and cause, given literally or
//! through ErrorPath/CausePath (a path or an intrinsic function).

use crate::error::StatesError;
use crate::executor::Exec;
use crate::load::F;
use crate::template::Dynamic;
use serde_json::Value;

#[derive(Debug)]
enum Text {
    Absent,
    Lit(String),
    Dyn(Dynamic),
}

#[derive(Debug)]
pub(crate) struct Fail {
    error: Text,
    cause: Text,
}

fn text(f: &mut F<'_>, lit: &str, path: &str) -> Text {
    f.exclusive(lit, path);
    if let Some(s) = f.string(lit) {
        return Text::Lit(s);
    }
    match f.string(path) {
        None => Text::Absent,
        Some(p) => match Dynamic::parse(&p) {
            Ok(d) => Text::Dyn(d),
            Err(e) => {
                f.err(path, e);
                Text::Absent
            }
        },
    }
}

pub(crate) fn parse(f: &mut F<'_>) -> Option<Fail> {
    let error = text(f, "Error", "ErrorPath");
    let cause = text(f, "Cause", "CausePath");
    Some(Fail { error, cause })
}

impl Fail {
    /// The error this state raises; a failure to compute it is a States.Runtime error.
    pub(crate) fn error(
        &self,
        input: &Value,
        ctx: &Value,
        exec: &Exec<'_>,
    ) -> Result<StatesError, StatesError> {
        let eval = |t: &Text, field: &str| -> Result<Option<String>, StatesError> {
            match t {
                Text::Absent => Ok(None),
                Text::Lit(s) => Ok(Some(s.clone())),
                Text::Dyn(d) => match d.eval(field, &exec.env(input, ctx))? {
                    Value::String(s) => Ok(Some(s)),
                    other => Err(StatesError::runtime(format!(
                        "The value of the field '{field}' must be a string, but was {other}"
                    ))),
                },
            }
        };
        Ok(StatesError {
            error: eval(&self.error, "ErrorPath")?,
            cause: eval(&self.cause, "CausePath")?,
        })
    }
}
