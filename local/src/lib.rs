//! What `greenpipe exec` and `greenpipe run` need beyond the state machine interpreter
//! (`greenpipe-statemachine`): the Task integrations that reach AWS ([`tasks`] for Lambda and greenpipe's
//! own stages, [`sagemaker`] for Step Functions' optimized SageMaker integrations) and the stack as
//! `infra/template.yaml` deploys it ([`deployed`]); and [`notebooks`], which attaches the stack's notebook
//! lifecycle configuration. The CLI holds the commands; this crate, what they run.

pub mod deployed;
pub mod notebooks;
pub mod sagemaker;
pub mod tasks;
